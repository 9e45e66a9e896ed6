/*
 * worker: a multi-threaded guest.  WORKERS threads each sum a slice of an
 * array, adding every element to a shared total under a mutex (a plain
 * read-modify-write, so a broken mutex loses updates when a thread is
 * preempted inside it).  The main thread holds the mutex while it starts
 * them, so every worker first blocks in mutex_lock and the mutex is then
 * handed from thread to thread.  After thread_join of all, the total
 * must equal the sum computed by the main thread alone and each
 * thread's partial sum that of its slice; a second round reuses the
 * freed thread slots.  Logs "worker: round R total T ok" and exits 0,
 * or exits 1 on any mismatch.  The ROM "worker.rounds", if there is one,
 * sets the number of rounds (tests/cr/worker_restore.sh: many thread
 * creations under checkpoints).
 */
#include <base/env.h>
#include <base/thread.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WORKERS	 4
#define ELEMENTS 8192
#define ROUNDS	 2
#define HOLD_US	 20000

struct slice {
	const uint32_t *p;
	unsigned n;
	uint64_t partial;
	struct thread *self; /* thread_self() as the thread saw it */
};

static uint32_t data[ELEMENTS];
static struct mutex total_lock = MUTEX_INIT;
static volatile uint64_t total;

static void work(void *arg)
{
	struct slice *s = arg;
	uint64_t sum = 0;

	s->self = thread_self();
	for (unsigned i = 0; i < s->n; i++) {
		mutex_lock(&total_lock);
		uint64_t v = total; /* deliberately not atomic */
		total = v + s->p[i];
		mutex_unlock(&total_lock);
		sum += s->p[i];
	}
	s->partial = sum;
}

static void sleep_us(uint64_t us)
{
	uint64_t label;

	sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), us, &label);
}

/* One round: start, hand over the mutex, join, check.  0 if all agree. */
static int round_run(struct env *env, int round)
{
	struct slice s[WORKERS];
	struct thread *t[WORKERS];
	uint64_t expect = 0, per = ELEMENTS / WORKERS;
	int bad = 0, err;

	total = 0;
	mutex_lock(&total_lock);
	for (unsigned i = 0; i < WORKERS; i++) {
		s[i] = (struct slice){.p = &data[i * per], .n = per};
		err = thread_create(env, "worker", work, &s[i], 0, &t[i]);
		if (err) {
			env_log(env, "worker: thread_create %u failed: %d", i, err);
			env_exit(env, 1);
		}
	}
	sleep_us(HOLD_US); /* let them all block on the mutex */
	mutex_unlock(&total_lock);
	for (unsigned i = 0; i < WORKERS; i++) {
		err = thread_join(t[i]);
		if (err) {
			env_log(env, "worker: thread_join %u failed: %d", i, err);
			bad = 1;
		}
	}
	for (unsigned i = 0; i < WORKERS; i++) {
		uint64_t part = 0;

		for (unsigned j = 0; j < s[i].n; j++)
			part += s[i].p[j];
		expect += part;
		if (s[i].partial != part || !s[i].self || s[i].self != t[i]) {
			env_log(env, "worker: thread %u: partial %llu, want %llu", i,
				(unsigned long long)s[i].partial,
				(unsigned long long)part);
			bad = 1;
		}
	}
	env_log(env, "worker: round %d total %llu %s", round, (unsigned long long)total,
		total == expect && !bad ? "ok" : "WRONG");
	return total == expect && !bad ? 0 : 1;
}

/* The ROM "worker.rounds" if there is one, else ROUNDS. */
static unsigned rounds(struct env *env)
{
	cap_t rom, ds;
	uint64_t size, at;
	char buf[16] = {0};
	unsigned n = 0;

	if (env_session(env, "ROM", "label=\"worker.rounds\"", &rom))
		return ROUNDS;
	if (!rom_dataspace(rom, &ds, &size)) {
		if (!pd_attach(env->pd, ds, 0, 0, 0, MEM_R, &at)) {
			memcpy(buf, (const void *)(uintptr_t)at,
			       size < sizeof buf - 1 ? size : sizeof buf - 1);
			n = (unsigned)strtoul(buf, NULL, 10);
			pd_detach(env->pd, at);
		}
		cap_release(ds);
	}
	parent_close(env->parent, rom);
	cap_release(rom);
	return n ? n : ROUNDS;
}

void component_construct(struct env *env)
{
	unsigned n = rounds(env);
	int bad = 0;

	for (unsigned i = 0; i < ELEMENTS; i++)
		data[i] = (i * 2654435761u) >> 16;
	if (!thread_self() || thread_join(thread_self()) != -EINVAL) {
		env_log(env, "worker: main thread has no thread object");
		env_exit(env, 1);
	}
	for (int r = 1; r <= (int)n; r++)
		bad |= round_run(env, r);
	env_exit(env, bad);
}
