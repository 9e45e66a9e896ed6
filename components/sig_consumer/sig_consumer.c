/*
 * sig_consumer: announces "Sig"; a session is the consumer's own signal
 * context cap (ROOT_SESSION hands it out).  Its handler runs on the
 * entrypoint and adds up the counts (submits that arrive while the
 * context is queued coalesce into one count); once SIG_ROUNDS signals
 * have arrived it exits.
 */
#include <base/env.h>
#include <base/signal.h>

#include "sig.h"

static struct env *sig_env;
static struct signal_handler handler;
static struct rpc_object root_obj;
static unsigned total;

static void on_signal(void *arg, unsigned count)
{
	total += count;
	env_log(sig_env, "consumer: signal, count %u, total %u", count, total);
	if (total >= SIG_ROUNDS) {
		env_log(sig_env, "consumer: all %u signals arrived", total);
		env_exit(sig_env, total == SIG_ROUNDS ? 0 : 1);
	}
}

static void root_dispatch(struct rpc_object *obj, struct msg *m)
{
	if (m->code != ROOT_SESSION) {
		msg_reset(m, m->code == ROOT_CLOSE ? RPC_OK : RPC_INVALID_OPCODE);
		return;
	}
	msg_reset(m, RPC_OK);
	msg_put_cap(m, handler.context);
}

void component_construct(struct env *env)
{
	int rc;

	sig_env = env;
	if ((rc = signal_handler_init(env, &handler, on_signal, NULL))) {
		env_log(env, "consumer: signal handler failed (%d)", rc);
		env_exit(env, 1);
	}
	if (!cap_valid(ep_manage(env->ep, &root_obj, root_dispatch)) ||
	    env_announce(env, "Sig", root_obj.cap)) {
		env_log(env, "consumer: cannot announce Sig");
		env_exit(env, 1);
	}
	env_log(env, "consumer: Sig announced");
}
