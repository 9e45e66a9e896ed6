/*
 * IPC through the kernel's one syscall: call/reply with words and map
 * items, timeouts, irq counting and the closed wait on an irq.
 */
#include "kernel_node.h"

static void root_round_trip(void *arg)
{
	struct utcb *u = kernel_native_utcb();
	uint64_t tag, label;

	start_echo();
	CHECK(create(KCAP(0x310), FACTORY_IRQ, 0x77, 0) == KERR_OK);
	u->mr[0] = 20;
	u->mr[1] = 22;
	u->mr[2] = KCAP(0x310) | RIGHT_W | RIGHT_R;
	tag = kernel_native_invoke(SRV_GATE, TAG(SYS_OP_CALL, 0, 2, 1), NEVER, &label);
	CHECK(TAG_ERROR(tag) == KERR_OK && TAG_WORDS(tag) == 2);
	CHECK(u->mr[0] == 42);
	CHECK(u->mr[1] == (SRV_WINDOW | RIGHT_W | RIGHT_R));
	CHECK(echo.label == (0x40 | RIGHT_W | RIGHT_S));
	CHECK(echo.infotype == KOBJ_IRQ && echo.inforights == (RIGHT_W | RIGHT_R));
	/* a weaker cap to the same gate: the server sees the weaker label */
	CHECK(!TAG_ERROR(KCALL(ROOT_TASK, PROTO_TASK, TASK_MAP, KCAP_INVALID,
			       SRV_GATE | RIGHT_R | RIGHT_W, KCAP(0x311))));
	tag = call_echo(KCAP(0x311), 1, 2, NEVER);
	CHECK(!TAG_ERROR(tag) && u->mr[0] == 3 && echo.label == (0x40 | RIGHT_W));
	CHECK(echo.served == 2 && echo.bad == 0);
	/* a call made inside libbase's badge span: the kernel marks the span
	 * held again as it delivers the reply (abi.h TCR_BADGES_AT_REPLY);
	 * other values it leaves alone */
	u->tcr[TCR_BADGES] = TCR_BADGES_AT_REPLY;
	tag = call_echo(SRV_GATE, 1, 2, NEVER);
	CHECK(!TAG_ERROR(tag) && u->tcr[TCR_BADGES] == TCR_BADGES_HELD);
	u->tcr[TCR_BADGES] = 0;
	tag = call_echo(SRV_GATE, 1, 2, NEVER);
	CHECK(!TAG_ERROR(tag) && u->tcr[TCR_BADGES] == 0);
	CHECK(echo.served == 4 && echo.bad == 0);
	kernel_stop(0);
}

/* call/reply with words and a map item; label = gate label | rights */
static void call_reply_round_trip(void **state)
{
	assert_int_equal(boot(root_round_trip), 0);
}

static void root_timeouts(void *arg)
{
	uint64_t t0;

	/* a gate bound to a thread that never receives */
	CHECK(create(KCAP(0x340), FACTORY_THREAD, 0, 0) == KERR_OK);
	CHECK(create(KCAP(0x341), FACTORY_GATE, KCAP(0x340), 0x80) == KERR_OK);
	t0 = timeout_now();
	CHECK(TAG_ERROR(call_echo(KCAP(0x341), 0, 0, 20000)) == KERR_TIMEOUT);
	CHECK(timeout_now() - t0 >= 20000);
	CHECK(TAG_ERROR(call_echo(KCAP(0x341), 0, 0, 0)) == KERR_TIMEOUT);
	t0 = timeout_now();
	CHECK(sleep_us(10000) == KERR_TIMEOUT);
	CHECK(timeout_now() - t0 >= 10000);
	/* an open wait with nothing pending and timeout 0 returns at once */
	CHECK(TAG_ERROR(kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), 0, NULL)) ==
	      KERR_TIMEOUT);
	kernel_stop(0);
}

/* send to nobody with a timeout, sleep, poll */
static void timeouts(void **state)
{
	assert_int_equal(boot(root_timeouts), 0);
}

static unsigned irq_hits;
static void irq_waiter(void *arg)
{
	uint64_t label;

	for (;;) {
		uint64_t tag =
		    kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER, &label);
		if (!TAG_ERROR(tag) && label == 0x55)
			irq_hits++;
	}
}

static void root_irq(void *arg)
{
	uint64_t label, tag;

	CHECK(create(KCAP(0x350), FACTORY_IRQ, 0, 0) == KERR_OK);
	CHECK(!TAG_ERROR(KCALL(KCAP(0x350), PROTO_IRQ, IRQ_BIND, ROOT_THREAD, 0x99)));
	for (int i = 0; i < 3; i++)
		CHECK(!TAG_ERROR(KCALL(KCAP(0x350), PROTO_IRQ, IRQ_TRIGGER)));
	for (int i = 0; i < 3; i++) {
		tag = kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), 0, &label);
		CHECK(TAG_ERROR(tag) == KERR_OK && label == 0x99 && TAG_WORDS(tag) == 0);
	}
	tag = kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), 0, &label);
	CHECK(TAG_ERROR(tag) == KERR_TIMEOUT);
	/* the same bind again is a no-op; another label (or, below, another
	 * thread) is refused while bound; unbind, then bind to a waiting
	 * thread */
	CHECK(!TAG_ERROR(KCALL(KCAP(0x350), PROTO_IRQ, IRQ_BIND, ROOT_THREAD, 0x99)));
	CHECK(TAG_ERROR(KCALL(KCAP(0x350), PROTO_IRQ, IRQ_BIND, ROOT_THREAD, 0x98)) ==
	      KERR_BUSY);
	CHECK(!TAG_ERROR(KCALL(KCAP(0x350), PROTO_IRQ, IRQ_UNBIND)));
	irq_hits = 0;
	spawn(ROOT_TASK, KCAP(0x351), 1, irq_waiter, NULL);
	CHECK(sleep_us(1000) == KERR_TIMEOUT);
	CHECK(!TAG_ERROR(KCALL(KCAP(0x350), PROTO_IRQ, IRQ_BIND, KCAP(0x351), 0x55)));
	CHECK(TAG_ERROR(KCALL(KCAP(0x350), PROTO_IRQ, IRQ_BIND, ROOT_THREAD, 0x55)) ==
	      KERR_BUSY);
	for (int i = 0; i < 5; i++)
		CHECK(!TAG_ERROR(KCALL(KCAP(0x350), PROTO_IRQ, IRQ_TRIGGER)));
	CHECK(sleep_us(1000) == KERR_TIMEOUT);
	CHECK(irq_hits == 5);
	kernel_stop(0);
}

/* irq triggers count and are delivered one message each */
static void irq_counting(void **state)
{
	assert_int_equal(boot(root_irq), 0);
}

/* ---- closed wait on an irq ------------------------------------------------ */

#define CW_IRQ	  KCAP(0x360) /* bound to the waiter, label 0x64 */
#define CW_THREAD KCAP(0x361)
#define CW_GATE	  KCAP(0x362) /* bound to the waiter */
#define CW_OTHER  KCAP(0x363) /* a second irq bound to the waiter, label 0x68 */
static struct {
	unsigned woken;	     /* closed waits that ended */
	uint64_t label[3];   /* their labels */
	unsigned err[3];     /* and errors */
	uint64_t open_label; /* what the open wait in between got */
} cw;

/* closed wait, open wait, closed wait */
static void closed_waiter(void *arg)
{
	uint64_t label = 0, tag;

	for (int i = 0; i < 3; i++) {
		if (i == 1) {
			tag = kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER,
						   &label);
			cw.open_label = TAG_ERROR(tag) ? 0 : label;
		}
		tag = kernel_native_invoke(CW_IRQ, TAG(SYS_OP_WAIT, 0, 0, 0),
					   i == 1 ? 0 : NEVER, &label);
		cw.err[cw.woken] = TAG_ERROR(tag);
		cw.label[cw.woken++] = label;
	}
	for (;;)
		sleep_us(1000000);
}

static void root_closed_wait(void *arg)
{
	uint64_t label, tag;

	cw = (typeof(cw)){0};
	CHECK(create(CW_IRQ, FACTORY_IRQ, 0, 0) == KERR_OK);
	CHECK(create(CW_OTHER, FACTORY_IRQ, 0, 0) == KERR_OK);
	spawn(ROOT_TASK, CW_THREAD, 1, closed_waiter, NULL);
	CHECK(create(CW_GATE, FACTORY_GATE, CW_THREAD, 0x80) == KERR_OK);
	CHECK(!TAG_ERROR(KCALL(CW_IRQ, PROTO_IRQ, IRQ_BIND, CW_THREAD, 0x64)));
	CHECK(!TAG_ERROR(KCALL(CW_OTHER, PROTO_IRQ, IRQ_BIND, CW_THREAD, 0x68)));
	/* the root may not wait on an irq bound to another thread, nor on a
	 * kcap that is no irq or empty */
	CHECK(TAG_ERROR(kernel_native_invoke(CW_IRQ, TAG(SYS_OP_WAIT, 0, 0, 0), 0,
					     &label)) == KERR_INVAL_CAP);
	CHECK(TAG_ERROR(kernel_native_invoke(ROOT_TASK, TAG(SYS_OP_WAIT, 0, 0, 0), 0,
					     &label)) == KERR_INVAL_CAP);
	CHECK(TAG_ERROR(kernel_native_invoke(KCAP(0x777), TAG(SYS_OP_WAIT, 0, 0, 0), 0,
					     &label)) == KERR_INVAL_CAP);
	CHECK(sleep_us(1000) == KERR_TIMEOUT);
	CHECK(thread_state(CW_THREAD) == TS_BLOCKED);
	/* neither an IPC to its gate or thread nor its other irq ends it */
	CHECK(TAG_ERROR(call_echo(CW_GATE, 1, 2, 2000)) == KERR_TIMEOUT);
	CHECK(TAG_ERROR(call_echo(CW_THREAD, 1, 2, 2000)) == KERR_TIMEOUT);
	CHECK(!TAG_ERROR(KCALL(CW_OTHER, PROTO_IRQ, IRQ_TRIGGER)));
	CHECK(sleep_us(1000) == KERR_TIMEOUT);
	CHECK(cw.woken == 0 && thread_state(CW_THREAD) == TS_BLOCKED);
	/* its irq does; the other irq stays pending for the open wait, and a
	 * closed wait with timeout 0 and nothing pending times out */
	CHECK(!TAG_ERROR(KCALL(CW_IRQ, PROTO_IRQ, IRQ_TRIGGER)));
	CHECK(sleep_us(1000) == KERR_TIMEOUT);
	CHECK(cw.woken == 2 && cw.err[0] == KERR_OK && cw.label[0] == 0x64);
	CHECK(cw.open_label == 0x68);
	CHECK(cw.err[1] == KERR_TIMEOUT);
	/* unbinding the irq aborts the third closed wait */
	CHECK(thread_state(CW_THREAD) == TS_BLOCKED);
	CHECK(!TAG_ERROR(KCALL(CW_IRQ, PROTO_IRQ, IRQ_UNBIND)));
	CHECK(sleep_us(1000) == KERR_TIMEOUT);
	CHECK(cw.woken == 3 && cw.err[2] == KERR_ABORTED);
	/* a trigger counted before the wait ends the wait at once */
	CHECK(!TAG_ERROR(KCALL(CW_IRQ, PROTO_IRQ, IRQ_BIND, ROOT_THREAD, 0x6c)));
	CHECK(!TAG_ERROR(KCALL(CW_IRQ, PROTO_IRQ, IRQ_TRIGGER)));
	tag = kernel_native_invoke(CW_IRQ, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER, &label);
	CHECK(TAG_ERROR(tag) == KERR_OK && label == 0x6c && TAG_WORDS(tag) == 0);
	kernel_stop(0);
}

/* SYS_OP_WAIT on an irq bound to the caller waits for that irq only: IPC
 * and other irqs stay queued; unbinding aborts the wait */
static void closed_wait_on_irq(void **state)
{
	assert_int_equal(boot(root_closed_wait), 0);
	assert_int_equal(failed_line, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(call_reply_round_trip),
	    cmocka_unit_test(timeouts),
	    cmocka_unit_test(irq_counting),
	    cmocka_unit_test(closed_wait_on_irq),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
