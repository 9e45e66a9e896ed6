/*
 * cb_server: the serving end of a client that registers a callback
 * (tests/cr/group_restore.sh restores the two as a group).  It announces
 * "Calc" (components/rpc_server/calc.h); a session takes one callback
 * (CALC_CALLBACK) and numbered calls CALC_ADD(seq, 0), answered with seq.
 * After each answer the server calls the callback with seq (ep_defer),
 * which must answer 2 * seq.  A call counts only if seq is the session's
 * next number, so a call lost or done twice by a restore is an error.
 * After CB_ROUNDS calls it logs "cb_server: calls N, callbacks N, errors
 * 0: ok" and exits 0 (1 on any error).
 */
#include <base/env.h>
#include <stdlib.h>
#include <string.h>

#include "../rpc_server/calc.h"
#include "cb.h"

struct cb_session {
	struct rpc_object obj;
	cap_t callback;
	uint64_t seq, pending; /* last call counted; callback still to make */
};

static struct env *cb_env;
static struct rpc_object root_obj;
static uint64_t calls, callbacks, errors;

static void reply_error(struct msg *m, int err)
{
	msg_reset(m, RPC_ERROR);
	msg_put(m, (uint64_t)(int64_t)err);
}

static void finish(void)
{
	env_log(cb_env, "cb_server: calls %llu, callbacks %llu, errors %llu: %s",
		(unsigned long long)calls, (unsigned long long)callbacks,
		(unsigned long long)errors, errors ? "FAILED" : "ok");
	env_exit(cb_env, errors ? 1 : 0);
}

/* Deferred: the callback for the call just answered. */
static void call_back(void *arg)
{
	struct cb_session *s = arg;
	uint64_t v = s->pending;
	struct msg m;
	int rc;

	if (!v)
		return;
	s->pending = 0;
	msg_reset(&m, CALLBACK_PING);
	msg_put(&m, v);
	rc = rpc_call(s->callback, &m);
	if (rc || m.code != RPC_OK || m.nwords < 1 || m.w[0] != 2 * v) {
		if (errors++ < 5)
			env_log(cb_env, "cb_server: callback %llu failed (%d)",
				(unsigned long long)v, rc);
	} else {
		callbacks++;
	}
	if (v == CB_ROUNDS)
		finish();
}

static void session_dispatch(struct rpc_object *obj, struct msg *m)
{
	struct cb_session *s = (struct cb_session *)obj;

	switch (m->code) {
	case CALC_ADD:
		if (m->nwords < 1 || !cap_valid(s->callback))
			return reply_error(m, -22);
		if (m->w[0] == s->seq + 1) {
			calls++;
			s->seq = m->w[0];
			s->pending = s->seq;
			ep_defer(cb_env->ep, call_back, s);
		} else if (errors++ < 5) {
			env_log(cb_env, "cb_server: call %llu, expected %llu",
				(unsigned long long)m->w[0],
				(unsigned long long)s->seq + 1);
		}
		msg_reset(m, RPC_OK);
		msg_put(m, s->seq);
		return;
	case CALC_CALLBACK:
		if (m->ncaps < 1 || !cap_valid(m->caps[0]) || cap_valid(s->callback))
			return reply_error(m, -22);
		s->callback = cap_ref(m->caps[0]);
		msg_reset(m, RPC_OK);
		return;
	default:
		msg_reset(m, RPC_INVALID_OPCODE);
	}
}

static void root_dispatch(struct rpc_object *obj, struct msg *m)
{
	struct cb_session *s;

	if (m->code != ROOT_SESSION) {
		msg_reset(m, m->code == ROOT_CLOSE ? RPC_OK : RPC_INVALID_OPCODE);
		return;
	}
	if (!(s = calloc(1, sizeof *s)))
		return reply_error(m, -12);
	if (!cap_valid(ep_manage(cb_env->ep, &s->obj, session_dispatch))) {
		free(s);
		return reply_error(m, -28);
	}
	msg_reset(m, RPC_OK);
	msg_put_cap(m, s->obj.cap);
}

void component_construct(struct env *env)
{
	cb_env = env;
	if (!cap_valid(ep_manage(env->ep, &root_obj, root_dispatch)) ||
	    env_announce(env, "Calc", root_obj.cap)) {
		env_log(env, "cb_server: cannot announce Calc");
		env_exit(env, 1);
	}
}
