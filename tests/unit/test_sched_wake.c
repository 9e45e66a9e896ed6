/*
 * A thread made ready by IPC or by an irq preempts a running thread of
 * lower priority at once (issue 13: "a thread made ready by IPC, a timer
 * or an IRQ preempts a lower-priority running thread within a bounded
 * time").  A low-priority native thread that never blocks wakes a
 * high-priority one, in turns by a send to its gate and by a trigger of
 * its irq; each time the woken thread must run before the low one's next
 * step, not when the low one's 10 ms slice ends (the scheduler looks at
 * the ready queues after every system call, kernel/sched.c sched_keep).
 * Timers waking a thread above a busy one: test_vcpu run_ends_at_deadline
 * and tests/kernel/prio.sh.
 */
#include "kernel_node.h"

#define LOW_PRIO  10
#define HIGH_PRIO 200
#define WAKES	  400
#define HI_TASK	  KCAP(0x300)
#define HI_THREAD KCAP(0x301)
#define HI_GATE	  KCAP(0x302)
#define HI_IRQ	  KCAP(0x303)
#define LOW	  KCAP(0x380)

/* 'L' a step of the low thread before a wake, 'l' right after it, 'H' a
 * message the high thread took */
static char order[3 * WAKES + 8];
static unsigned norder;

static void high(void *arg)
{
	uint64_t label, tag;

	for (;;) {
		tag = kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER, &label);
		CHECK(!TAG_ERROR(tag));
		order[norder++] = 'H';
	}
}

static void low(void *arg)
{
	uint64_t label;

	for (unsigned i = 0; i < WAKES; i++) {
		order[norder++] = 'L';
		if (i % 2) /* fails if the high thread is not back in its wait:
			    * it is late, which the order shows */
			kernel_native_invoke(HI_GATE, TAG(SYS_OP_SEND, 0, 0, 0), 0,
					     &label);
		else
			CHECK(!TAG_ERROR(KCALL(HI_IRQ, PROTO_IRQ, IRQ_TRIGGER)));
		order[norder++] = 'l';
	}
	kernel_stop(0);
}

static void root(void *arg)
{
	CHECK(create(HI_TASK, FACTORY_TASK, TASK_NATIVE, 0) == KERR_OK);
	spawn(HI_TASK, HI_THREAD, 1, high, NULL);
	CHECK(!TAG_ERROR(KCALL(HI_THREAD, PROTO_THREAD, THREAD_SCHED, HIGH_PRIO)));
	CHECK(create(HI_GATE, FACTORY_GATE, HI_THREAD, 0x40) == KERR_OK);
	CHECK(create(HI_IRQ, FACTORY_IRQ, 0, 0) == KERR_OK);
	CHECK(!TAG_ERROR(KCALL(HI_IRQ, PROTO_IRQ, IRQ_BIND, HI_THREAD, 0x70)));
	spawn(ROOT_TASK, LOW, 1, low, NULL);
	CHECK(!TAG_ERROR(KCALL(LOW, PROTO_THREAD, THREAD_SCHED, LOW_PRIO)));
	sleep_us(NEVER); /* both run below the root's priority */
}

static void woken_thread_runs_before_the_next_step(void **state)
{
	unsigned late = 0, wakes = 0;

	assert_int_equal(boot(root), 0);
	assert_int_equal(failed_line, 0);
	for (unsigned i = 1; i < norder; i++) {
		if (order[i] != 'l')
			continue;
		wakes++;
		late += order[i - 1] != 'H';
	}
	print_message("%u wakes of a higher thread by a busy one: %u came after its "
		      "next step\n",
		      wakes, late);
	assert_int_equal(wakes, WAKES);
	assert_int_equal(late, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(woken_thread_runs_before_the_next_step),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
