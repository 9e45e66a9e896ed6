/*
 * External irq lines (kernel/irq_line.c): a host pthread raises a line
 * while the node idles; the native thread bound to the line's Irq
 * receives one trigger per drain; binding rules; sequential boots leave
 * no binding behind; two nodes running at once each get their own raises.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#include "kernel_node.h"

#define IRQ_A	 KCAP(0x350)
#define IRQ_B	 KCAP(0x351)
#define TASK_X	 KCAP(0x360)
#define THREAD_X KCAP(0x361)
#define LINE	 5
#define KERR(t)	 TAG_ERROR(t)

/* ---- a host thread raising the line ------------------------------------ */

static atomic_uint received; /* triggers the node received */
static atomic_int bound;     /* the node bound the line */

static void *raiser(void *arg)
{
	unsigned n = (unsigned)(uintptr_t)arg;

	while (!atomic_load(&bound))
		usleep(1000);
	for (unsigned i = 0; i < n; i++) {
		usleep(5000); /* the node is idle (ppoll) by now */
		if (kernel_line_raise(LINE))
			return (void *)1;
		while (atomic_load(&received) < i + 1)
			usleep(500);
	}
	return NULL;
}

static void root_wait_line(void *arg)
{
	uint64_t label, tag;

	CHECK(create(IRQ_A, FACTORY_IRQ, 0, 0) == KERR_OK);
	CHECK(!KERR(KCALL(IRQ_A, PROTO_IRQ, IRQ_BIND, ROOT_THREAD, 0x70)));
	CHECK(!KERR(KCALL(IRQ_A, PROTO_IRQ, IRQ_LINE, LINE)));
	atomic_store(&bound, 1);
	for (unsigned i = 0; i < 3; i++) {
		/* open wait, no timeout pending anywhere: not a deadlock */
		tag = kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER, &label);
		CHECK(!KERR(tag) && label == 0x70 && TAG_WORDS(tag) == 0);
		atomic_fetch_add(&received, 1);
	}
	kernel_stop(0);
}

/* a host pthread raises the line three times; the idle node wakes each time */
static void host_thread_raises(void **state)
{
	pthread_t th;
	void *res;

	failed_line = 0;
	atomic_store(&received, 0);
	atomic_store(&bound, 0);
	assert_int_equal(pthread_create(&th, NULL, raiser, (void *)3), 0);
	assert_int_equal(kernel_boot(root_wait_line, NULL), 0);
	assert_int_equal(pthread_join(th, &res), 0);
	assert_null(res);
	assert_int_equal(atomic_load(&received), 3);
	/* the node is gone: so is its binding */
	assert_int_equal(kernel_line_raise(LINE), -ENODEV);
}

/* ---- binding rules ------------------------------------------------------ */

static unsigned other_task_result = ~0u;
static void other_task_binds(void *arg)
{
	other_task_result = KERR(KCALL(IRQ_B, PROTO_IRQ, IRQ_LINE, LINE + 1));
	kernel_native_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER, NULL);
}

static void root_rules(void *arg)
{
	uint64_t label;

	CHECK(create(IRQ_A, FACTORY_IRQ, 0, 0) == KERR_OK);
	CHECK(create(IRQ_B, FACTORY_IRQ, 0, 0) == KERR_OK);
	CHECK(KERR(KCALL(IRQ_A, PROTO_IRQ, IRQ_LINE)) == KERR_INVAL);
	CHECK(KERR(KCALL(IRQ_A, PROTO_IRQ, IRQ_LINE, KERNEL_LINES)) == KERR_RANGE);
	CHECK(!KERR(KCALL(IRQ_A, PROTO_IRQ, IRQ_LINE, LINE)));
	CHECK(KERR(KCALL(IRQ_B, PROTO_IRQ, IRQ_LINE, LINE)) == KERR_BUSY);
	/* bound, but the irq has no thread: the raise is counted, not lost */
	CHECK(kernel_line_raise(LINE) == 0);
	CHECK(kernel_line_raise(LINE + 1) == -ENODEV);
	CHECK(!KERR(KCALL(IRQ_A, PROTO_IRQ, IRQ_BIND, ROOT_THREAD, 0x40)));
	CHECK(!KERR(
	    kernel_native_invoke(IRQ_A, TAG(SYS_OP_WAIT, 0, 0, 0), 100000, &label)));
	CHECK(label == 0x40);
	/* a task other than the root may not bind lines */
	CHECK(create(TASK_X, FACTORY_TASK, TASK_NATIVE, 0) == KERR_OK);
	CHECK(!KERR(KCALL(TASK_X, PROTO_TASK, TASK_MAP, KCAP_INVALID, IRQ_B | RIGHTS_ALL,
			  IRQ_B)));
	CHECK(create(THREAD_X, FACTORY_THREAD, 0, 0) == KERR_OK);
	CHECK(!KERR(
	    KCALL(THREAD_X, PROTO_THREAD, THREAD_CONTROL, TASK_X, 0, KCAP_INVALID, 1)));
	CHECK(!KERR(KCALL(THREAD_X, PROTO_THREAD, THREAD_EX_REGS,
			  (uint64_t)(uintptr_t)other_task_binds, 0)));
	kernel_native_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), 2000, NULL);
	CHECK(other_task_result == KERR_PERM);
	/* destroying the irq frees the line for another irq */
	CHECK(!KERR(KCALL(ROOT_TASK, PROTO_TASK, TASK_UNMAP, IRQ_A, UNMAP_SELF)));
	kernel_native_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), 0, NULL); /* reap */
	CHECK(kernel_line_raise(LINE) == -ENODEV);
	CHECK(!KERR(KCALL(IRQ_B, PROTO_IRQ, IRQ_LINE, LINE)));
	kernel_stop(0);
}

/* IRQ_LINE: argument checks, one irq per line, root task only, freed on kill */
static void binding_rules(void **state)
{
	failed_line = 0;
	assert_int_equal(kernel_boot(root_rules, NULL), 0);
	assert_int_equal(failed_line, 0);
	assert_int_equal(kernel_line_raise(LINE), -ENODEV);
	assert_int_equal(kernel_line_raise(KERNEL_LINES), -EINVAL);
}

/* ---- deadlock detection stays without a bound line ---------------------- */

static void root_unbound_then_wait(void *arg)
{
	CHECK(create(IRQ_A, FACTORY_IRQ, 0, 0) == KERR_OK);
	CHECK(!KERR(KCALL(IRQ_A, PROTO_IRQ, IRQ_LINE, LINE)));
	CHECK(!KERR(KCALL(ROOT_TASK, PROTO_TASK, TASK_UNMAP, IRQ_A, UNMAP_SELF)));
	kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER, NULL);
}

/* once the irq holding the only line is gone, a stuck node is a deadlock */
static void deadlock_without_line(void **state)
{
	failed_line = 0;
	assert_int_equal(kernel_boot(root_unbound_then_wait, NULL), -1);
	assert_int_equal(failed_line, 0);
}

/* two boots in a row each bind the same line (the first left nothing) */
static void sequential_boots(void **state)
{
	pthread_t th;

	for (int i = 0; i < 2; i++) {
		atomic_store(&received, 0);
		atomic_store(&bound, 0);
		assert_int_equal(pthread_create(&th, NULL, raiser, (void *)3), 0);
		assert_int_equal(kernel_boot(root_wait_line, NULL), 0);
		assert_int_equal(pthread_join(th, NULL), 0);
		assert_int_equal(atomic_load(&received), 3);
	}
}

/* ---- two nodes at once, each with its own line -------------------------- */

#define TWO_LINE0  10
#define TWO_ROUNDS 20

static atomic_uint two_received[2];
static atomic_int two_bound;

/* Node on its own host thread: bind line arg, receive TWO_ROUNDS
 * triggers, each within a second (a raise the other node swallowed would
 * never come). */
static void root_own_line(void *arg)
{
	unsigned line = (unsigned)(uintptr_t)arg, me = line - TWO_LINE0;
	uint64_t label, tag;

	CHECK(create(IRQ_A, FACTORY_IRQ, 0, 0) == KERR_OK);
	CHECK(!KERR(KCALL(IRQ_A, PROTO_IRQ, IRQ_BIND, ROOT_THREAD, 0x80 + me)));
	CHECK(!KERR(KCALL(IRQ_A, PROTO_IRQ, IRQ_LINE, line)));
	atomic_fetch_add(&two_bound, 1);
	for (unsigned i = 0; i < TWO_ROUNDS; i++) {
		tag = kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), 1000000, &label);
		CHECK(!KERR(tag) && label == 0x80 + me);
		atomic_fetch_add(&two_received[me], 1);
	}
	kernel_stop(0);
}

static void *two_node(void *arg)
{
	return (void *)(intptr_t)kernel_boot(root_own_line, arg);
}

/* Raise both lines back to back, round after round: each node is woken
 * for its own line and drains only its own. */
static void two_nodes_own_lines(void **state)
{
	pthread_t th[2];
	void *res[2];

	failed_line = 0;
	atomic_store(&two_bound, 0);
	for (int i = 0; i < 2; i++) {
		atomic_store(&two_received[i], 0);
		assert_int_equal(pthread_create(&th[i], NULL, two_node,
						(void *)(uintptr_t)(TWO_LINE0 + i)),
				 0);
	}
	while (atomic_load(&two_bound) < 2 && !failed_line)
		usleep(1000);
	for (unsigned r = 0; r < TWO_ROUNDS && !failed_line; r++) {
		assert_int_equal(kernel_line_raise(TWO_LINE0), 0);
		assert_int_equal(kernel_line_raise(TWO_LINE0 + 1), 0);
		for (int ms = 0; ms < 2000 && !failed_line &&
				 (atomic_load(&two_received[0]) <= r ||
				  atomic_load(&two_received[1]) <= r);
		     ms++)
			usleep(1000);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], &res[i]), 0);
	assert_int_equal(failed_line, 0);
	assert_int_equal((intptr_t)res[0], 0);
	assert_int_equal((intptr_t)res[1], 0);
	assert_int_equal(atomic_load(&two_received[0]), TWO_ROUNDS);
	assert_int_equal(atomic_load(&two_received[1]), TWO_ROUNDS);
	/* both lines are free again */
	assert_int_equal(kernel_line_raise(TWO_LINE0), -ENODEV);
	assert_int_equal(kernel_line_raise(TWO_LINE0 + 1), -ENODEV);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(host_thread_raises),    cmocka_unit_test(binding_rules),
	    cmocka_unit_test(deadlock_without_line), cmocka_unit_test(sequential_boots),
	    cmocka_unit_test(two_nodes_own_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
