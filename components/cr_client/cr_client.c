/*
 * cr_client: waits CR_CLIENT_DELAY_US (so that its server, under the
 * monitor, has been checkpointed and restored by then), opens an "Echo"
 * session and calls it ECHO_CALLS times, checking every answer.  Exits 0
 * if all were right.
 */
#include <base/env.h>

#include "../cr_server/cr_echo.h"

#define CR_CLIENT_DELAY_US 80000

void component_construct(struct env *env)
{
	uint64_t label;
	cap_t echo;
	struct msg m;
	int rc;

	sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), CR_CLIENT_DELAY_US, &label);
	if ((rc = env_session(env, "Echo", "", &echo))) {
		env_log(env, "client: no Echo session (%d)", rc);
		env_exit(env, 1);
	}
	for (uint64_t i = 1; i <= ECHO_CALLS; i++) {
		msg_reset(&m, ECHO_CALL);
		msg_put(&m, i);
		rc = rpc_call(echo, &m);
		if (rc || m.code != RPC_OK || m.nwords < 2 || m.w[0] != i + 1000 ||
		    m.w[1] != i) {
			env_log(env, "client: echo %llu wrong (%d)",
				(unsigned long long)i, rc);
			env_exit(env, 1);
		}
		env_log(env, "client: echo %llu -> %llu (call %llu)",
			(unsigned long long)i, (unsigned long long)m.w[0],
			(unsigned long long)m.w[1]);
	}
	env_exit(env, 0);
}
