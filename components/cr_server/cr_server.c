/*
 * cr_server: a checkpoint/restore test target that serves others.  It
 * announces "Echo"; its root makes a session object on the heap per
 * request; a session answers ECHO_CALL with n + 1000 and the number of
 * calls served so far (kept on the heap); ECHO_SLOW answers the same
 * after sleeping ECHO_SLOW_US in the dispatch (a call a checkpoint finds
 * taken by the server).  After ECHO_CALLS calls it
 * exits 0 once the reply is out.  Under the monitor, a client served
 * after a restore shows that the restored root (re-announced), the
 * entrypoint and its rebuilt object pool answer.
 */
#include <base/env.h>
#include <stdlib.h>
#include <string.h>

#include "cr_echo.h"

struct echo_state {
	struct env *env;
	unsigned long calls;
};

struct echo_session {
	struct rpc_object obj;
	struct echo_state *st;
	cap_t kept; /* ECHO_KEEP */
};

static struct echo_state *state;
static struct rpc_object root_obj;

static void finish(void *arg)
{
	struct echo_state *st = arg;

	env_log(st->env, "server: served %lu calls, exiting", st->calls);
	env_exit(st->env, 0);
}

static void session_dispatch(struct rpc_object *obj, struct msg *m)
{
	struct echo_session *s = (struct echo_session *)obj;
	uint64_t n;

	if (m->code == ECHO_KEEP && m->ncaps == 1 && !cap_valid(s->kept)) {
		s->kept = cap_ref(m->caps[0]);
		env_log(s->st->env, "server: keeping a cap from the client");
		return msg_reset(m, RPC_OK);
	}
	if ((m->code != ECHO_CALL && m->code != ECHO_SLOW) || m->nwords < 1)
		return msg_reset(m, RPC_INVALID_OPCODE);
	n = m->w[0];
	if (m->code == ECHO_SLOW) {
		uint64_t label;
		env_log(s->st->env, "server: slow call taken");
		sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), ECHO_SLOW_US, &label);
	}
	s->st->calls++;
	msg_reset(m, RPC_OK);
	msg_put(m, n + 1000);
	msg_put(m, s->st->calls);
	if (s->st->calls == ECHO_CALLS)
		ep_defer(s->st->env->ep, finish, s->st);
}

static void root_dispatch(struct rpc_object *obj, struct msg *m)
{
	struct echo_session *s;
	cap_t c;

	if (m->code != ROOT_SESSION) {
		msg_reset(m, m->code == ROOT_CLOSE || m->code == ROOT_UPGRADE
				 ? RPC_OK
				 : RPC_INVALID_OPCODE);
		return;
	}
	s = calloc(1, sizeof *s);
	if (!s)
		return msg_reset(m, RPC_ERROR);
	s->st = state;
	c = ep_manage(state->env->ep, &s->obj, session_dispatch);
	if (!cap_valid(c)) {
		free(s);
		return msg_reset(m, RPC_ERROR);
	}
	env_log(state->env, "server: new session");
	msg_reset(m, RPC_OK);
	msg_put_cap(m, c);
}

void component_construct(struct env *env)
{
	cap_t root;

	state = calloc(1, sizeof *state);
	if (!state) {
		env_log(env, "server: out of memory");
		env_exit(env, 1);
	}
	state->env = env;
	root = ep_manage(env->ep, &root_obj, root_dispatch);
	if (!cap_valid(root) || env_announce(env, "Echo", root)) {
		env_log(env, "server: cannot announce");
		env_exit(env, 1);
	}
	env_log(env, "server: Echo announced");
}
