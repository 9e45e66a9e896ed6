/*
 * cr_giver: gives its "Echo" server a cap to an RPC object of its own
 * (ECHO_KEEP), waits CR_GIVER_DELAY_US (or the ROM cr_giver.delay_ms),
 * then makes ECHO_CALLS calls.  A
 * server under the monitor then holds a cap the monitor has no record of
 * (it came from a client, not through any session the monitor serves):
 * its checkpoint must fail naming that cap, and the server run on.
 */
#include <base/env.h>
#include <stdlib.h>
#include <string.h>

#include "../cr_server/cr_echo.h"

#define CR_GIVER_DELAY_US 80000

/* The wait: the ROM "cr_giver.delay_ms" if there is one (a test that
 * needs the server to hold the cap longer, tests/cli/errors.sh), else
 * CR_GIVER_DELAY_US. */
static uint64_t delay_us(struct env *env)
{
	uint64_t ms = env_rom_number(env, "cr_giver.delay_ms", 0);

	return ms ? ms * 1000 : CR_GIVER_DELAY_US;
}

static struct rpc_object own_obj;

static void own_dispatch(struct rpc_object *obj, struct msg *m)
{
	msg_reset(m, RPC_OK);
}

void component_construct(struct env *env)
{
	uint64_t label;
	uint64_t delay = delay_us(env);
	cap_t echo, own;
	struct msg m;
	int rc;

	own = ep_manage(env->ep, &own_obj, own_dispatch);
	if (!cap_valid(own) || (rc = env_session(env, "Echo", "", &echo))) {
		env_log(env, "giver: cannot start");
		env_exit(env, 1);
	}
	msg_reset(&m, ECHO_KEEP);
	msg_put_cap(&m, own);
	if ((rc = rpc_call(echo, &m)) || m.code != RPC_OK) {
		env_log(env, "giver: keep refused (%d)", rc);
		env_exit(env, 1);
	}
	sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), delay, &label);
	for (uint64_t i = 1; i <= ECHO_CALLS; i++) {
		msg_reset(&m, ECHO_CALL);
		msg_put(&m, i);
		if ((rc = rpc_call(echo, &m)) || m.code != RPC_OK || m.nwords < 2 ||
		    m.w[0] != i + 1000) {
			env_log(env, "giver: echo %llu wrong (%d)", (unsigned long long)i,
				rc);
			env_exit(env, 1);
		}
	}
	env_log(env, "giver: %d echoes answered", ECHO_CALLS);
	env_exit(env, 0);
}
