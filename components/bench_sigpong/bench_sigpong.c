/*
 * Benchmark guest: the answering side of the signal ping-pong.  Announces
 * "SigPong"; a client registers its signal context and gets pong's; every
 * signal pong's handler receives is answered by a submit of the same
 * count to the client's context.
 */
#include <base/env.h>
#include <base/signal.h>

#include "sigpong.h"

static struct env *pong_env;
static struct rpc_object session_obj, root_obj;
static struct signal_handler handler;
static cap_t peer;

static void quit(void *arg)
{
	env_exit(pong_env, 0);
}

static void on_signal(void *arg, unsigned count)
{
	if (cap_valid(peer) && signal_submit(pong_env, peer, count))
		env_exit(pong_env, 1);
}

static void session_dispatch(struct rpc_object *obj, struct msg *m)
{
	switch (m->code) {
	case SIGPONG_REGISTER:
		if (m->ncaps < 1 || !cap_valid(m->caps[0]) || cap_valid(peer))
			break;
		peer = cap_ref(m->caps[0]);
		msg_reset(m, RPC_OK);
		msg_put_cap(m, handler.context);
		return;
	case SIGPONG_QUIT:
		ep_defer(pong_env->ep, quit, NULL);
		msg_reset(m, RPC_OK);
		return;
	}
	msg_reset(m, RPC_INVALID_OPCODE);
}

static void root_dispatch(struct rpc_object *obj, struct msg *m)
{
	if (m->code != ROOT_SESSION) {
		msg_reset(m, RPC_INVALID_OPCODE);
		return;
	}
	msg_reset(m, RPC_OK);
	msg_put_cap(m, session_obj.cap);
}

void component_construct(struct env *env)
{
	pong_env = env;
	if (signal_handler_init(env, &handler, on_signal, NULL) ||
	    !cap_valid(ep_manage(env->ep, &session_obj, session_dispatch)) ||
	    !cap_valid(ep_manage(env->ep, &root_obj, root_dispatch)) ||
	    env_announce(env, "SigPong", root_obj.cap)) {
		env_log(env, "sigpong: cannot announce");
		env_exit(env, 1);
	}
}
