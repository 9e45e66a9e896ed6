/*
 * libbase threads, mutex and blockade on a real kernel and core: each case
 * boots a node whose init is a native function of this test; it creates
 * native threads through its CPU session (base/thread.c), so every thread
 * has its own irq from core and blocks in a closed wait on it.  Native
 * threads are coroutines, so contention is made by sleeping inside the
 * critical section.  The first failing check is reported after
 * kernel_boot.
 */
#include <base/env.h>
#include <base/sessions.h>
#include <base/thread.h>

struct tcase {
	int (*run)(struct env *env, struct tcase *t);
	int fail_line;
	const char *fail_expr;
};

#include "fixture_node.h"

static void sleep_us(uint64_t us)
{
	uint64_t label;

	sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), us, &label);
}

/* ---- mutex: one thread at a time, FIFO hand-over ---- */

#define MUTEX_THREADS 4
#define MUTEX_ROUNDS  20

static struct mutex lock = MUTEX_INIT;
static unsigned inside, max_inside, counter, order[MUTEX_THREADS * MUTEX_ROUNDS], norder;

static void contender(void *arg)
{
	for (int i = 0; i < MUTEX_ROUNDS; i++) {
		mutex_lock(&lock);
		inside++;
		if (inside > max_inside)
			max_inside = inside;
		unsigned v = counter;
		sleep_us(200); /* the others queue up meanwhile */
		counter = v + 1;
		order[norder++] = (unsigned)(uintptr_t)arg;
		inside--;
		mutex_unlock(&lock);
	}
}

static int case_mutex(struct env *env, struct tcase *t)
{
	struct thread *th[MUTEX_THREADS];

	for (uintptr_t i = 0; i < MUTEX_THREADS; i++)
		CHECK(t, !thread_create(env, "c", contender, (void *)i, 0, &th[i]));
	for (int i = 0; i < MUTEX_THREADS; i++)
		CHECK(t, !thread_join(th[i]));
	CHECK(t, counter == MUTEX_THREADS * MUTEX_ROUNDS && max_inside == 1);
	/* once all wait, the mutex goes round in FIFO order */
	for (unsigned i = 2 * MUTEX_THREADS; i < norder; i++)
		CHECK(t, order[i] == order[i - MUTEX_THREADS]);
	CHECK(t, !lock.locked && !lock.owner && !lock.waiters);
	return 0;
}

/* ---- blockade: wakeup before or after block, closed wait on own irq ---- */

static struct blockade gate;
static volatile int passed;
static uint64_t waiter_err;

static void waiter(void *arg)
{
	uint64_t label, nr = sys_utcb()->tcr[TCR_THREAD_NR];

	/* its own irq exists and is bound to it: a closed wait times out */
	waiter_err = TAG_ERROR(sys_invoke(KCAP_THREAD(nr, THREAD_SLOT_IRQ),
					  TAG(SYS_OP_WAIT, 0, 0, 0), 0, &label));
	blockade_block(&gate);
	passed = 1;
}

static int case_blockade(struct env *env, struct tcase *t)
{
	struct blockade early = {0};
	struct thread *th;

	blockade_wakeup(&early); /* nobody waits yet: block returns at once */
	blockade_block(&early);
	CHECK(t, !early.woken && !early.waiter);
	CHECK(t, !thread_create(env, "w", waiter, NULL, 0, &th));
	sleep_us(5000);
	CHECK(t, waiter_err == KERR_TIMEOUT);
	CHECK(t, !passed && gate.waiter == th);
	blockade_wakeup(&gate);
	sleep_us(5000);
	CHECK(t, passed && !gate.waiter);
	CHECK(t, !thread_join(th));
	return 0;
}

/* ---- join: frees everything; bad joins refused ---- */

static void quick(void *arg)
{
	*(int *)arg = 1;
}

static int case_join(struct env *env, struct tcase *t)
{
	struct pd_quota before, after;
	struct thread *th[3];
	int ran[3] = {0};

	CHECK(t, !pd_quota_get(env->pd, &before));
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 3; i++)
			CHECK(t, !thread_create(env, "q", quick, &ran[i], 0, &th[i]));
		for (int i = 0; i < 3; i++)
			CHECK(t, !thread_join(th[i]) && ran[i]);
	}
	CHECK(t, !pd_quota_get(env->pd, &after));
	CHECK(t, before.cap_used == after.cap_used && before.ram_used == after.ram_used);
	CHECK(t, thread_join(NULL) == -EINVAL);
	CHECK(t, thread_join(thread_self()) == -EINVAL);
	CHECK(t, thread_create(env, "x", NULL, NULL, 0, &th[0]) == -EINVAL);
	CHECK(t,
	      thread_create(env, "x", quick, ran, GUEST_STACK_SLOT, &th[0]) == -EINVAL);
	return 0;
}

NODE_CASE(mutex)
NODE_CASE(blockade)
NODE_CASE(join)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(mutex),	/* one thread inside, FIFO hand-over */
	    cmocka_unit_test(blockade), /* early wakeup, closed wait on own irq */
	    cmocka_unit_test(join),	/* quota back after join, bad joins refused */
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
