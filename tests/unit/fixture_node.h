/*
 * Boot-a-node fixture for unit tests whose cases run as core's init: a
 * case is a native function of the test, run inside the node; its first
 * failing CHECK is recorded in the case and reported after kernel_boot
 * returns.  Header-only (each test file is its own binary).
 *
 * The including file defines, before including this header,
 *
 *   struct tcase {
 *           int (*run)(struct env *env, struct tcase *t);
 *           int fail_line;
 *           const char *fail_expr;
 *           ...                          (whatever else its cases keep)
 *   };
 *
 * and may define NODE_ALARM_S, the seconds after which a hanging node
 * kills the test (default 0: no limit).  NODE_CASE(name) then defines the
 * cmocka test `name` running case_name in a fresh node.
 */
#ifndef TESTS_UNIT_FIXTURE_NODE_H
#define TESTS_UNIT_FIXTURE_NODE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <cmocka.h>
#include <capsule/native.h>
#include <base/env.h>
#include "core/core.h"

#ifndef NODE_ALARM_S
#define NODE_ALARM_S 0
#endif

/* Inside a case: if e is false, record it in t and fail the case. */
#define CHECK(t, e)                                                                      \
	do {                                                                             \
		if (!(e)) {                                                              \
			(t)->fail_line = __LINE__;                                       \
			(t)->fail_expr = #e;                                             \
			return 1;                                                        \
		}                                                                        \
	} while (0)

/* An RPC to core with its error convention: 0 or the server's -errno. */
static inline int node_call(cap_t dst, struct msg *m)
{
	int rc = rpc_call(dst, m);

	if (rc)
		return rc;
	if (m->code == RPC_ERROR)
		return m->nwords ? (int)(int64_t)m->w[0] : -EIO;
	return m->code == RPC_OK ? 0 : -EPROTO;
}

/* PD_QUOTA: q[0] RAM quota, q[1] RAM used, q[2] cap quota, q[3] caps used. */
static inline int node_pd_quota(cap_t pd, uint64_t q[4])
{
	struct msg m;
	int rc;

	msg_reset(&m, PD_QUOTA);
	rc = node_call(pd, &m);
	for (int i = 0; !rc && i < 4; i++)
		q[i] = m.w[i];
	return rc;
}

/* The cap of init's own (first) thread. */
static inline cap_t node_own_thread(void)
{
	return (cap_t){cap_map_entry(cap_map(), KCAP_THREAD(0, THREAD_SLOT_GATE))};
}

/* init's construct: run the case, end the node with its result. */
static inline void node_run_case(struct env *env, void *arg)
{
	struct tcase *t = arg;

	parent_exit(env->parent, t->run(env, t));
}

/* After kernel_boot: core ended cleanly (status) and the node's exit code
 * is 0; else print the case's first failing check and fail the test. */
static inline void node_report(struct tcase *t, int status, int code)
{
	assert_int_equal(status, 0);
	if (code)
		fprintf(stderr, "failed at line %d: %s\n", t->fail_line,
			t->fail_expr ? t->fail_expr : "?");
	assert_int_equal(code, 0);
}

/* Boot a node whose init runs t->run, and check how it ended. */
static inline void node_boot(struct tcase *t)
{
	struct core_config cfg = {.init_construct = node_run_case, .init_arg = t};
	int code;

	alarm(NODE_ALARM_S); /* a starved node fails the test instead of hanging it */
	code = kernel_boot(core_main, &cfg);
	alarm(0);
	node_report(t, cfg.status, code);
}

#define NODE_CASE(name)                                                                  \
	static void name(void **state)                                                   \
	{                                                                                \
		struct tcase t = {.run = case_##name};                                   \
		node_boot(&t);                                                           \
	}

#endif
