/*
 * Benchmark guest: N ticks of a 10 ms timer (N from the ROM
 * "bench.count"), then exit.  The host compares the node's wall time
 * for two values of N against N * period.  "N" alone: a periodic timer;
 * "N oneshot": a one-shot re-armed in each handler, so every tick adds
 * the delivery latency.  The guest also logs how far the timer session's
 * own clock says the ticks were from N * period.
 */
#include <base/env.h>
#include <base/timer.h>

#include "../bench_ping/bench_count.h"

/* 1 if the ROM "bench.count" says "oneshot" after the number */
static int bench_oneshot(struct env *env)
{
	cap_t rom, ds;
	uint64_t size, at;
	char buf[32] = {0};

	if (env_session(env, "ROM", "label=\"bench.count\"", &rom) ||
	    rom_dataspace(rom, &ds, &size) || pd_attach(env->pd, ds, 0, 0, 0, MEM_R, &at))
		return 0;
	memcpy(buf, (const void *)at, size < sizeof buf - 1 ? size : sizeof buf - 1);
	return strstr(buf, "oneshot") != NULL;
}

#define PERIOD_US 10000ULL

static struct env *tm_env;
static struct signal_handler handler;
static cap_t timer;
static uint64_t ticks, want, start_us;
static int oneshot;

static void on_tick(void *arg, unsigned count)
{
	uint64_t now = 0;

	ticks += count;
	if (ticks < want) {
		if (oneshot)
			timer_oneshot(timer, PERIOD_US);
		return;
	}
	timer_periodic(timer, 0);
	timer_elapsed_us(timer, &now);
	env_log(tm_env, "timer: %llu ticks in %llu us (expected %llu us)",
		(unsigned long long)ticks, (unsigned long long)(now - start_us),
		(unsigned long long)(want * PERIOD_US));
	env_exit(tm_env, 0);
}

void component_construct(struct env *env)
{
	int rc;

	tm_env = env;
	want = bench_count(env);
	oneshot = bench_oneshot(env);
	if ((rc = timer_connect(env, &timer)) ||
	    (rc = signal_handler_init(env, &handler, on_tick, NULL)) ||
	    (rc = timer_sigh(timer, handler.context)) ||
	    (rc = timer_elapsed_us(timer, &start_us)) ||
	    (rc = oneshot ? timer_oneshot(timer, PERIOD_US)
			  : timer_periodic(timer, PERIOD_US))) {
		env_log(env, "timer: set-up failed (%d)", rc);
		env_exit(env, 1);
	}
}
