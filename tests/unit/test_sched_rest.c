/*
 * Rests of a real-time node's thread (kernel/sched_rest.c, sched.c).
 *
 * The accounting and the decisions on a clock the test sets: what the
 * thread owes for running, what sleeping pays, how long a rest is and
 * where it must end (before the next deadline), and which work it may
 * come before (background, not what a timeout just woke).
 *
 * Then a node on the real clock, its host thread SCHED_RR (skipped if
 * this process may not): a busy native thread below a 10 ms ticker runs
 * 300 ms, and the node's thread must have left the CPU for at least 5%
 * of that time in rests (what the host keeps for ordinary tasks; without
 * the rests it stays on it).  The same node under ordinary scheduling
 * never rests.  And rests count in the slices: two busy threads of one
 * priority below the ticker take turns of one slice of the node's time,
 * rests included.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include "kernel_node.h"

#define T0 1000000ULL /* a start time, us */

static void running_owes_a_tenth_up_to_a_cap(void **state)
{
	struct sched_rest r;

	(void)state;
	sched_rest_init(&r, true, T0);
	sched_rest_ran(&r, T0 + 5000);
	assert_int_equal(r.owed, 5000 / REST_RATIO);
	sched_rest_ran(&r, T0 + 5000); /* nothing more ran */
	assert_int_equal(r.owed, 5000 / REST_RATIO);
	sched_rest_ran(&r, T0 + 1000000);
	assert_int_equal(r.owed, REST_OWED_MAX);
}

static void sleeping_pays(void **state)
{
	struct sched_rest r;

	(void)state;
	sched_rest_init(&r, true, T0);
	sched_rest_ran(&r, T0 + 10000);
	sched_rest_slept(&r, T0 + 10000, T0 + 10400);
	assert_int_equal(r.owed, 1000 - 400);
	assert_int_equal(r.since, T0 + 10400); /* the sleep is not running */
	sched_rest_ran(&r, T0 + 10400);
	assert_int_equal(r.owed, 600);
	sched_rest_slept(&r, T0 + 10400, T0 + 20000); /* idle: pays it all */
	assert_int_equal(r.owed, 0);
}

static void a_rest_fits_before_the_next_deadline(void **state)
{
	struct sched_rest r;
	uint64_t now = T0 + 10000;

	(void)state;
	sched_rest_init(&r, true, T0);
	sched_rest_ran(&r, T0 + REST_MIN_US * REST_RATIO - REST_RATIO);
	assert_int_equal(sched_rest_due(&r, now, UINT64_MAX), 0); /* too little */
	sched_rest_ran(&r, now);
	assert_int_equal(sched_rest_due(&r, now, UINT64_MAX), 1000);
	sched_rest_ran(&r, now + 20000);
	now += 20000;
	assert_int_equal(sched_rest_due(&r, now, UINT64_MAX), REST_MAX_US);
	/* ends REST_MARGIN_US before the next deadline */
	assert_int_equal(sched_rest_due(&r, now, now + REST_MARGIN_US + 500), 500);
	assert_int_equal(sched_rest_due(&r, now, now + REST_MARGIN_US + REST_MIN_US),
			 REST_MIN_US);
	assert_int_equal(sched_rest_due(&r, now, now + REST_MARGIN_US + REST_MIN_US - 1),
			 0);
	assert_int_equal(sched_rest_due(&r, now, now), 0);
	assert_int_equal(sched_rest_due(&r, now, now - 5), 0); /* already due */
	r.on = false;
	assert_int_equal(sched_rest_due(&r, now, UINT64_MAX), 0);
}

static void only_background_work_waits_for_a_rest(void **state)
{
	struct sched_rest r;
	uint64_t tick = T0 + 50000;

	(void)state;
	sched_rest_init(&r, true, T0);
	assert_false(sched_rest_may(&r, T0 + 100, 0)); /* just booted */
	assert_true(sched_rest_may(&r, T0 + REST_EVENT_US, 0));
	/* a timeout wakes a ticker (prio 200) while busy prio 100 runs */
	sched_rest_event(&r, tick, 100);
	assert_false(sched_rest_may(&r, tick + 50, 200));
	assert_false(sched_rest_may(&r, tick + 50, 150));
	assert_true(sched_rest_may(&r, tick + 50, 100)); /* the ticker blocked */
	assert_true(sched_rest_may(&r, tick + 50, 10));
	assert_true(sched_rest_may(&r, tick + REST_EVENT_US, 200));
	/* woken from idle: nothing was background */
	sched_rest_event(&r, tick + 10000, -1);
	assert_false(sched_rest_may(&r, tick + 10050, 0));
}

/* ---- a node on the real clock ------------------------------------------ */

#define BUSY_MS	  300
#define BUSY_PRIO 10
#define TICK_PRIO 200
#define TICK_US	  10000
#define BUSY_TH	  KCAP(0x400)
#define TICK_TH	  KCAP(0x401)

static struct {
	uint64_t wall_us, cpu_us; /* the busy thread's run */
	uint64_t rests, rested_us;
	unsigned ticks;
} m;

static uint64_t clock_us(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

static void ticker(void *arg)
{
	(void)arg;
	for (;;) {
		sleep_us(TICK_US);
		m.ticks++;
	}
}

/* Spins BUSY_MS, trapping every ~200 us; the node's thread's CPU time
 * (native threads are coroutines on it) against the wall clock. */
static void busy(void *arg)
{
	uint64_t w0 = clock_us(CLOCK_MONOTONIC), c0 = clock_us(CLOCK_THREAD_CPUTIME_ID);
	uint64_t r0 = node_current->rest.count, rus0 = node_current->rest.rested_us;

	(void)arg;
	while (clock_us(CLOCK_MONOTONIC) - w0 < BUSY_MS * 1000ULL) {
		uint64_t s = clock_us(CLOCK_MONOTONIC);

		while (clock_us(CLOCK_MONOTONIC) - s < 200)
			;
		sleep_us(0);
	}
	m.wall_us = clock_us(CLOCK_MONOTONIC) - w0;
	m.cpu_us = clock_us(CLOCK_THREAD_CPUTIME_ID) - c0;
	m.rests = node_current->rest.count - r0;
	m.rested_us = node_current->rest.rested_us - rus0;
	kernel_stop(0);
}

static void root(void *arg)
{
	(void)arg;
	spawn(ROOT_TASK, TICK_TH, 1, ticker, NULL);
	CHECK(!TAG_ERROR(KCALL(TICK_TH, PROTO_THREAD, THREAD_SCHED, TICK_PRIO)));
	spawn(ROOT_TASK, BUSY_TH, 2, busy, NULL);
	CHECK(!TAG_ERROR(KCALL(BUSY_TH, PROTO_THREAD, THREAD_SCHED, BUSY_PRIO)));
	sleep_us(NEVER);
}

/* Boot the node with root fn on a host thread of policy (SCHED_RR 10 or
 * SCHED_OTHER): kernel_boot's code; *refused if the policy is. */
static int boot_as(int policy, bool *refused, native_entry_t fn)
{
	struct sched_param sp = {.sched_priority = policy == SCHED_OTHER ? 0 : 10};
	int rc;

	memset(&m, 0, sizeof m);
	*refused = false;
	if (pthread_setschedparam(pthread_self(), policy, &sp)) {
		*refused = true;
		return -1;
	}
	rc = boot(fn);
	sp.sched_priority = 0;
	pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp);
	return rc;
}

static void a_busy_realtime_node_leaves_the_host_its_share(void **state)
{
	bool refused;
	int rc = boot_as(SCHED_RR, &refused, root);

	(void)state;
	if (refused) {
		print_message("SCHED_RR refused here: skipped\n");
		skip();
	}
	assert_int_equal(rc, 0);
	assert_int_equal(failed_line, 0);
	print_message("busy %llu ms: node thread on the CPU %llu ms, %llu rests of %llu "
		      "ms, %u ticks\n",
		      (unsigned long long)m.wall_us / 1000,
		      (unsigned long long)m.cpu_us / 1000, (unsigned long long)m.rests,
		      (unsigned long long)m.rested_us / 1000, m.ticks);
	assert_true(m.rests > 0);
	/* a tenth of the busy time, less what it may still owe */
	assert_true(m.rested_us * 100 >= m.wall_us * 6);
	assert_true(m.cpu_us * 100 <= m.wall_us * 95);
	assert_true(m.ticks >= BUSY_MS * 1000 / TICK_US / 2); /* the ticker ran */
}

static void an_ordinary_node_never_rests(void **state)
{
	bool refused;

	(void)state;
	assert_int_equal(boot_as(SCHED_OTHER, &refused, root), 0);
	assert_int_equal(failed_line, 0);
	assert_true(m.wall_us >= BUSY_MS * 1000ULL);
	assert_int_equal(m.rests, 0);
}

/* ---- rests count in the slices ------------------------------------------ */

/* Two busy threads at one priority below the ticker, on a SCHED_RR node:
 * a turn of each, from its first step to the other's first step, is one
 * 10 ms slice of the node's time, rests included, so that a thread
 * waiting behind N busy ones waits N slices (bench_prio's bound at equal
 * priority under --realtime).  A rest that was nobody's slice made each
 * turn ~1/11 longer.  The median of TURNS turns. */
#define SLICE_US 10000 /* the kernel's (sched.c) */
#define TURNS	 24
#define PEER_TH	 KCAP(0x402)

static struct {
	int last;
	unsigned n;
	uint64_t begin[TURNS + 1];
} turns;

static void peer(void *arg)
{
	int me = (int)(uintptr_t)arg;

	for (;;) {
		if (turns.last != me) {
			if (turns.n == TURNS + 1) {
				m.rests = node_current->rest.count;
				m.rested_us = node_current->rest.rested_us;
				kernel_stop(0);
			}
			turns.begin[turns.n++] = clock_us(CLOCK_MONOTONIC);
			turns.last = me;
		}
		for (uint64_t s = clock_us(CLOCK_MONOTONIC);
		     clock_us(CLOCK_MONOTONIC) - s < 200;)
			;
		sleep_us(0);
	}
}

static void root_peers(void *arg)
{
	(void)arg;
	spawn(ROOT_TASK, TICK_TH, 1, ticker, NULL);
	CHECK(!TAG_ERROR(KCALL(TICK_TH, PROTO_THREAD, THREAD_SCHED, TICK_PRIO)));
	for (int i = 0; i < 2; i++) {
		spawn(ROOT_TASK, PEER_TH + KCAP(i), 2 + i, peer, (void *)(uintptr_t)i);
		CHECK(!TAG_ERROR(
		    KCALL(PEER_TH + KCAP(i), PROTO_THREAD, THREAD_SCHED, BUSY_PRIO)));
	}
	sleep_us(NEVER);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void a_rest_is_part_of_a_slice(void **state)
{
	uint64_t len[TURNS];
	bool refused;
	int rc;

	(void)state;
	turns.last = -1;
	turns.n = 0;
	rc = boot_as(SCHED_RR, &refused, root_peers);
	if (refused) {
		print_message("SCHED_RR refused here: skipped\n");
		skip();
	}
	assert_int_equal(rc, 0);
	assert_int_equal(failed_line, 0);
	for (unsigned k = 0; k < TURNS; k++)
		len[k] = turns.begin[k + 1] - turns.begin[k];
	qsort(len, TURNS, sizeof len[0], cmp_u64);
	print_message("%u turns of two busy threads below a ticker: median %llu us, "
		      "%llu rests of %llu us\n",
		      TURNS, (unsigned long long)len[TURNS / 2],
		      (unsigned long long)m.rests, (unsigned long long)m.rested_us);
	assert_true(m.rests > 0);
	assert_true(len[TURNS / 2] <= SLICE_US + SLICE_US / 25);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(running_owes_a_tenth_up_to_a_cap),
	    cmocka_unit_test(sleeping_pays),
	    cmocka_unit_test(a_rest_fits_before_the_next_deadline),
	    cmocka_unit_test(only_background_work_waits_for_a_rest),
	    cmocka_unit_test(a_busy_realtime_node_leaves_the_host_its_share),
	    cmocka_unit_test(an_ordinary_node_never_rests),
	    cmocka_unit_test(a_rest_is_part_of_a_slice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
