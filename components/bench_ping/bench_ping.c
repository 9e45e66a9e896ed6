/*
 * Benchmark guest: the server side of the IPC round trip.  Announces
 * "Ping"; a session is one RPC object whose only operation returns its
 * argument plus one.
 */
#include <base/env.h>

enum { PING_OP = 1, PING_QUIT = 2 };

static struct env *ping_env;
static struct rpc_object ping_obj, root_obj;

static void quit(void *arg)
{
	env_exit(ping_env, 0);
}

static void ping_dispatch(struct rpc_object *obj, struct msg *m)
{
	uint64_t v = m->nwords ? m->w[0] : 0;

	if (m->code == PING_QUIT) {
		ep_defer(ping_env->ep, quit, NULL);
		msg_reset(m, RPC_OK);
		return;
	}
	if (m->code != PING_OP) {
		msg_reset(m, RPC_INVALID_OPCODE);
		return;
	}
	msg_reset(m, RPC_OK);
	msg_put(m, v + 1);
}

static void root_dispatch(struct rpc_object *obj, struct msg *m)
{
	if (m->code != ROOT_SESSION) {
		msg_reset(m, RPC_INVALID_OPCODE);
		return;
	}
	msg_reset(m, RPC_OK);
	msg_put_cap(m, ping_obj.cap);
}

void component_construct(struct env *env)
{
	ping_env = env;
	if (!cap_valid(ep_manage(env->ep, &ping_obj, ping_dispatch)) ||
	    !cap_valid(ep_manage(env->ep, &root_obj, root_dispatch)) ||
	    env_announce(env, "Ping", root_obj.cap)) {
		env_log(env, "ping: cannot announce");
		env_exit(env, 1);
	}
}
