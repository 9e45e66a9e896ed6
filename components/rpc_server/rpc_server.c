/*
 * rpc_server: announces the "Calc" service.  Its root hands out one
 * session object per ROOT_SESSION; a session adds numbers and accepts a
 * callback capability, which the server invokes once its reply to the
 * registration is out (ep_defer).  After the first callback has been
 * answered the server exits.
 */
#include <base/env.h>
#include <stdlib.h>
#include <string.h>

#include "calc.h"

/* A client's session: an RPC object of this entrypoint plus the
 * callback the client registered (invalid until then). */
struct calc_session {
	struct rpc_object obj;
	cap_t callback;
};

static struct env *calc_env;
static struct rpc_object root_obj;

static void reply_error(struct msg *m, int err)
{
	msg_reset(m, RPC_ERROR);
	msg_put(m, (uint64_t)(int64_t)err);
}

/* Deferred: call the client back, log its answer, and end the server. */
static void call_back(void *arg)
{
	struct calc_session *s = arg;
	struct msg m;
	int rc;

	msg_reset(&m, CALLBACK_PING);
	msg_put(&m, CALC_PING_VALUE);
	rc = rpc_call(s->callback, &m);
	if (rc || m.code != RPC_OK || m.nwords < 1) {
		env_log(calc_env, "server: callback failed (%d)", rc);
		env_exit(calc_env, 1);
	}
	env_log(calc_env, "server: callback answered %llu", (unsigned long long)m.w[0]);
	env_exit(calc_env, m.w[0] == 2 * CALC_PING_VALUE ? 0 : 1);
}

static void session_dispatch(struct rpc_object *obj, struct msg *m)
{
	struct calc_session *s = (struct calc_session *)obj;
	uint64_t a, b;

	switch (m->code) {
	case CALC_ADD:
		if (m->nwords < 2)
			return reply_error(m, -22);
		a = m->w[0], b = m->w[1];
		env_log(calc_env, "server: add(%llu, %llu)", (unsigned long long)a,
			(unsigned long long)b);
		msg_reset(m, RPC_OK);
		msg_put(m, a + b);
		return;
	case CALC_CALLBACK:
		if (m->ncaps < 1 || !cap_valid(m->caps[0]) || cap_valid(s->callback))
			return reply_error(m, -22);
		s->callback = cap_ref(m->caps[0]);
		env_log(calc_env, "server: callback registered");
		msg_reset(m, RPC_OK);
		ep_defer(calc_env->ep, call_back, s);
		return;
	default:
		msg_reset(m, RPC_INVALID_OPCODE);
	}
}

/* The client's label from `label="..."` in the session args. */
static void label_of(const char *args, char *buf, unsigned size)
{
	const char *p = strstr(args, "label=\"");
	unsigned n = 0;

	if (p)
		for (p += 7; *p && *p != '"' && n + 1 < size; p++)
			buf[n++] = *p;
	buf[n] = 0;
}

static void root_dispatch(struct rpc_object *obj, struct msg *m)
{
	char args[160], label[64];
	struct calc_session *s;
	unsigned pos = 0;

	if (m->code != ROOT_SESSION) {
		msg_reset(m, m->code == ROOT_CLOSE ? RPC_OK : RPC_INVALID_OPCODE);
		return;
	}
	if (msg_get_str(m, &pos, args, sizeof args))
		return reply_error(m, -22);
	s = malloc(sizeof *s);
	if (!s)
		return reply_error(m, -12);
	memset(s, 0, sizeof *s);
	if (!cap_valid(ep_manage(calc_env->ep, &s->obj, session_dispatch))) {
		free(s);
		return reply_error(m, -28);
	}
	label_of(args, label, sizeof label);
	env_log(calc_env, "server: new session for '%s'", label);
	msg_reset(m, RPC_OK);
	msg_put_cap(m, s->obj.cap);
}

void component_construct(struct env *env)
{
	calc_env = env;
	if (!cap_valid(ep_manage(env->ep, &root_obj, root_dispatch)) ||
	    env_announce(env, "Calc", root_obj.cap)) {
		env_log(env, "server: cannot announce Calc");
		env_exit(env, 1);
	}
	env_log(env, "server: Calc announced");
}
