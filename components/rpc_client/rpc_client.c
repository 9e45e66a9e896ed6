/*
 * rpc_client: opens a "Calc" session (init answers "not yet" until the
 * server has announced, libbase retries), adds two numbers, then hands
 * the server a capability to an RPC object of its own and answers the
 * server's call through it before exiting.
 */
#include <base/env.h>
#include <stddef.h>

#include "../rpc_server/calc.h"

static struct env *client_env;
static struct rpc_object callback_obj;

static void done(void *arg)
{
	env_log(client_env, "client: done");
	env_exit(client_env, 0);
}

static void callback_dispatch(struct rpc_object *obj, struct msg *m)
{
	uint64_t v;

	if (m->code != CALLBACK_PING || m->nwords < 1) {
		msg_reset(m, RPC_INVALID_OPCODE);
		return;
	}
	v = m->w[0];
	env_log(client_env, "client: callback ping %llu", (unsigned long long)v);
	msg_reset(m, RPC_OK);
	msg_put(m, 2 * v);
	ep_defer(client_env->ep, done, NULL);
}

static void fail(const char *what, int rc)
{
	env_log(client_env, "client: %s failed (%d)", what, rc);
	env_exit(client_env, 1);
}

void component_construct(struct env *env)
{
	cap_t calc, cb;
	struct msg m;
	int rc;

	client_env = env;
	if ((rc = env_session(env, "Calc", "", &calc)))
		fail("Calc session", rc);
	msg_reset(&m, CALC_ADD);
	msg_put(&m, 2);
	msg_put(&m, 40);
	if ((rc = rpc_call(calc, &m)) || m.code != RPC_OK || m.nwords < 1)
		fail("add", rc);
	env_log(env, "client: add(2, 40) = %llu", (unsigned long long)m.w[0]);
	cb = ep_manage(env->ep, &callback_obj, callback_dispatch);
	if (!cap_valid(cb))
		fail("ep_manage", -1);
	msg_reset(&m, CALC_CALLBACK);
	msg_put_cap(&m, cb);
	if ((rc = rpc_call(calc, &m)) || m.code != RPC_OK)
		fail("register callback", rc ? rc : (int)m.code);
	env_log(env, "client: callback registered, waiting");
}
