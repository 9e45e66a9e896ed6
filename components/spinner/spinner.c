/*
 * spinner: busy threads that never block, to load a node.  N threads
 * (ROM "spin.threads", default 1) compute in a loop without system calls
 * while the main thread sleeps for M ms (ROM "spin.ms", default 1000);
 * then it stops them, joins them and logs
 *
 *   spinner: N threads spun M ms, R rounds
 *
 * (R: how many rounds of work they did, so a spinner that never ran
 * shows 0) and exits 0.  Used by the priority tests and bench_prio: a
 * higher-priority ticker beside it must stay on time.
 */
#include <base/env.h>
#include <base/thread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_THREADS 128
#define ROUND	    (1u << 16)

static volatile int stop;
static volatile uint64_t rounds[MAX_THREADS], sink;

static void spin(void *arg)
{
	volatile uint64_t *mine = arg;
	uint64_t x = 1;

	while (!stop) {
		for (unsigned i = 0; i < ROUND; i++)
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		sink = x; /* the loop's result is used: it is not optimised out */
		*mine += 1;
	}
}

void component_construct(struct env *env)
{
	uint64_t n = env_rom_number(env, "spin.threads", 1),
		 ms = env_rom_number(env, "spin.ms", 1000);
	struct thread *t[MAX_THREADS];
	uint64_t label, total = 0;

	if (n < 1 || n > MAX_THREADS) {
		env_log(env, "spinner: spin.threads %llu not in 1..%u",
			(unsigned long long)n, MAX_THREADS);
		env_exit(env, 2);
	}
	for (uint64_t i = 0; i < n; i++)
		if (thread_create(env, "spin", spin, (void *)&rounds[i], 0, &t[i])) {
			env_log(env, "spinner: thread_create %llu failed",
				(unsigned long long)i);
			env_exit(env, 1);
		}
	sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), ms * 1000, &label);
	stop = 1;
	for (uint64_t i = 0; i < n; i++) {
		thread_join(t[i]);
		total += rounds[i];
	}
	env_log(env, "spinner: %llu threads spun %llu ms, %llu rounds",
		(unsigned long long)n, (unsigned long long)ms, (unsigned long long)total);
	env_exit(env, 0);
}
