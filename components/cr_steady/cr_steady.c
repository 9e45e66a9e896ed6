/*
 * cr_steady: a client that keeps its session across its server's
 * restore.  It opens an "Echo" session at once and makes ECHO_CALLS calls
 * through that one cap, STEADY_GAP_US apart, checking every answer (the
 * server's count of calls served goes on too).  With the server under the
 * monitor and restored between two calls, the later calls reach the
 * restored server through the cap the client had: the monitor serves the
 * target's objects to clients through proxies (monitor/served_proxy.c).
 */
#include <base/env.h>

#include "../cr_server/cr_echo.h"

#define STEADY_GAP_US 80000

void component_construct(struct env *env)
{
	uint64_t label;
	cap_t echo;
	struct msg m;
	int rc;

	if ((rc = env_session(env, "Echo", "", &echo))) {
		env_log(env, "steady: no Echo session (%d)", rc);
		env_exit(env, 1);
	}
	for (uint64_t i = 1; i <= ECHO_CALLS; i++) {
		if (i > 1)
			sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), STEADY_GAP_US,
				   &label);
		msg_reset(&m, ECHO_CALL);
		msg_put(&m, i);
		rc = rpc_call(echo, &m);
		if (rc || m.code != RPC_OK || m.nwords < 2 || m.w[0] != i + 1000 ||
		    m.w[1] != i) {
			env_log(env,
				"steady: call %llu through the same cap failed (%d/%llu)",
				(unsigned long long)i, rc, (unsigned long long)m.code);
			env_exit(env, 1);
		}
		env_log(env, "steady: echo %llu -> %llu (call %llu, same session cap)",
			(unsigned long long)i, (unsigned long long)m.w[0],
			(unsigned long long)m.w[1]);
	}
	env_exit(env, 0);
}
