/*
 * Round robin within a priority holds for a thread that calls a server
 * of a higher priority in a loop (kernel/sched.c, "turns"): the reply
 * puts it back first of its queue only while its turn lasts, on the rest
 * of its slice, so once it has run a slice of its own the others of its
 * priority get theirs.  Before, each reply gave it a new slice at the
 * head of its queue, and a busy peer and a ticker of its priority never
 * ran while it looped (the lazy fill once starved a node that way).
 *
 * Three native threads at LOW_PRIO: "caller" calls a server at SRV_PRIO
 * in a loop, "busy" computes, "ticker" sleeps TICK_US between ticks.
 * The kernel's clock is a fake one (timeout_now wrapped at link time, as
 * in test_sched_overrun): each step of a thread advances it, so host
 * load changes nothing and the test is exact.  Bounds: busy and the
 * caller get at least 40% of the time each (their fair half, less the
 * server's share of the caller's turns), and the ticker is late by at most one slice per
 * busy peer (two), plus the server's time in the caller's turn, plus a step.
 */
/* LDFLAGS: -Wl,--wrap=timeout_now */
#include "kernel_node.h"

#define LOW_PRIO   10
#define SRV_PRIO   200
#define SLICE_US   10000 /* the kernel's (sched.c) */
#define CALL_US	   100	 /* the caller's work between two calls */
#define SERVE_US   10	 /* the server's work for one call */
#define BUSY_US	   1000	 /* a step of the busy thread */
#define TICK_US	   5000
#define TICK_RUN   10 /* the ticker's work at each tick */
#define RUN_US	   2000000
#define CALLER	   KCAP(0x380)
#define BUSY	   KCAP(0x381)
#define TICKER	   KCAP(0x382)
#define ADD_TASK   KCAP(0x300)
#define ADD_THREAD KCAP(0x301)
#define ADD_GATE   KCAP(0x302)

uint64_t __wrap_timeout_now(void);

static uint64_t fake_now = 1000000;

uint64_t __wrap_timeout_now(void)
{
	return fake_now;
}

static struct {
	uint64_t busy_us, caller_us, server_us; /* fake time each ran */
	unsigned calls, ticks;
	uint64_t worst_late, due; /* the ticker's; due: its pending deadline */
} rec;

static void server(void *arg)
{
	struct utcb *u = kernel_native_utcb();
	uint64_t label, tag;

	tag = kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER, &label);
	for (;;) {
		fake_now += SERVE_US;
		rec.server_us += SERVE_US;
		u->mr[0] = TAG_ERROR(tag) ? 0 : u->mr[0] + 1;
		tag = kernel_native_invoke(0, TAG(SYS_OP_REPLY_WAIT, 0, 1, 0), NEVER,
					   &label);
	}
}

static void caller(void *arg)
{
	struct utcb *u = kernel_native_utcb();
	uint64_t label;

	for (;;) {
		fake_now += CALL_US;
		rec.caller_us += CALL_US;
		u->mr[0] = rec.calls;
		CHECK(!TAG_ERROR(kernel_native_invoke(ADD_GATE, TAG(SYS_OP_CALL, 0, 1, 0),
						      NEVER, &label)) &&
		      u->mr[0] == rec.calls + 1);
		rec.calls++;
	}
}

static void busy(void *arg)
{
	for (;;) {
		fake_now += BUSY_US;
		rec.busy_us += BUSY_US;
		sleep_us(0); /* a trap: may it keep the CPU? */
	}
}

static void ticker(void *arg)
{
	for (;;) {
		rec.due = fake_now + TICK_US;
		sleep_us(TICK_US);
		if (fake_now - rec.due > rec.worst_late)
			rec.worst_late = fake_now - rec.due;
		rec.ticks++;
		fake_now += TICK_RUN;
	}
}

static void root(void *arg)
{
	uint64_t start = fake_now;

	CHECK(create(ADD_TASK, FACTORY_TASK, TASK_NATIVE, 0) == KERR_OK);
	spawn(ADD_TASK, ADD_THREAD, 1, server, NULL);
	CHECK(!TAG_ERROR(KCALL(ADD_THREAD, PROTO_THREAD, THREAD_SCHED, SRV_PRIO)));
	CHECK(create(ADD_GATE, FACTORY_GATE, ADD_THREAD, 0x40) == KERR_OK);
	spawn(ROOT_TASK, CALLER, 1, caller, NULL);
	CHECK(!TAG_ERROR(KCALL(CALLER, PROTO_THREAD, THREAD_SCHED, LOW_PRIO)));
	spawn(ROOT_TASK, BUSY, 2, busy, NULL);
	CHECK(!TAG_ERROR(KCALL(BUSY, PROTO_THREAD, THREAD_SCHED, LOW_PRIO)));
	rec.due = fake_now; /* the ticker's first run */
	spawn(ROOT_TASK, TICKER, 3, ticker, NULL);
	CHECK(!TAG_ERROR(KCALL(TICKER, PROTO_THREAD, THREAD_SCHED, LOW_PRIO)));
	sleep_us(RUN_US); /* the others run below the root's priority */
	/* a tick still waiting counts as late as it is */
	if (fake_now - rec.due > rec.worst_late && fake_now > rec.due)
		rec.worst_late = fake_now - rec.due;
	rec.due = fake_now - start; /* the run's length, for the report */
	kernel_stop(0);
}

static void a_caller_of_a_higher_server_takes_turns(void **state)
{
	uint64_t run, late_bound;

	assert_int_equal(boot(root), 0);
	assert_int_equal(failed_line, 0);
	run = rec.due;
	print_message("%llu us: busy ran %llu us, the caller %llu us (%u calls), "
		      "the server %llu us; %u ticks, the worst %llu us late\n",
		      (unsigned long long)run, (unsigned long long)rec.busy_us,
		      (unsigned long long)rec.caller_us, rec.calls,
		      (unsigned long long)rec.server_us, rec.ticks,
		      (unsigned long long)rec.worst_late);
	assert_true(rec.calls > 0);
	/* each its half, less the server's share of the caller's turns;
	 * the caller keeps its turn across its calls (sent behind busy at
	 * each, it would get a few per cent) */
	assert_true(rec.busy_us * 10 >= run * 4);
	assert_true(rec.caller_us * 10 >= run * 4);
	late_bound = 2 * SLICE_US + SLICE_US / CALL_US * SERVE_US + BUSY_US;
	assert_true(rec.worst_late <= late_bound);
	assert_true(rec.ticks >= run / (TICK_US + late_bound));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(a_caller_of_a_higher_server_takes_turns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
