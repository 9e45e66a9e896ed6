/* The scheduler's run queue: the highest priority runs first, FIFO within
 * one (round robin), a direct switch goes first among its own priority
 * only, a change of priority moves a queued thread, and the ready bits
 * follow the queues.  THREAD_SCHED is the root task's only. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "kernel/kernel.h"

#define NTHREADS 6

struct fixture {
	struct node *n;
	struct thread *t[NTHREADS];
};

static int setup(void **state)
{
	static struct fixture f;

	f.n = node_create();
	if (!f.n)
		return -1;
	for (int i = 0; i < NTHREADS; i++) {
		f.t[i] = kthread_create(f.n);
		if (!f.t[i])
			return -1;
		f.t[i]->state = TS_READY;
	}
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < NTHREADS; i++) {
		sched_unready(f->t[i]);
		f->t[i]->state = TS_DEAD;
		kobj_put(&f->t[i]->obj);
	}
	assert_int_equal(node_destroy(f->n), 0);
	return 0;
}

static void ready_at(struct fixture *f, int i, unsigned prio)
{
	sched_set_prio(f->t[i], prio);
	sched_ready(f->t[i], false);
}

static void highest_first_fifo_within(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(sched_top(f->n), -1);
	assert_null(sched_pick(f->n));
	ready_at(f, 0, 10);
	ready_at(f, 1, 200);
	ready_at(f, 2, 10);
	ready_at(f, 3, 0);
	ready_at(f, 4, 200);
	ready_at(f, 5, KERNEL_PRIO_MAX);
	assert_int_equal(sched_top(f->n), KERNEL_PRIO_MAX);
	assert_ptr_equal(sched_pick(f->n), f->t[5]);
	assert_ptr_equal(sched_pick(f->n), f->t[1]);
	assert_ptr_equal(sched_pick(f->n), f->t[4]);
	assert_int_equal(sched_top(f->n), 10);
	assert_ptr_equal(sched_pick(f->n), f->t[0]);
	assert_ptr_equal(sched_pick(f->n), f->t[2]);
	assert_ptr_equal(sched_pick(f->n), f->t[3]);
	assert_int_equal(sched_top(f->n), -1);
	assert_null(sched_pick(f->n));
}

/* a thread made ready again goes behind the others of its priority */
static void round_robin(void **state)
{
	struct fixture *f = *state;
	struct thread *t;

	for (int i = 0; i < 3; i++)
		ready_at(f, i, 50);
	for (int round = 0; round < 6; round++) {
		t = sched_pick(f->n);
		assert_ptr_equal(t, f->t[round % 3]);
		sched_ready(t, false);
	}
}

/* direct from a thread of its priority: first of it, never ahead of a
 * higher one; from another priority: behind the others of its own (it
 * does not hold its priority's turn) */
static void direct_stays_in_its_priority(void **state)
{
	struct fixture *f = *state;

	ready_at(f, 0, 50);
	ready_at(f, 1, 100);
	sched_set_prio(f->t[2], 50);
	sched_set_prio(f->t[3], 50);
	sched_set_prio(f->t[4], 50);
	f->n->current = f->t[3];
	sched_ready(f->t[2], true);
	f->n->current = f->t[5]; /* KERNEL_PRIO_MAX */
	sched_ready(f->t[4], true);
	f->n->current = NULL;
	assert_ptr_equal(sched_pick(f->n), f->t[1]);
	assert_ptr_equal(sched_pick(f->n), f->t[2]);
	assert_ptr_equal(sched_pick(f->n), f->t[0]);
	assert_ptr_equal(sched_pick(f->n), f->t[4]);
}

/* a new priority moves a queued thread; paused, current or not ready
 * threads are never queued; unready clears the bit of an emptied queue */
static void set_prio_requeues(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(f->t[0]->prio, KERNEL_PRIO_MAX); /* core's until set */
	ready_at(f, 0, 20);
	ready_at(f, 1, 30);
	sched_set_prio(f->t[0], 40);
	assert_int_equal(sched_top(f->n), 40);
	sched_unready(f->t[0]);
	assert_int_equal(sched_top(f->n), 30);
	f->t[2]->paused = true;
	ready_at(f, 2, 90);
	f->t[3]->state = TS_BLOCKED;
	ready_at(f, 3, 90);
	f->n->current = f->t[4];
	ready_at(f, 4, 90);
	f->n->current = NULL;
	assert_int_equal(sched_top(f->n), 30);
	assert_ptr_equal(sched_pick(f->n), f->t[1]);
	assert_null(sched_pick(f->n));
	f->t[2]->paused = false;
	f->t[3]->state = TS_READY;
}

/* every priority 0..KERNEL_PRIO_MAX has its own queue and bit */
static void all_priorities(void **state)
{
	struct fixture *f = *state;

	for (unsigned p = 0; p <= KERNEL_PRIO_MAX; p++) {
		ready_at(f, (int)(p % NTHREADS), p);
		assert_int_equal(sched_top(f->n), (int)p);
		assert_ptr_equal(sched_pick(f->n), f->t[p % NTHREADS]);
		assert_int_equal(sched_top(f->n), -1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(highest_first_fifo_within, setup, teardown),
	    cmocka_unit_test_setup_teardown(round_robin, setup, teardown),
	    cmocka_unit_test_setup_teardown(direct_stays_in_its_priority, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(set_prio_requeues, setup, teardown),
	    cmocka_unit_test_setup_teardown(all_priorities, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
