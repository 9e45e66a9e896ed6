/*
 * ticker: a periodic timer of 20 ms delivered as signals.  Logs "tick N"
 * for N = 1..5 (a count > 1, i.e. coalesced ticks, logs each), checks
 * that the time the timer session reports for the five ticks is
 * plausible (at least 5 periods, less than a second), stops the timer
 * and exits.
 */
#include <base/env.h>
#include <base/timer.h>

#define TICK_US	 20000ULL
#define TICKS	 5
#define SLACK_US 1000000ULL

static struct env *tick_env;
static struct signal_handler tick_handler;
static cap_t timer;
static uint64_t start_us;
static unsigned ticks;

static void fail(const char *what, int rc)
{
	env_log(tick_env, "ticker: %s failed (%d)", what, rc);
	env_exit(tick_env, 1);
}

static void on_tick(void *arg, unsigned count)
{
	uint64_t now, took;
	int rc;

	while (count-- && ticks < TICKS)
		env_log(tick_env, "tick %u", ++ticks);
	if (ticks < TICKS)
		return;
	if ((rc = timer_periodic(timer, 0)))
		fail("stop", rc);
	if ((rc = timer_elapsed_us(timer, &now)))
		fail("elapsed", rc);
	took = now - start_us;
	if (took < TICKS * TICK_US || took > TICKS * TICK_US + SLACK_US) {
		env_log(tick_env, "ticker: %u ticks took %llu us: implausible", TICKS,
			(unsigned long long)took);
		env_exit(tick_env, 1);
	}
	env_log(tick_env, "ticker: %u ticks of %llu ms took plausible time", TICKS,
		(unsigned long long)(TICK_US / 1000));
	env_exit(tick_env, 0);
}

void component_construct(struct env *env)
{
	int rc;

	tick_env = env;
	if ((rc = timer_connect(env, &timer)))
		fail("Timer session", rc);
	if ((rc = signal_handler_init(env, &tick_handler, on_tick, NULL)))
		fail("signal handler", rc);
	if ((rc = timer_sigh(timer, tick_handler.context)))
		fail("sigh", rc);
	if ((rc = timer_elapsed_us(timer, &start_us)))
		fail("elapsed", rc);
	if ((rc = timer_periodic(timer, TICK_US)))
		fail("periodic", rc);
	env_log(env, "ticker: periodic timer of %llu ms started",
		(unsigned long long)(TICK_US / 1000));
}
