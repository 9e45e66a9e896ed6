/*
 * cr_churn: a target that makes and frees many RPC objects before it is
 * checkpointed -- more than the monitor has records for -- then makes one
 * more and keeps it.  The monitor remembers freed objects (dead records)
 * until a checkpoint shows the target no longer holds them; the object
 * made last must still be recorded, so the checkpoint after the second
 * line succeeds and the restored object answers.
 */
#include <base/env.h>

#define CHURN_ROUNDS 5000
#define CHURN_ECHO   7

static struct rpc_object obj, kept;

static void dispatch(struct rpc_object *o, struct msg *m)
{
	msg_reset(m, m->code == CHURN_ECHO ? RPC_OK : RPC_INVALID_OPCODE);
}

void component_construct(struct env *env)
{
	struct msg m;
	int rc;

	for (unsigned i = 0; i < CHURN_ROUNDS; i++) {
		if (!cap_valid(ep_manage(env->ep, &obj, dispatch))) {
			env_log(env, "cr_churn: object %u refused", i);
			env_exit(env, 1);
		}
		ep_dissolve(env->ep, &obj);
	}
	env_log(env, "cr_churn: %u objects made and freed", CHURN_ROUNDS);
	if (!cap_valid(ep_manage(env->ep, &kept, dispatch))) {
		env_log(env, "cr_churn: the kept object refused");
		env_exit(env, 1);
	}
	env_log(env, "cr_churn: one more kept");
	msg_reset(&m, CHURN_ECHO);
	rc = rpc_call(kept.cap, &m);
	env_log(env, "cr_churn: the kept object answers: %s",
		!rc && m.code == RPC_OK ? "yes" : "no");
	env_exit(env, !rc && m.code == RPC_OK ? 0 : 1);
}
