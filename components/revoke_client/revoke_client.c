/*
 * revoke_client: uses the revoke_server's counter through every kind of
 * revocation and checks what it sees: a call through a revoked cap fails
 * cleanly with an error; the same object handed out again (same badge)
 * lands in the old cap map entry, whose kcap insert_map finds revoked
 * and replaces; a freed and re-managed object arrives as a new cap.
 */
#include <base/env.h>

#include "../revoke_server/revoke.h"

static struct env *rc_env;
static cap_t session;

static void fail(const char *what, int rc)
{
	env_log(rc_env, "client: %s failed (%d)", what, rc);
	env_exit(rc_env, 1);
}

static cap_t get_object(void)
{
	struct msg m;
	int rc;

	msg_reset(&m, REVOKE_OBJECT);
	if ((rc = rpc_call(session, &m)) || m.code != RPC_OK || m.ncaps < 1 ||
	    !cap_valid(m.caps[0]))
		fail("REVOKE_OBJECT", rc ? rc : -1);
	return m.caps[0];
}

static void simple(uint64_t op, const char *what)
{
	struct msg m;
	int rc;

	msg_reset(&m, op);
	if ((rc = rpc_call(session, &m)) || m.code != RPC_OK)
		fail(what, rc ? rc : -1);
}

/* COUNTER_INC: the new count, or the (negative) error. */
static long long inc(cap_t counter)
{
	struct msg m;
	int rc;

	msg_reset(&m, COUNTER_INC);
	rc = rpc_call(counter, &m);
	if (rc)
		return rc;
	if (m.code != RPC_OK || m.nwords < 1)
		return -1000 - (long long)m.code;
	return (long long)m.w[0];
}

void component_construct(struct env *env)
{
	cap_t c1, c2, c3;
	uint64_t kcap1;
	long long v;
	int rc;

	rc_env = env;
	if ((rc = env_session(env, "Revoke", "", &session)))
		fail("Revoke session", rc);
	c1 = get_object();
	kcap1 = cap_kcap(c1);
	env_log(env, "client: inc -> %lld", inc(c1));

	simple(REVOKE_COPIES, "REVOKE_COPIES");
	v = inc(c1);
	env_log(env, "client: inc through the revoked cap -> %s (%lld)",
		v < 0 ? "error" : "succeeded", v);
	c2 = get_object(); /* same badge: insert_map replaces the revoked kcap */
	env_log(env, "client: same object again: %s entry, inc -> %lld",
		c2.idx == c1.idx && cap_kcap(c2) == kcap1 ? "same" : "another", inc(c2));

	simple(REVOKE_FREE, "REVOKE_FREE");
	v = inc(c2);
	env_log(env, "client: inc through the freed cap -> %s (%lld)",
		v < 0 ? "error" : "succeeded", v);
	c3 = get_object(); /* re-managed: a new badge */
	env_log(env, "client: re-managed object: %s cap, inc -> %lld",
		cap_badge(c3) != cap_badge(c2) ? "new" : "old", inc(c3));
	cap_release(c1);
	cap_release(c2);
	cap_release(c3);
	simple(REVOKE_DONE, "REVOKE_DONE");
	env_exit(env, 0);
}
