/*
 * Kernel threads and the node's life: pausing a receiver, kernel_stop's
 * code and a second boot, a deadlocked node.
 */
#include "kernel_node.h"

static void root_pause(void *arg)
{
	start_echo();
	CHECK(sleep_us(1000) == KERR_TIMEOUT); /* server now waits */
	CHECK(thread_state(SRV_THREAD) == TS_BLOCKED);
	CHECK(!TAG_ERROR(KCALL(SRV_THREAD, PROTO_THREAD, THREAD_PAUSE)));
	CHECK(thread_state(SRV_THREAD) == TS_PAUSED);
	/* paused: not receiving */
	CHECK(TAG_ERROR(call_echo(SRV_GATE, 1, 2, 5000)) == KERR_TIMEOUT);
	CHECK(!TAG_ERROR(KCALL(SRV_THREAD, PROTO_THREAD, THREAD_RESUME)));
	CHECK(!TAG_ERROR(call_echo(SRV_GATE, 1, 2, NEVER)));
	CHECK(kernel_native_utcb()->mr[0] == 3);
	CHECK(echo.served == 1 && echo.bad == 0); /* the receive was restarted */
	/* registers of a native thread are not available */
	CHECK(TAG_ERROR(KCALL(SRV_THREAD, PROTO_THREAD, THREAD_GET_REGS)) == KERR_NOSYS);
	kernel_stop(0);
}

/* a thread paused in its receive restarts the receive on resume */
static void pause_resume_receiver(void **state)
{
	assert_int_equal(boot(root_pause), 0);
}

static void root_stop(void *arg)
{
	kernel_stop(42);
	CHECK(0); /* not reached */
}

/* kernel_boot returns kernel_stop's code; a node boots twice in a process */
static void stop_code_and_reboot(void **state)
{
	assert_int_equal(boot(root_stop), 42);
	assert_int_equal(boot(root_stop), 42);
}

static void root_deadlock(void *arg)
{
	kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER, NULL);
}

/* nothing runnable, nothing pending: kernel_boot reports -1 */
static void deadlock_detected(void **state)
{
	assert_int_equal(boot(root_deadlock), -1);
	assert_int_equal(failed_line, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(pause_resume_receiver),
	    cmocka_unit_test(stop_code_and_reboot),
	    cmocka_unit_test(deadlock_detected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
