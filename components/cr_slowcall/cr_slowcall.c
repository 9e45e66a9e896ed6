/*
 * cr_slowcall: a checkpoint/restore test target that is blocked in a call
 * a server has already taken when the checkpoint comes.  It opens an
 * "Echo" session at once and makes an ECHO_SLOW call (the server sleeps
 * ECHO_SLOW_US before replying), then ECHO_CALLS - 1 plain calls.  Every
 * answer is checked; exits 0 if all were right.  Under the monitor the
 * checkpoint waits for the slow reply, and the restored thread continues
 * with that reply in its UTCB.
 */
#include <base/env.h>

#include "../cr_server/cr_echo.h"

static int call(struct env *env, cap_t echo, uint64_t op, uint64_t n, uint64_t nr)
{
	struct msg m;
	int rc;

	msg_reset(&m, op);
	msg_put(&m, n);
	rc = rpc_call(echo, &m);
	if (rc || m.code != RPC_OK || m.nwords < 2 || m.w[0] != n + 1000 ||
	    m.w[1] != nr) {
		env_log(env, "slowcall: echo %llu wrong (%d)", (unsigned long long)n, rc);
		return -1;
	}
	env_log(env, "slowcall: %s echo %llu -> %llu", op == ECHO_SLOW ? "slow" : "plain",
		(unsigned long long)n, (unsigned long long)m.w[0]);
	return 0;
}

void component_construct(struct env *env)
{
	cap_t echo;
	int rc;

	if ((rc = env_session(env, "Echo", "", &echo))) {
		env_log(env, "slowcall: no Echo session (%d)", rc);
		env_exit(env, 1);
	}
	if (call(env, echo, ECHO_SLOW, 7, 1))
		env_exit(env, 1);
	for (uint64_t i = 2; i <= ECHO_CALLS; i++)
		if (call(env, echo, ECHO_CALL, i, i))
			env_exit(env, 1);
	env_exit(env, 0);
}
