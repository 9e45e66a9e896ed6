/*
 * multi_server: announces the "Counter" service.  Its root hands out one
 * session object per ROOT_SESSION, each with its own counter, and logs the
 * label init gave the request.  ROOT_CLOSE dissolves the session object:
 * its RPC cap is freed at core, which revokes every copy a client holds.
 * ROOT_UPGRADE logs the quota init moved to this server.  It exits when
 * its clients agree (COUNTER_QUIT).
 */
#include <base/env.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "counter_service.h"

#define LABEL_MAX 96

/* A client's session.  Invariant: on the `sessions` list exactly while
 * obj is managed by the entrypoint. */
struct counter_session {
	struct rpc_object obj;
	struct counter_session *next;
	uint64_t value;
	char label[LABEL_MAX];
};

static struct env *srv_env;
static struct rpc_object root_obj;
static struct counter_session *sessions;
static unsigned nsessions;
static unsigned quit_votes;
static int quit_when_idle; /* quorum reached: exit once nsessions is 0 */

static void reply_error(struct msg *m, int err)
{
	msg_reset(m, RPC_ERROR);
	msg_put(m, (uint64_t)(int64_t)err);
}

static void quit(void *arg)
{
	(void)arg;
	env_log(srv_env, "server: quitting with %u sessions open", nsessions);
	env_exit(srv_env, 0);
}

static void session_dispatch(struct rpc_object *obj, struct msg *m)
{
	struct counter_session *s = (struct counter_session *)obj;
	struct pd_quota q;
	int rc;

	switch (m->code) {
	case COUNTER_INC:
		msg_reset(m, RPC_OK);
		msg_put(m, ++s->value);
		return;
	case COUNTER_STATS:
		if ((rc = pd_quota_get(srv_env->pd, &q)))
			return reply_error(m, rc);
		msg_reset(m, RPC_OK);
		msg_put(m, nsessions);
		msg_put(m, q.ram_quota);
		msg_put(m, q.ram_used);
		msg_put(m, q.cap_quota);
		msg_put(m, q.cap_used);
		return;
	case COUNTER_LABEL:
		msg_reset(m, RPC_OK);
		msg_put_str(m, s->label);
		return;
	case COUNTER_QUIT:
		if (m->nwords < 2)
			return reply_error(m, -EINVAL);
		if (++quit_votes >= m->w[0]) {
			if (m->w[1])
				quit_when_idle = 1;
			else
				ep_defer(srv_env->ep, quit, NULL);
		}
		msg_reset(m, RPC_OK);
		return;
	default:
		msg_reset(m, RPC_INVALID_OPCODE);
	}
}

/* The value of label="..." in args into buf (empty if absent). */
static void label_of(const char *args, char *buf, unsigned size)
{
	const char *p = strstr(args, "label=\"");
	unsigned n = 0;

	if (p)
		for (p += 7; *p && *p != '"' && n + 1 < size; p++)
			buf[n++] = *p;
	buf[n] = 0;
}

/* The session named by the request's cap, or NULL if it is none of ours. */
static struct counter_session *session_of(struct msg *m)
{
	struct rpc_object *o;

	if (!m->ncaps || !cap_valid(m->caps[0]))
		return NULL;
	o = ep_lookup(srv_env->ep, cap_badge(m->caps[0]));
	for (struct counter_session *s = sessions; s; s = s->next)
		if (&s->obj == o)
			return s;
	return NULL;
}

static void root_session(struct msg *m)
{
	struct counter_session *s;
	char args[192];
	unsigned pos = 0;

	if (msg_get_str(m, &pos, args, sizeof args))
		return reply_error(m, -EINVAL);
	s = calloc(1, sizeof *s);
	if (!s)
		return reply_error(m, -ENOMEM);
	if (!cap_valid(ep_manage(srv_env->ep, &s->obj, session_dispatch))) {
		free(s);
		return reply_error(m, -ENOSPC);
	}
	label_of(args, s->label, sizeof s->label);
	s->next = sessions;
	sessions = s;
	nsessions++;
	env_log(srv_env, "server: new session for '%s'", s->label);
	msg_reset(m, RPC_OK);
	msg_put_cap(m, s->obj.cap);
}

static void root_close(struct msg *m)
{
	struct counter_session *s = session_of(m), **pp;

	if (!s)
		return reply_error(m, -EINVAL);
	for (pp = &sessions; *pp != s; pp = &(*pp)->next)
		;
	*pp = s->next;
	nsessions--;
	ep_dissolve(srv_env->ep, &s->obj);
	env_log(srv_env, "server: closed session for '%s' at %llu", s->label,
		(unsigned long long)s->value);
	free(s);
	if (quit_when_idle && !nsessions)
		ep_defer(srv_env->ep, quit, NULL);
	msg_reset(m, RPC_OK);
}

static void root_upgrade(struct msg *m)
{
	struct counter_session *s = session_of(m);
	char args[96];
	unsigned pos = 0;

	if (!s || msg_get_str(m, &pos, args, sizeof args))
		return reply_error(m, -EINVAL);
	env_log(srv_env, "server: session for '%s' upgraded by %s", s->label, args);
	msg_reset(m, RPC_OK);
}

static void root_dispatch(struct rpc_object *obj, struct msg *m)
{
	(void)obj;
	switch (m->code) {
	case ROOT_SESSION:
		return root_session(m);
	case ROOT_CLOSE:
		return root_close(m);
	case ROOT_UPGRADE:
		return root_upgrade(m);
	default:
		msg_reset(m, RPC_INVALID_OPCODE);
	}
}

void component_construct(struct env *env)
{
	srv_env = env;
	if (!cap_valid(ep_manage(env->ep, &root_obj, root_dispatch)) ||
	    env_announce(env, "Counter", root_obj.cap)) {
		env_log(env, "server: cannot announce Counter");
		env_exit(env, 1);
	}
	env_log(env, "server: Counter announced");
}
