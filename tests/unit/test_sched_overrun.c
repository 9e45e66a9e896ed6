/*
 * The overrun charge (kernel/sched.c): what a slice ran past its end is
 * taken off the thread's next slice (at most half of it), so N busy
 * threads at one priority take N slices a round, not N slices plus N
 * overruns.
 *
 * The kernel's clock is a fake one here (timeout_now is wrapped at link
 * time, see LDFLAGS below): a busy native thread advances it by STEP_US
 * per step and then traps with a zero-timeout wait, where the scheduler
 * decides whether it goes on.  A slice of SLICE_US = 10 ms ends at the
 * first trap past its end, after 4 steps of 3 ms: 2 ms late.  With the
 * charge the next slice is 2 ms shorter, so the slices run 4, 3, 3, 4,
 * 3, 3 ... steps, 10 ms on average; without it every slice runs 4 steps,
 * 12 ms.  Host preemption cannot change a step's length.
 */
/* LDFLAGS: -Wl,--wrap=timeout_now */
#include "kernel_node.h"

#define BUSY	     3
#define BUSY_PRIO    10
#define STEP_US	     3000
#define SLICE_US     10000 /* the kernel's (sched.c) */
#define WARM_SLICES  (2 * BUSY)
#define SLICES	     (30 * BUSY)
#define BUSY_THREAD0 0x400

uint64_t __wrap_timeout_now(void);

static uint64_t fake_now = 1000000;

uint64_t __wrap_timeout_now(void)
{
	return fake_now;
}

/* slice k: which busy thread ran it and for how long (fake µs) */
static struct {
	int who[SLICES + WARM_SLICES + 1];
	uint64_t len[SLICES + WARM_SLICES + 1];
	unsigned n;	/* slices begun */
	int last;	/* the thread that ran the last step (-1: none) */
	uint64_t begin; /* fake time its slice began */
} rec;

static void busy(void *arg)
{
	int me = (int)(uintptr_t)arg;

	for (;;) {
		if (rec.last != me) {
			if (rec.last >= 0)
				rec.len[rec.n - 1] = fake_now - rec.begin;
			if (rec.n == SLICES + WARM_SLICES + 1)
				kernel_stop(0);
			rec.who[rec.n++] = me;
			rec.last = me;
			rec.begin = fake_now;
		}
		fake_now += STEP_US;
		sleep_us(0); /* a trap: may the thread keep the CPU? */
	}
}

static void root(void *arg)
{
	for (int i = 0; i < BUSY; i++) {
		uint64_t th = KCAP(BUSY_THREAD0 + i);

		spawn(ROOT_TASK, th, 1 + i, busy, (void *)(uintptr_t)i);
		CHECK(!TAG_ERROR(KCALL(th, PROTO_THREAD, THREAD_SCHED, BUSY_PRIO)));
	}
	sleep_us(NEVER); /* the busy threads run below the root's priority */
}

static void busy_threads_take_a_slice_each_a_round(void **state)
{
	uint64_t total = 0;

	rec.last = -1;
	assert_int_equal(boot(root), 0);
	assert_int_equal(failed_line, 0);
	assert_int_equal(rec.n, SLICES + WARM_SLICES + 1);
	for (unsigned k = WARM_SLICES; k < WARM_SLICES + SLICES; k++) {
		/* round robin: each thread in turn */
		assert_int_equal(rec.who[k], (rec.who[k - 1] + 1) % BUSY);
		total += rec.len[k];
	}
	print_message("%u slices of %u busy threads: %.2f ms a slice, %.2f ms a round\n",
		      SLICES, BUSY, total / 1000.0 / SLICES,
		      total / 1000.0 / (SLICES / BUSY));
	/* 10 ms a slice; 12 ms without the charge */
	assert_true(total >= (uint64_t)SLICES * SLICE_US);
	assert_true(total <= (uint64_t)SLICES * SLICE_US + 2 * STEP_US);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(busy_threads_take_a_slice_each_a_round),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
