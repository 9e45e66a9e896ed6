/*
 * Kernel objects and their caps: empty, revoked and unmapped kcaps, the
 * wrong protocol, destroying a task or thread under its partners,
 * TASK_MAP_OUT's all-or-none maps into several tasks, and TASK_CAP_EQUAL
 * across two tasks.
 */
#include "kernel_node.h"

static void root_inval_cap(void *arg)
{
	start_echo();
	CHECK(TAG_ERROR(call_echo(KCAP(0x777), 1, 1, NEVER)) == KERR_INVAL_CAP);
	CHECK(TAG_ERROR(call_echo(KCAP_INVALID, 1, 1, NEVER)) == KERR_INVAL_CAP);
	/* map, then unmap with UNMAP_SELF: the copy is gone */
	CHECK(!TAG_ERROR(KCALL(ROOT_TASK, PROTO_TASK, TASK_MAP, KCAP_INVALID,
			       SRV_GATE | RIGHTS_ALL, KCAP(0x320))));
	CHECK(!TAG_ERROR(call_echo(KCAP(0x320), 1, 1, NEVER)));
	CHECK(!TAG_ERROR(
	    KCALL(ROOT_TASK, PROTO_TASK, TASK_UNMAP, KCAP(0x320), UNMAP_SELF)));
	CHECK(TAG_ERROR(call_echo(KCAP(0x320), 1, 1, NEVER)) == KERR_INVAL_CAP);
	/* revoke: a copy given to the server's task goes when the root's
	 * cap is unmapped without UNMAP_SELF */
	CHECK(!TAG_ERROR(KCALL(SRV_TASK, PROTO_TASK, TASK_MAP, KCAP_INVALID,
			       SRV_GATE | RIGHTS_ALL, KCAP(0x330))));
	CHECK(!TAG_ERROR(KCALL(SRV_TASK, PROTO_TASK, TASK_CAP_VALID, KCAP(0x330))));
	CHECK(kernel_native_utcb()->mr[0] == 1);
	CHECK(!TAG_ERROR(KCALL(ROOT_TASK, PROTO_TASK, TASK_UNMAP, SRV_GATE, 0)));
	CHECK(!TAG_ERROR(KCALL(SRV_TASK, PROTO_TASK, TASK_CAP_VALID, KCAP(0x330))));
	CHECK(kernel_native_utcb()->mr[0] == 0);
	CHECK(!TAG_ERROR(call_echo(SRV_GATE, 1, 1, NEVER)));
	/* wrong protocol for the object, missing RIGHT_S, non-root MAP_MEM */
	CHECK(TAG_ERROR(KCALL(SRV_TASK, PROTO_THREAD, THREAD_STATE)) == KERR_NOSYS);
	CHECK(TAG_ERROR(KCALL(KCAP(0x311), PROTO_GATE, GATE_INFO)) == KERR_INVAL_CAP);
	kernel_stop(0);
}

/* empty, revoked and unmapped kcaps answer KERR_INVAL_CAP */
static void invalid_caps(void **state)
{
	assert_int_equal(boot(root_inval_cap), 0);
}

static unsigned client_err = ~0u;
static void client(void *arg)
{
	uint64_t gate = (uint64_t)(uintptr_t)arg;

	client_err = TAG_ERROR(call_echo(gate, 0, 0, NEVER));
	kernel_native_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER, NULL);
}

static void silent_server(void *arg)
{
	for (;;)
		kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER, NULL);
}

static void root_abort(void *arg)
{
	/* server takes the call and never replies; its task then dies */
	CHECK(create(KCAP(0x360), FACTORY_TASK, TASK_NATIVE, 0) == KERR_OK);
	spawn(KCAP(0x360), KCAP(0x361), 1, silent_server, NULL);
	CHECK(create(KCAP(0x362), FACTORY_GATE, KCAP(0x361), 0x10) == KERR_OK);
	spawn(ROOT_TASK, KCAP(0x363), 1, client, (void *)(uintptr_t)KCAP(0x362));
	CHECK(sleep_us(1000) == KERR_TIMEOUT);
	CHECK(thread_state(KCAP(0x363)) == TS_BLOCKED && client_err == ~0u);
	CHECK(!TAG_ERROR(
	    KCALL(ROOT_TASK, PROTO_TASK, TASK_UNMAP, KCAP(0x360), UNMAP_SELF)));
	CHECK(sleep_us(1000) == KERR_TIMEOUT);
	CHECK(client_err == KERR_ABORTED);
	CHECK(thread_state(KCAP(0x361)) == TS_DEAD);
	CHECK(TAG_ERROR(call_echo(KCAP(0x362), 0, 0, NEVER)) == KERR_ABORTED);

	/* a sender still queued at a thread that is destroyed */
	client_err = ~0u;
	CHECK(create(KCAP(0x370), FACTORY_THREAD, 0, 0) == KERR_OK);
	CHECK(create(KCAP(0x371), FACTORY_GATE, KCAP(0x370), 0x20) == KERR_OK);
	spawn(ROOT_TASK, KCAP(0x372), 2, client, (void *)(uintptr_t)KCAP(0x371));
	CHECK(sleep_us(1000) == KERR_TIMEOUT);
	CHECK(client_err == ~0u);
	CHECK(!TAG_ERROR(
	    KCALL(ROOT_TASK, PROTO_TASK, TASK_UNMAP, KCAP(0x370), UNMAP_SELF)));
	CHECK(sleep_us(1000) == KERR_TIMEOUT);
	CHECK(client_err == KERR_ABORTED);
	kernel_stop(0);
}

/* destroying a task or thread aborts the partners waiting on it */
static void destroy_aborts_partner(void **state)
{
	assert_int_equal(boot(root_abort), 0);
}

/* Is there a cap at kcap of task? */
static int valid_in(uint64_t task, uint64_t kcap)
{
	CHECK(!TAG_ERROR(KCALL(task, PROTO_TASK, TASK_CAP_VALID, kcap)));
	return (int)kernel_native_utcb()->mr[0];
}

#define OTHER_TASK KCAP(0x380)
#define GATE_RW	   (SRV_GATE | RIGHTS_ALL)

static void root_map_out(void *arg)
{
	start_echo();
	CHECK(create(OTHER_TASK, FACTORY_TASK, TASK_NATIVE, 0) == KERR_OK);
	/* refused, nothing mapped: an empty source, a task as a source with
	 * _GATES, a word count that is no triple, the same destination twice,
	 * a destination that is the source, unknown flags */
	CHECK(TAG_ERROR(KCALL(ROOT_TASK, PROTO_TASK, TASK_MAP_OUT, 0, SRV_TASK, GATE_RW,
			      KCAP(0x400), OTHER_TASK, KCAP(0x777), KCAP(0x400))) ==
	      KERR_INVAL_CAP);
	CHECK(TAG_ERROR(KCALL(ROOT_TASK, PROTO_TASK, TASK_MAP_OUT, TASK_MAP_OUT_GATES,
			      SRV_TASK, GATE_RW, KCAP(0x400), OTHER_TASK,
			      SRV_TASK | RIGHTS_ALL, KCAP(0x400))) == KERR_INVAL_CAP);
	CHECK(TAG_ERROR(KCALL(ROOT_TASK, PROTO_TASK, TASK_MAP_OUT, 0, SRV_TASK,
			      GATE_RW)) == KERR_INVAL);
	CHECK(TAG_ERROR(KCALL(ROOT_TASK, PROTO_TASK, TASK_MAP_OUT, 0, SRV_TASK, GATE_RW,
			      KCAP(0x400), SRV_TASK, GATE_RW, KCAP(0x400))) ==
	      KERR_INVAL);
	CHECK(TAG_ERROR(KCALL(ROOT_TASK, PROTO_TASK, TASK_MAP_OUT, 0, KCAP_INVALID,
			      GATE_RW, SRV_GATE)) == KERR_INVAL);
	CHECK(TAG_ERROR(KCALL(ROOT_TASK, PROTO_TASK, TASK_MAP_OUT, 8, SRV_TASK, GATE_RW,
			      KCAP(0x400))) == KERR_INVAL);
	CHECK(!valid_in(SRV_TASK, KCAP(0x400)) && !valid_in(OTHER_TASK, KCAP(0x400)));
	/* one call maps the gate into two tasks, each copy derived from the
	 * source slot */
	CHECK(!TAG_ERROR(KCALL(ROOT_TASK, PROTO_TASK, TASK_MAP_OUT, TASK_MAP_OUT_GATES,
			       SRV_TASK, GATE_RW, KCAP(0x400), OTHER_TASK, GATE_RW,
			       KCAP(0x400))));
	CHECK(valid_in(SRV_TASK, KCAP(0x400)) && valid_in(OTHER_TASK, KCAP(0x400)));
	/* _EMPTY refuses an occupied destination; replacing a slot that a
	 * source was derived from is refused (it would revoke the source) */
	CHECK(TAG_ERROR(KCALL(ROOT_TASK, PROTO_TASK, TASK_MAP_OUT, TASK_MAP_OUT_EMPTY,
			      SRV_TASK, GATE_RW, KCAP(0x400))) == KERR_INVAL_CAP);
	CHECK(!TAG_ERROR(
	    KCALL(ROOT_TASK, PROTO_TASK, TASK_MAP, KCAP_INVALID, GATE_RW, KCAP(0x420))));
	CHECK(TAG_ERROR(KCALL(ROOT_TASK, PROTO_TASK, TASK_MAP_OUT, 0, KCAP_INVALID,
			      KCAP(0x420) | RIGHTS_ALL, SRV_GATE)) == KERR_INVAL);
	CHECK(valid_in(ROOT_TASK, KCAP(0x420)));
	CHECK(!TAG_ERROR(call_echo(SRV_GATE, 1, 1, NEVER)));
	/* revoking the source takes the copies */
	CHECK(!TAG_ERROR(KCALL(ROOT_TASK, PROTO_TASK, TASK_UNMAP, SRV_GATE, 0)));
	CHECK(!valid_in(SRV_TASK, KCAP(0x400)) && !valid_in(OTHER_TASK, KCAP(0x400)));
	kernel_stop(0);
}

/* TASK_MAP_OUT: several maps out of one task in one call, all or none */
static void map_out(void **state)
{
	assert_int_equal(boot(root_map_out), 0);
}

/* TASK_CAP_EQUAL of a kcap in the invoked task against one in mr[3]'s */
static int equal_in(uint64_t task, uint64_t kcap, uint64_t mine, uint64_t where)
{
	CHECK(!TAG_ERROR(KCALL(task, PROTO_TASK, TASK_CAP_EQUAL, kcap, mine, where)));
	return (int)kernel_native_utcb()->mr[0];
}

static void root_cap_equal_across(void *arg)
{
	start_echo();
	CHECK(create(OTHER_TASK, FACTORY_TASK, TASK_NATIVE, 0) == KERR_OK);
	CHECK(!TAG_ERROR(
	    KCALL(OTHER_TASK, PROTO_TASK, TASK_MAP, KCAP_INVALID, GATE_RW, KCAP(0x430))));
	/* the other task's slot holds our gate, not our task cap; an empty
	 * slot holds nothing; a fourth word that names no task is refused */
	CHECK(equal_in(OTHER_TASK, KCAP(0x430), SRV_GATE, KCAP_INVALID) == 1);
	CHECK(equal_in(OTHER_TASK, KCAP(0x430), SRV_TASK, KCAP_INVALID) == 0);
	CHECK(equal_in(OTHER_TASK, KCAP(0x431), KCAP(0x431), KCAP_INVALID) == 0);
	CHECK(TAG_ERROR(KCALL(OTHER_TASK, PROTO_TASK, TASK_CAP_EQUAL, KCAP(0x430),
			      SRV_GATE, SRV_GATE)) == KERR_INVAL_CAP);
	/* the second kcap in a third task (the server's, where the gate is
	 * not); without the fourth word both are in the invoked task */
	CHECK(equal_in(OTHER_TASK, KCAP(0x430), SRV_GATE, SRV_TASK) == 0);
	CHECK(!TAG_ERROR(
	    KCALL(OTHER_TASK, PROTO_TASK, TASK_CAP_EQUAL, KCAP(0x430), SRV_GATE)));
	CHECK(kernel_native_utcb()->mr[0] == 0);
	/* more pairs: 1 only if every pair is the same object; half a pair
	 * is refused */
	CHECK(!TAG_ERROR(KCALL(OTHER_TASK, PROTO_TASK, TASK_MAP, KCAP_INVALID,
			       SRV_TASK | RIGHTS_ALL, KCAP(0x432))));
	CHECK(!TAG_ERROR(KCALL(OTHER_TASK, PROTO_TASK, TASK_CAP_EQUAL, KCAP(0x430),
			       SRV_GATE, KCAP_INVALID, KCAP(0x432), SRV_TASK)));
	CHECK(kernel_native_utcb()->mr[0] == 1);
	CHECK(!TAG_ERROR(KCALL(OTHER_TASK, PROTO_TASK, TASK_CAP_EQUAL, KCAP(0x430),
			       SRV_GATE, KCAP_INVALID, KCAP(0x432), SRV_GATE)));
	CHECK(kernel_native_utcb()->mr[0] == 0);
	CHECK(!TAG_ERROR(KCALL(OTHER_TASK, PROTO_TASK, TASK_CAP_EQUAL, KCAP(0x430),
			       SRV_GATE, KCAP_INVALID, KCAP(0x431), KCAP(0x431))));
	CHECK(kernel_native_utcb()->mr[0] == 0);
	CHECK(TAG_ERROR(KCALL(OTHER_TASK, PROTO_TASK, TASK_CAP_EQUAL, KCAP(0x430),
			      SRV_GATE, KCAP_INVALID, KCAP(0x432))) == KERR_INVAL);
	/* revoked: no longer the same */
	CHECK(!TAG_ERROR(KCALL(ROOT_TASK, PROTO_TASK, TASK_UNMAP, SRV_GATE, 0)));
	CHECK(equal_in(OTHER_TASK, KCAP(0x430), SRV_GATE, KCAP_INVALID) == 0);
	kernel_stop(0);
}

/* TASK_CAP_EQUAL across tasks: does a task hold one of the caller's
 * objects at a kcap (core's check of a PD named in place, PD_MAP_OUT) */
static void cap_equal_across(void **state)
{
	assert_int_equal(boot(root_cap_equal_across), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(invalid_caps),
	    cmocka_unit_test(destroy_aborts_partner),
	    cmocka_unit_test(map_out),
	    cmocka_unit_test(cap_equal_across),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
