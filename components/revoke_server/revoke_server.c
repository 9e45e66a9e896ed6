/*
 * revoke_server: hands out a counter object and takes its capability
 * back in the two ways revocation works: revoking only the copies given
 * away (TASK_UNMAP without UNMAP_SELF on its own kcap: the mapping
 * database takes every derived copy, recursively), and freeing the RPC
 * cap at core (ep_dissolve: the gate is revoked everywhere).  The
 * counter's state survives both; a dissolved counter is managed again,
 * under a new capability, on the next REVOKE_OBJECT.
 */
#include <base/env.h>

#include "revoke.h"

static struct env *rv_env;
static struct rpc_object root_obj, session_obj, counter_obj;
static int counter_managed;
static uint64_t count;

static void fail(const char *what, int rc)
{
	env_log(rv_env, "server: %s failed (%d)", what, rc);
	env_exit(rv_env, 1);
}

static void counter_dispatch(struct rpc_object *obj, struct msg *m)
{
	if (m->code != COUNTER_INC) {
		msg_reset(m, RPC_INVALID_OPCODE);
		return;
	}
	msg_reset(m, RPC_OK);
	msg_put(m, ++count);
}

static void counter_manage(void)
{
	if (counter_managed)
		return;
	if (!cap_valid(ep_manage(rv_env->ep, &counter_obj, counter_dispatch)))
		fail("ep_manage", -1);
	counter_managed = 1;
}

static void done(void *arg)
{
	env_exit(rv_env, 0);
}

static void session_dispatch(struct rpc_object *obj, struct msg *m)
{
	struct utcb *u = sys_utcb();
	uint64_t label, tag;

	switch (m->code) {
	case REVOKE_OBJECT:
		counter_manage();
		msg_reset(m, RPC_OK);
		msg_put_cap(m, counter_obj.cap);
		return;
	case REVOKE_COPIES:
		u->mr[0] = TASK_UNMAP;
		u->mr[1] = cap_kcap(counter_obj.cap);
		u->mr[2] = 0; /* not UNMAP_SELF: our own entry stays */
		tag = sys_invoke(KCAP(FIXED_TASK), TAG(SYS_OP_CALL, PROTO_TASK, 3, 0),
				 SYS_TIMEOUT_NEVER, &label);
		env_log(rv_env, "server: copies of the counter cap revoked (%u)",
			TAG_ERROR(tag));
		msg_reset(m, TAG_ERROR(tag) ? RPC_ERROR : RPC_OK);
		return;
	case REVOKE_FREE:
		ep_dissolve(rv_env->ep, &counter_obj);
		counter_managed = 0;
		env_log(rv_env, "server: counter's RPC cap freed (count %llu)",
			(unsigned long long)count);
		msg_reset(m, RPC_OK);
		return;
	case REVOKE_DONE:
		msg_reset(m, RPC_OK);
		ep_defer(rv_env->ep, done, NULL);
		return;
	}
	msg_reset(m, RPC_INVALID_OPCODE);
}

static void root_dispatch(struct rpc_object *obj, struct msg *m)
{
	if (m->code != ROOT_SESSION) {
		msg_reset(m, m->code == ROOT_CLOSE ? RPC_OK : RPC_INVALID_OPCODE);
		return;
	}
	msg_reset(m, RPC_OK);
	msg_put_cap(m, session_obj.cap);
}

void component_construct(struct env *env)
{
	rv_env = env;
	counter_manage();
	if (!cap_valid(ep_manage(env->ep, &session_obj, session_dispatch)) ||
	    !cap_valid(ep_manage(env->ep, &root_obj, root_dispatch)) ||
	    env_announce(env, "Revoke", root_obj.cap))
		fail("announce", -1);
}
