/*
 * Shared by the kernel tests (test_kernel_*.c): a node booted with
 * kernel_boot whose root thread (native, like core) creates tasks,
 * threads, gates and irqs through the factory protocol.  CHECK stops the
 * node with 1000 + its line.  Only native threads here; the guest tests
 * map their own memory.  Header-only: each test file is its own binary.
 */
#ifndef TESTS_UNIT_KERNEL_NODE_H
#define TESTS_UNIT_KERNEL_NODE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <capsule/abi.h>
#include <capsule/native.h>
#include "kernel/kernel.h"

static int failed_line;
#define CHECK(c)                                                                         \
	do {                                                                             \
		if (!(c)) {                                                              \
			fprintf(stderr, "CHECK failed line %d: %s\n", __LINE__, #c);     \
			failed_line = __LINE__;                                          \
			kernel_stop(1000 + __LINE__);                                    \
		}                                                                        \
	} while (0)

#define ROOT_TASK   KCAP(FIXED_TASK)
#define ROOT_THREAD KCAP_THREAD(0, THREAD_SLOT_GATE)
#define NEVER	    SYS_TIMEOUT_NEVER

static inline uint64_t kcall_v(uint64_t kcap, unsigned proto, const uint64_t *w,
			       unsigned n)
{
	struct utcb *u = kernel_native_utcb();
	uint64_t label;

	for (unsigned i = 0; i < n; i++)
		u->mr[i] = w[i];
	return kernel_native_invoke(kcap, TAG(SYS_OP_CALL, proto, n, 0), NEVER, &label);
}
#define KCALL(kcap, proto, ...)                                                          \
	kcall_v(kcap, proto, (const uint64_t[]){__VA_ARGS__},                            \
		sizeof((const uint64_t[]){__VA_ARGS__}) / sizeof(uint64_t))

/* Create an object with the factory, its cap landing at dst. */
static inline unsigned create(uint64_t dst, uint64_t op, uint64_t a1, uint64_t a2)
{
	kernel_native_utcb()->br[0] = dst;
	uint64_t t = KCALL(KCAP(FIXED_FACTORY), PROTO_FACTORY, op, a1, a2);
	if (!TAG_ERROR(t))
		CHECK(TAG_ITEMS(t) == 1 &&
		      kernel_native_utcb()->mr[0] == (dst | RIGHTS_ALL));
	return TAG_ERROR(t);
}

/* New native thread at kcap th in task, started at fn(arg). */
static inline void spawn(uint64_t task, uint64_t th, unsigned nr, native_entry_t fn,
			 void *arg)
{
	CHECK(create(th, FACTORY_THREAD, 0, 0) == KERR_OK);
	CHECK(!TAG_ERROR(
	    KCALL(th, PROTO_THREAD, THREAD_CONTROL, task, 0, KCAP_INVALID, nr)));
	CHECK(!TAG_ERROR(KCALL(th, PROTO_THREAD, THREAD_EX_REGS, (uint64_t)(uintptr_t)fn,
			       (uint64_t)(uintptr_t)arg)));
}

static inline unsigned sleep_us(uint64_t us)
{
	uint64_t label;
	return TAG_ERROR(
	    kernel_native_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), us, &label));
}

static inline unsigned thread_state(uint64_t th)
{
	CHECK(!TAG_ERROR(KCALL(th, PROTO_THREAD, THREAD_STATE)));
	return (unsigned)kernel_native_utcb()->mr[0];
}

static inline int boot(native_entry_t root)
{
	failed_line = 0;
	return kernel_boot(root, NULL);
}

/* ---- an echo server in its own task ------------------------------------- */

struct echo {
	uint64_t label;	 /* label of the last request */
	unsigned served; /* requests answered */
	unsigned bad;	 /* receives that returned an error */
	uint64_t infotype, inforights;
};
static struct echo echo;

#define SRV_TASK   KCAP(0x300)
#define SRV_THREAD KCAP(0x301)
#define SRV_GATE   KCAP(0x302)
#define SRV_WINDOW KCAP(0x600)

/* Receives; answers mr[0]+mr[1], and for a map item its type and rights. */
static inline void echo_server(void *arg)
{
	struct utcb *u = kernel_native_utcb();
	uint64_t label, tag;

	u->br[0] = SRV_WINDOW;
	tag = kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER, &label);
	for (;;) {
		if (TAG_ERROR(tag)) {
			echo.bad++;
			tag = kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER,
						   &label);
			continue;
		}
		uint64_t sum = u->mr[0] + u->mr[1], item = TAG_ITEMS(tag) ? u->mr[2] : 0;
		echo.label = label;
		if (item) {
			/* ask our own task what arrived in the window */
			u->mr[0] = TASK_CAP_INFO;
			u->mr[1] = item & ~0xfffULL;
			kernel_native_invoke(KCAP(FIXED_TASK),
					     TAG(SYS_OP_CALL, PROTO_TASK, 2, 0), NEVER,
					     NULL);
			echo.infotype = u->mr[0];
			echo.inforights = u->mr[1];
		}
		echo.served++;
		u->mr[0] = sum;
		u->mr[1] = item;
		tag = kernel_native_invoke(0, TAG(SYS_OP_REPLY_WAIT, 0, 2, 0), NEVER,
					   &label);
	}
}

/* Task with the echo server, its own task cap mapped at FIXED_TASK, and a
 * gate labelled 0x40 bound to it at SRV_GATE. */
static inline void start_echo(void)
{
	echo = (struct echo){0};
	CHECK(create(SRV_TASK, FACTORY_TASK, TASK_NATIVE, 0) == KERR_OK);
	CHECK(!TAG_ERROR(KCALL(SRV_TASK, PROTO_TASK, TASK_MAP, KCAP_INVALID,
			       SRV_TASK | RIGHTS_ALL, KCAP(FIXED_TASK))));
	spawn(SRV_TASK, SRV_THREAD, 1, echo_server, NULL);
	CHECK(create(SRV_GATE, FACTORY_GATE, SRV_THREAD, 0x40) == KERR_OK);
}

static inline uint64_t call_echo(uint64_t gate, uint64_t a, uint64_t b, uint64_t timeout)
{
	struct utcb *u = kernel_native_utcb();
	uint64_t label;

	u->mr[0] = a;
	u->mr[1] = b;
	return kernel_native_invoke(gate, TAG(SYS_OP_CALL, 0, 2, 0), timeout, &label);
}

#endif
