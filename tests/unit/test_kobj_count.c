/*
 * The node's live-object and mapping counters (FACTORY_STATS): a node
 * booted with kernel_boot whose root thread creates and destroys objects
 * through the factory and checks that the counts go up by exactly what it
 * made and come back to where they started, also after failed creations
 * and after tearing down threads in the middle of IPC.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <capsule/abi.h>
#include <capsule/native.h>

#include "kernel_node.h"

/* kernel_node.h: CHECK, KCALL, create, boot, ROOT_*, SRV_TASK/THREAD/GATE */
#define FACTORY KCAP(FIXED_FACTORY)
#define SRV_IRQ KCAP(0x303)

struct counts {
	uint64_t w[FACTORY_STAT_WORDS];
};

/* The node's counters now (no receive window needed). */
static struct counts counts(void)
{
	struct utcb *u = kernel_native_utcb();
	struct counts c = {{0}};
	uint64_t tag;

	u->br[0] = KCAP_INVALID;
	tag = KCALL(FACTORY, PROTO_FACTORY, FACTORY_STATS);
	CHECK(!TAG_ERROR(tag) && TAG_WORDS(tag) == FACTORY_STAT_WORDS &&
	      TAG_ITEMS(tag) == 0);
	memcpy(c.w, u->mr, sizeof(c.w));
	return c;
}

/* c + the deltas given (tasks, threads, gates, irqs, mappings). */
static struct counts plus(struct counts c, int tasks, int threads, int gates, int irqs,
			  int mappings)
{
	c.w[FACTORY_STAT_TASKS] += tasks;
	c.w[FACTORY_STAT_THREADS] += threads;
	c.w[FACTORY_STAT_GATES] += gates;
	c.w[FACTORY_STAT_IRQS] += irqs;
	c.w[FACTORY_STAT_MAPPINGS] += mappings;
	return c;
}

static int same(struct counts a, struct counts b)
{
	if (!memcmp(a.w, b.w, sizeof(a.w)))
		return 1;
	for (unsigned i = 0; i < FACTORY_STAT_WORDS; i++)
		fprintf(stderr, "  stat %u: %llu vs %llu\n", i,
			(unsigned long long)a.w[i], (unsigned long long)b.w[i]);
	return 0;
}

static unsigned unmap_self(uint64_t kcap)
{
	return TAG_ERROR(KCALL(ROOT_TASK, PROTO_TASK, TASK_UNMAP, kcap, UNMAP_SELF));
}

/* Receives forever; answers each call with its map item, if any. */
static void server(void *arg)
{
	struct utcb *u = kernel_native_utcb();
	uint64_t label, tag;

	u->br[0] = SRV_WINDOW;
	tag = kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER, &label);
	for (;;) {
		u->mr[0] = TAG_ERROR(tag) ? 0 : TAG_ITEMS(tag);
		tag = kernel_native_invoke(0, TAG(SYS_OP_REPLY_WAIT, 0, 1, 0), NEVER,
					   &label);
	}
}

/* A native task with its own cap, a server thread in it and a gate to it:
 * 1 task, 1 thread, 1 gate; mappings: 3 in the root + 1 in the task. */
static void start_server(void)
{
	CHECK(create(SRV_TASK, FACTORY_TASK, TASK_NATIVE, 0) == KERR_OK);
	CHECK(!TAG_ERROR(KCALL(SRV_TASK, PROTO_TASK, TASK_MAP, KCAP_INVALID,
			       SRV_TASK | RIGHTS_ALL, KCAP(FIXED_TASK))));
	CHECK(create(SRV_THREAD, FACTORY_THREAD, 0, 0) == KERR_OK);
	CHECK(!TAG_ERROR(KCALL(SRV_THREAD, PROTO_THREAD, THREAD_CONTROL, SRV_TASK, 0,
			       KCAP_INVALID, 1)));
	CHECK(!TAG_ERROR(KCALL(SRV_THREAD, PROTO_THREAD, THREAD_EX_REGS,
			       (uint64_t)(uintptr_t)server, 0)));
	CHECK(create(SRV_GATE, FACTORY_GATE, SRV_THREAD, 0x40) == KERR_OK);
}

static void stop_server(void)
{
	CHECK(unmap_self(SRV_GATE) == KERR_OK);
	CHECK(unmap_self(SRV_THREAD) == KERR_OK);
	CHECK(unmap_self(SRV_TASK) == KERR_OK);
}

/* ---- cases ---------------------------------------------------------------- */

static void root_boot_counts(void *arg)
{
	struct counts c = counts();

	CHECK(c.w[FACTORY_STAT_TASKS] == 1 && c.w[FACTORY_STAT_THREADS] == 1 &&
	      c.w[FACTORY_STAT_GATES] == 0 && c.w[FACTORY_STAT_IRQS] == 0 &&
	      c.w[FACTORY_STAT_FACTORIES] == 1 && c.w[FACTORY_STAT_MAPPINGS] == 3);
	/* asking twice changes nothing */
	CHECK(same(counts(), c));
	kernel_stop(0);
}

/* a booted node: the root task, its thread, the factory, their 3 caps */
static void boot_counts(void **state)
{
	assert_int_equal(boot(root_boot_counts), 0);
	assert_int_equal(failed_line, 0);
}

static void root_each_type(void *arg)
{
	struct counts c0 = counts();

	CHECK(create(KCAP(0x310), FACTORY_TASK, TASK_GUEST, 0) == KERR_OK);
	CHECK(same(counts(), plus(c0, 1, 0, 0, 0, 1)));
	CHECK(create(KCAP(0x311), FACTORY_THREAD, 0, 0) == KERR_OK);
	CHECK(same(counts(), plus(c0, 1, 1, 0, 0, 2)));
	CHECK(create(KCAP(0x312), FACTORY_GATE, ROOT_THREAD, 0x80) == KERR_OK);
	CHECK(same(counts(), plus(c0, 1, 1, 1, 0, 3)));
	CHECK(create(KCAP(0x313), FACTORY_IRQ, 0x77, 0) == KERR_OK);
	CHECK(same(counts(), plus(c0, 1, 1, 1, 1, 4)));
	/* a copy is one more mapping, not one more object */
	CHECK(!TAG_ERROR(KCALL(ROOT_TASK, PROTO_TASK, TASK_MAP, KCAP_INVALID,
			       KCAP(0x313) | RIGHTS_ALL, KCAP(0x314))));
	CHECK(same(counts(), plus(c0, 1, 1, 1, 1, 5)));
	/* revoking the original takes the copy with it */
	CHECK(unmap_self(KCAP(0x313)) == KERR_OK);
	CHECK(same(counts(), plus(c0, 1, 1, 1, 0, 3)));
	CHECK(unmap_self(KCAP(0x312)) == KERR_OK);
	CHECK(unmap_self(KCAP(0x311)) == KERR_OK);
	CHECK(unmap_self(KCAP(0x310)) == KERR_OK);
	CHECK(same(counts(), c0));
	kernel_stop(0);
}

/* one object of each type: +1 each, back to the start when destroyed */
static void each_type_up_and_down(void **state)
{
	assert_int_equal(boot(root_each_type), 0);
	assert_int_equal(failed_line, 0);
}

static void root_failed_creations(void *arg)
{
	struct counts c0 = counts();

	CHECK(create(KCAP(0x310), FACTORY_TASK, 7, 0) == KERR_INVAL);
	CHECK(create(KCAP(0x310), FACTORY_GATE, KCAP(0x777), 0x80) == KERR_INVAL_CAP);
	CHECK(create(KCAP(0x310), FACTORY_GATE, ROOT_TASK, 0x80) == KERR_INVAL_CAP);
	CHECK(create(KCAP(0x310), FACTORY_GATE, KCAP_INVALID, 0x81) == KERR_INVAL);
	CHECK(create(KCAP(0x310), 99, 0, 0) == KERR_NOSYS);
	CHECK(create(KCAP_NIL, FACTORY_THREAD, 0, 0) == KERR_INVAL);
	CHECK(same(counts(), c0));
	/* the factory protocol on anything but the factory */
	CHECK(TAG_ERROR(KCALL(ROOT_TASK, PROTO_FACTORY, FACTORY_STATS)) == KERR_NOSYS);
	/* a gate bound to a thread destroyed before the gate was made */
	CHECK(create(KCAP(0x311), FACTORY_THREAD, 0, 0) == KERR_OK);
	CHECK(!TAG_ERROR(KCALL(KCAP(0x311), PROTO_THREAD, THREAD_CONTROL, ROOT_TASK, 0,
			       KCAP_INVALID, 3)));
	CHECK(same(counts(), plus(c0, 0, 1, 0, 0, 1)));
	CHECK(unmap_self(KCAP(0x311)) == KERR_OK);
	CHECK(same(counts(), c0));
	CHECK(create(KCAP(0x310), FACTORY_GATE, KCAP(0x311), 0x80) == KERR_INVAL_CAP);
	CHECK(same(counts(), c0));
	kernel_stop(0);
}

/* refused creations and a stats request on a task leave nothing behind */
static void failed_creations_leave_nothing(void **state)
{
	assert_int_equal(boot(root_failed_creations), 0);
	assert_int_equal(failed_line, 0);
}

static void root_server_cycles(void *arg)
{
	struct utcb *u = kernel_native_utcb();
	struct counts c0 = counts(), c1;
	uint64_t tag, label;

	for (int round = 0; round < 50 && !failed_line; round++) {
		start_server();
		CHECK(same(counts(), plus(c0, 1, 1, 1, 0, 4)));
		/* a call carrying an irq cap: the server's window holds a copy */
		CHECK(create(SRV_IRQ, FACTORY_IRQ, 0x70, 0) == KERR_OK);
		u->mr[0] = 1;
		u->mr[1] = SRV_IRQ | RIGHT_R | RIGHT_W;
		tag = kernel_native_invoke(SRV_GATE, TAG(SYS_OP_CALL, 0, 1, 1), NEVER,
					   &label);
		CHECK(!TAG_ERROR(tag) && u->mr[0] == 1);
		c1 = plus(c0, 1, 1, 1, 1, 6);
		CHECK(same(counts(), c1));
		/* the server is killed while it waits for the next call */
		stop_server();
		CHECK(same(counts(), plus(c0, 0, 0, 0, 1, 1)));
		CHECK(unmap_self(SRV_IRQ) == KERR_OK);
		CHECK(same(counts(), c0));
	}
	kernel_stop(0);
}

/* a task with a running server, a gate and a cap passed in a call, made
 * and destroyed 50 times: the counts come back every time */
static void server_cycles_come_back(void **state)
{
	assert_int_equal(boot(root_server_cycles), 0);
	assert_int_equal(failed_line, 0);
}

/* The server's task asks for stats through its own FIXED_FACTORY slot. */
static unsigned asked_err;
static void asker(void *arg)
{
	struct utcb *u = kernel_native_utcb();
	uint64_t label;

	u->mr[0] = FACTORY_STATS;
	asked_err = TAG_ERROR(kernel_native_invoke(
	    FACTORY, TAG(SYS_OP_CALL, PROTO_FACTORY, 1, 0), NEVER, &label));
	kernel_native_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER, &label);
}

static void root_only_root_asks(void *arg)
{
	struct counts c0 = counts();
	uint64_t label;

	asked_err = KERR_OK;
	CHECK(create(SRV_TASK, FACTORY_TASK, TASK_NATIVE, 0) == KERR_OK);
	CHECK(create(SRV_THREAD, FACTORY_THREAD, 0, 0) == KERR_OK);
	CHECK(!TAG_ERROR(KCALL(SRV_THREAD, PROTO_THREAD, THREAD_CONTROL, SRV_TASK, 0,
			       KCAP_INVALID, 1)));
	CHECK(!TAG_ERROR(KCALL(SRV_THREAD, PROTO_THREAD, THREAD_EX_REGS,
			       (uint64_t)(uintptr_t)asker, 0)));
	/* let it run and block */
	kernel_native_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), 1000, &label);
	CHECK(asked_err == KERR_INVAL_CAP);
	CHECK(unmap_self(SRV_THREAD) == KERR_OK);
	CHECK(unmap_self(SRV_TASK) == KERR_OK);
	CHECK(same(counts(), c0));
	kernel_stop(0);
}

/* a task without the factory cannot ask: its FIXED_FACTORY slot is empty */
static void only_the_factory_holder_asks(void **state)
{
	assert_int_equal(boot(root_only_root_asks), 0);
	assert_int_equal(failed_line, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(boot_counts),
	    cmocka_unit_test(each_type_up_and_down),
	    cmocka_unit_test(failed_creations_leave_nothing),
	    cmocka_unit_test(server_cycles_come_back),
	    cmocka_unit_test(only_the_factory_holder_asks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
