/*
 * cb_client: opens a "Calc" session at cb_server, hands it a callback
 * object of its own, then from a thread of its own (its entrypoint
 * answers the callbacks meanwhile) makes CB_ROUNDS numbered calls
 * CALC_ADD(seq, 0), one every CB_PERIOD_US.  Each call must be answered
 * with seq, and each callback must bring the next number.  The counters
 * live in its memory, so a restored client goes on from its checkpoint.
 * Logs "cb_client: calls N, callbacks N, errors 0: ok" and exits 0, or 1.
 */
#include <base/env.h>
#include <base/thread.h>

#include "../cb_server/cb.h"
#include "../rpc_server/calc.h"

static struct env *cl_env;
static struct rpc_object callback_obj;
static cap_t calc;
static uint64_t seq, callbacks, errors;

static void error(const char *what, uint64_t v, int rc)
{
	if (__atomic_fetch_add(&errors, 1, __ATOMIC_SEQ_CST) < 5)
		env_log(cl_env, "cb_client: %s %llu failed (%d)", what,
			(unsigned long long)v, rc);
}

static void callback_dispatch(struct rpc_object *obj, struct msg *m)
{
	uint64_t v, want;

	if (m->code != CALLBACK_PING || m->nwords < 1) {
		msg_reset(m, RPC_INVALID_OPCODE);
		return;
	}
	v = m->w[0];
	want = __atomic_load_n(&callbacks, __ATOMIC_SEQ_CST) + 1;
	if (v == want)
		__atomic_store_n(&callbacks, v, __ATOMIC_SEQ_CST);
	else
		error("callback", v, (int)want);
	msg_reset(m, RPC_OK);
	msg_put(m, 2 * v);
}

static void pause_us(uint64_t us)
{
	uint64_t label;

	sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), us, &label);
}

static void calls(void *arg)
{
	struct msg m;
	int rc;

	while (seq < CB_ROUNDS) {
		uint64_t next = seq + 1;
		msg_reset(&m, CALC_ADD);
		msg_put(&m, next);
		if ((rc = rpc_call(calc, &m)) || m.code != RPC_OK || m.nwords < 1 ||
		    m.w[0] != next)
			error("call", next, rc);
		seq = next;
		pause_us(CB_PERIOD_US);
	}
	for (int i = 0; i < 2500 && __atomic_load_n(&callbacks, __ATOMIC_SEQ_CST) < seq;
	     i++)
		pause_us(2000);
	env_log(cl_env, "cb_client: calls %llu, callbacks %llu, errors %llu: %s",
		(unsigned long long)seq, (unsigned long long)callbacks,
		(unsigned long long)errors, errors || callbacks != seq ? "FAILED" : "ok");
	env_exit(cl_env, errors || callbacks != seq ? 1 : 0);
}

void component_construct(struct env *env)
{
	struct thread *t;
	struct msg m;
	cap_t cb;
	int rc;

	cl_env = env;
	if ((rc = env_session(env, "Calc", "", &calc))) {
		env_log(env, "cb_client: Calc session failed (%d)", rc);
		env_exit(env, 1);
		return;
	}
	cb = ep_manage(env->ep, &callback_obj, callback_dispatch);
	msg_reset(&m, CALC_CALLBACK);
	msg_put_cap(&m, cb);
	if (!cap_valid(cb) || (rc = rpc_call(calc, &m)) || m.code != RPC_OK ||
	    (rc = thread_create(env, "calls", calls, NULL, 0, &t))) {
		env_log(env, "cb_client: cannot register its callback (%d)", rc);
		env_exit(env, 1);
		return;
	}
	env_log(env, "cb_client: calling");
}
