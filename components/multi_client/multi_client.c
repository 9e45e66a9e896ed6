/*
 * multi_client: a client of multi_server's "Counter" service, routed by
 * init.  What it does is chosen by its start name, which it learns from
 * the label init gave its first session (COUNTER_LABEL: "<name> -> who"):
 *
 *   quota*    bad requests: more quota than it has (-EDQUOT, nothing
 *             moved), a service nobody provides (-ENOENT); then opens, uses
 *             and closes a session 100 times: its PD quota and the
 *             server's (ram and cap use) must be the same afterwards
 *   upgrade*  upgrades a session within and beyond its quota
 *   close*    closes a session and calls it again (must fail cleanly), then
 *             has the server quit and checks its quota came back
 *   other     increments its counter three times, votes for the server
 *             to quit once MULTI_CLIENTS such clients are done, and exits
 *
 * Every check is logged; the exit code is 0 only if all of them held.
 */
#include <base/env.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../multi_server/counter_service.h"

#define SESSION_ARGS "label=\"counter\", ram_quota=8192, cap_quota=4"
/* init takes a cap for each session on top of its cap_quota (back on close) */
#define SESSION_CAP   1
#define LEAK_ROUNDS   100
#define MULTI_CLIENTS 3 /* counting clients in the example (multi.xml) */

static struct env *cl_env;
static int failed;

static void check(int ok, const char *what)
{
	env_log(cl_env, "client: %s: %s", what, ok ? "ok" : "FAILED");
	failed |= !ok;
}

static int quota(struct pd_quota *q)
{
	int rc = pd_quota_get(cl_env->pd, q);

	if (rc)
		env_log(cl_env, "client: PD_QUOTA failed (%d)", rc);
	return rc;
}

static void log_quota(const char *when, const struct pd_quota *q)
{
	env_log(cl_env, "client: quota %s: ram %llu/%llu caps %llu/%llu", when,
		(unsigned long long)q->ram_used, (unsigned long long)q->ram_quota,
		(unsigned long long)q->cap_used, (unsigned long long)q->cap_quota);
}

static int same_quota(const struct pd_quota *a, const struct pd_quota *b)
{
	return !memcmp(a, b, sizeof *a);
}

/* COUNTER_INC on s: 0 with *v, or the error (transport or server). */
static int inc(cap_t s, uint64_t *v)
{
	struct msg m;
	int rc;

	msg_reset(&m, COUNTER_INC);
	if ((rc = rpc_call(s, &m)))
		return rc;
	if (m.code != RPC_OK || m.nwords < 1)
		return m.code == RPC_INVALID_OBJECT ? -EBADF : -EPROTO;
	*v = m.w[0];
	return 0;
}

/* COUNTER_STATS: w[0..5) into st. */
static int stats(cap_t s, uint64_t st[5])
{
	struct msg m;
	int rc;

	msg_reset(&m, COUNTER_STATS);
	if ((rc = rpc_call(s, &m)))
		return rc;
	if (m.code != RPC_OK || m.nwords < 5)
		return -EPROTO;
	memcpy(st, m.w, 5 * sizeof st[0]);
	return 0;
}

static int quit(cap_t s, uint64_t quorum, uint64_t when_idle)
{
	struct msg m;
	int rc;

	msg_reset(&m, COUNTER_QUIT);
	msg_put(&m, quorum);
	msg_put(&m, when_idle);
	if ((rc = rpc_call(s, &m)))
		return rc;
	return m.code == RPC_OK ? 0 : -EPROTO;
}

static int open_counter(const char *args, cap_t *s)
{
	int rc = env_session(cl_env, "Counter", args, s);

	if (rc)
		env_log(cl_env, "client: Counter session failed (%d)", rc);
	return rc;
}

static void counting(void)
{
	uint64_t v = 0;
	cap_t s;

	if (open_counter(SESSION_ARGS, &s))
		env_exit(cl_env, 1);
	for (int i = 0; i < 3; i++) {
		if (inc(s, &v))
			env_exit(cl_env, 1);
		env_log(cl_env, "client: counter = %llu", (unsigned long long)v);
	}
	/* the server ends once all the example's clients are done */
	if (quit(s, MULTI_CLIENTS, 1) || parent_close(cl_env->parent, s))
		env_exit(cl_env, 1);
	cap_release(s);
}

static void leak(void)
{
	struct pd_quota before, after;
	uint64_t st0[5], st1[5], v;
	cap_t probe, s;
	int n = 0;

	if (open_counter("label=\"probe\"", &probe) || stats(probe, st0) ||
	    quota(&before))
		env_exit(cl_env, 1);
	for (; n < LEAK_ROUNDS; n++) {
		if (open_counter(SESSION_ARGS, &s))
			break;
		if (inc(s, &v) || v != 1 || parent_close(cl_env->parent, s))
			break;
		cap_release(s);
	}
	if (quota(&after) || stats(probe, st1))
		env_exit(cl_env, 1);
	env_log(cl_env, "client: %d sessions opened, used and closed", n);
	log_quota("before", &before);
	log_quota("after", &after);
	env_log(cl_env,
		"client: server before: %llu sessions, ram used %llu, caps used %llu",
		(unsigned long long)st0[0], (unsigned long long)st0[2],
		(unsigned long long)st0[4]);
	env_log(cl_env,
		"client: server after: %llu sessions, ram used %llu, caps used %llu",
		(unsigned long long)st1[0], (unsigned long long)st1[2],
		(unsigned long long)st1[4]);
	check(n == LEAK_ROUNDS, "all rounds done");
	check(same_quota(&before, &after), "own quota unchanged");
	check(!memcmp(st0, st1, sizeof st0),
	      "server's sessions, quota and caps unchanged");
}

static void bad_quota(void)
{
	struct pd_quota before, after;
	char args[128];
	cap_t s = CAP_INVALID;
	int rc;

	if (quota(&before))
		env_exit(cl_env, 1);
	snprintf(args, sizeof args, "label=\"greedy\", ram_quota=%llu",
		 (unsigned long long)(before.ram_quota - before.ram_used + 4096));
	rc = env_session(cl_env, "Counter", args, &s);
	env_log(cl_env, "client: session beyond its RAM quota: %d", rc);
	check(rc == -EDQUOT, "refused with -EDQUOT");
	snprintf(args, sizeof args, "label=\"greedy\", cap_quota=%llu",
		 (unsigned long long)(before.cap_quota - before.cap_used + 1));
	rc = env_session(cl_env, "Counter", args, &s);
	env_log(cl_env, "client: session beyond its cap quota: %d", rc);
	check(rc == -EDQUOT, "refused with -EDQUOT");
	rc = env_session(cl_env, "Nobody", "label=\"x\"", &s);
	env_log(cl_env, "client: session of a service nobody provides: %d", rc);
	check(rc == -ENOENT, "refused with -ENOENT");
	rc = env_session(cl_env, "Counter", "ram_quota=12K", &s);
	env_log(cl_env, "client: malformed quota: %d", rc);
	check(rc == -EINVAL, "refused with -EINVAL");
	if (quota(&after))
		env_exit(cl_env, 1);
	log_quota("before", &before);
	log_quota("after", &after);
	check(same_quota(&before, &after), "nothing moved");
}

static void upgrade(void)
{
	struct pd_quota q0, q1, q2, q3;
	char args[96];
	cap_t s;
	int rc;

	if (quota(&q0) || open_counter(SESSION_ARGS, &s) || quota(&q1))
		env_exit(cl_env, 1);
	check(q1.ram_quota == q0.ram_quota - 8192 &&
		  q1.cap_quota == q0.cap_quota - 4 - SESSION_CAP,
	      "the session's quota left this component");
	rc = parent_upgrade(cl_env->parent, s, "ram_quota=16384, cap_quota=2");
	if (quota(&q2))
		env_exit(cl_env, 1);
	env_log(cl_env, "client: upgrade by 16384 bytes and 2 caps: %d", rc);
	check(!rc && q2.ram_quota == q1.ram_quota - 16384 &&
		  q2.cap_quota == q1.cap_quota - 2,
	      "upgrade moved the quota");
	snprintf(args, sizeof args, "ram_quota=%llu",
		 (unsigned long long)(q2.ram_quota - q2.ram_used + 4096));
	rc = parent_upgrade(cl_env->parent, s, args);
	env_log(cl_env, "client: upgrade beyond its quota: %d", rc);
	check(rc == -EDQUOT, "refused with -EDQUOT");
	rc = parent_upgrade(cl_env->parent, s, "ram_quota=-1");
	check(rc == -EINVAL, "malformed upgrade refused with -EINVAL");
	if (quota(&q3))
		env_exit(cl_env, 1);
	check(same_quota(&q2, &q3), "nothing moved by refused upgrades");
	rc = parent_close(cl_env->parent, s);
	cap_release(s);
	if (quota(&q3))
		env_exit(cl_env, 1);
	log_quota("before", &q0);
	log_quota("after close", &q3);
	check(!rc && same_quota(&q0, &q3), "close gave everything back");

	/* the same for a session init routes to its parent (core) */
	rc = env_session(cl_env, "LOG", "label=\"extra\", ram_quota=4096, cap_quota=1",
			 &s);
	if (rc || quota(&q1))
		env_exit(cl_env, 1);
	rc = parent_upgrade(cl_env->parent, s, "ram_quota=4096");
	if (quota(&q2))
		env_exit(cl_env, 1);
	check(q1.ram_quota == q0.ram_quota - 4096 &&
		  q1.cap_quota == q0.cap_quota - 1 - SESSION_CAP && !rc &&
		  q2.ram_quota == q1.ram_quota - 4096,
	      "a session at core is paid and upgraded the same way");
	rc = parent_close(cl_env->parent, s);
	cap_release(s);
	if (quota(&q3))
		env_exit(cl_env, 1);
	check(!rc && same_quota(&q0, &q3), "its close gave everything back");
}

static void close_test(void)
{
	struct pd_quota q0, q1;
	uint64_t v = 0;
	cap_t s;
	int rc;

	if (quota(&q0) || open_counter(SESSION_ARGS, &s) || inc(s, &v))
		env_exit(cl_env, 1);
	rc = parent_close(cl_env->parent, s);
	check(!rc, "session closed");
	rc = inc(s, &v);
	env_log(cl_env, "client: call on the closed session: %d", rc);
	check(rc < 0, "fails cleanly");
	rc = parent_close(cl_env->parent, s);
	env_log(cl_env, "client: closing it again: %d", rc);
	check(rc == -EINVAL, "refused with -EINVAL");
	cap_release(s);

	/* the server ends while we hold a session at it */
	if (open_counter(SESSION_ARGS, &s) || inc(s, &v))
		env_exit(cl_env, 1);
	check(!quit(s, 1, 0), "server told to quit");
	rc = inc(s, &v);
	env_log(cl_env, "client: call after the server ended: %d", rc);
	check(rc < 0, "fails cleanly");
	cap_release(s);
	if (quota(&q1))
		env_exit(cl_env, 1);
	log_quota("before", &q0);
	log_quota("after", &q1);
	check(same_quota(&q0, &q1), "quota back from the ended server");
}

/* Let the server end once no session is open (this is its only client). */
static void stop_server(void)
{
	cap_t s;

	if (open_counter("label=\"bye\"", &s))
		return;
	check(!quit(s, 1, 1) && !parent_close(cl_env->parent, s), "server told to quit");
	cap_release(s);
}

/* This component's start name: the label init prefixed to a probe
 * session's label "who" (into buf). */
static int own_name(char *buf, unsigned size)
{
	char *arrow;
	struct msg m;
	unsigned pos = 0;
	cap_t s;
	int rc;

	if ((rc = open_counter("label=\"who\"", &s)))
		return rc;
	msg_reset(&m, COUNTER_LABEL);
	rc = rpc_call(s, &m);
	if (!rc && (m.code != RPC_OK || msg_get_str(&m, &pos, buf, size)))
		rc = -EPROTO;
	parent_close(cl_env->parent, s);
	cap_release(s);
	if (rc)
		return rc;
	arrow = strstr(buf, " -> ");
	if (!arrow || strcmp(arrow, " -> who"))
		return -EPROTO;
	*arrow = 0;
	return 0;
}

void component_construct(struct env *env)
{
	char l[64];

	cl_env = env;
	if (own_name(l, sizeof l))
		env_exit(env, 1);
	if (!strncmp(l, "quota", 5)) {
		bad_quota();
		leak();
		stop_server();
	} else if (!strncmp(l, "upgrade", 7)) {
		upgrade();
		stop_server();
	} else if (!strncmp(l, "close", 5)) {
		close_test(); /* the server is gone afterwards */
	} else {
		counting();
	}
	env_log(env, "client: done");
	env_exit(env, failed);
}
