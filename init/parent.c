/*
 * The parent interface init serves to each child (PARENT_* in
 * base/sessions.h): exit, announce, session routing and close.  Requests
 * come from guests, so every word is checked; a malformed or forged
 * request gets an error reply and changes nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "init/init.h"

static void reply_err(struct msg *m, int err)
{
	msg_reset(m, RPC_ERROR);
	msg_put(m, (uint64_t)(int64_t)err);
}

static void reply_cap(struct msg *m, cap_t c)
{
	msg_reset(m, RPC_OK);
	msg_put_cap(m, c);
}

static int service_index(const struct child *c, const char *service)
{
	for (int i = 0; i < c->nservices; i++)
		if (!strcmp(c->service[i].name, service))
			return i;
	return -1;
}

static int declares(const struct child *c, const char *service)
{
	for (int i = 0; i < c->cfg->nprovides; i++)
		if (!strcmp(c->cfg->provides[i], service))
			return 1;
	return 0;
}

/* Keep a session opened for c so it can be closed with c; takes over the
 * caller's reference to s. */
static int track(struct child *c, cap_t s, int server, int service)
{
	if (c->nsessions == INIT_MAX_SESSIONS)
		return -ENOSPC;
	c->session[c->nsessions++] = (struct child_session){s, server, service};
	return 0;
}

static void release_caps(struct msg *m)
{
	for (unsigned i = 0; i < m->ncaps; i++)
		cap_release(m->caps[i]);
	m->ncaps = 0;
}

static void exit_deferred(void *arg)
{
	struct child *c = arg;

	child_destroy(c);
	init_child_ended(c->init);
}

static void op_exit(struct child *c, struct msg *m)
{
	if (!m->nwords)
		return reply_err(m, -EINVAL);
	c->exit_code = (int)(int64_t)m->w[0];
	c->state = CHILD_EXITED;
	msg_reset(m, RPC_OK);
	ep_defer(c->init->env->ep, exit_deferred, c);
}

static void op_announce(struct child *c, struct msg *m)
{
	char name[CONFIG_NAME_MAX];
	unsigned pos = 0;
	int i;

	if (msg_get_str(m, &pos, name, sizeof name) || m->ncaps < 1 ||
	    !cap_valid(m->caps[0]))
		return reply_err(m, -EINVAL);
	if (!declares(c, name)) {
		env_log(c->init->env, "child '%s' announces undeclared service '%s'",
			c->cfg->name, name);
		return reply_err(m, -EPERM);
	}
	i = service_index(c, name);
	if (i < 0) {
		if (c->nservices == CONFIG_MAX_SERVICES)
			return reply_err(m, -ENOSPC);
		i = c->nservices++;
		snprintf(c->service[i].name, sizeof c->service[i].name, "%s", name);
	} else {
		cap_release(c->service[i].root);
	}
	c->service[i].root = cap_ref(m->caps[0]);
	msg_reset(m, RPC_OK);
}

/* The env sessions init made for the child, asked for with empty args. */
static cap_t env_session_of(struct child *c, const char *service)
{
	if (!strcmp(service, "PD"))
		return c->pd;
	if (!strcmp(service, "CPU"))
		return c->cpu;
	if (!strcmp(service, "LOG"))
		return c->log;
	if (!strcmp(service, "ROM"))
		return c->rom;
	return CAP_INVALID;
}

/* Ask server srv's root for a session for client c.  0 or -errno. */
static int session_at_child(struct child *c, struct child *srv, const char *service,
			    const char *args, cap_t *out)
{
	char relabeled[INIT_ARGS_MAX];
	int i = service_index(srv, service), rc;
	struct msg m;

	if (i < 0)
		return -EAGAIN;
	if ((rc = session_args_relabel(args, c->cfg->name, 0, relabeled,
				       sizeof relabeled)))
		return rc;
	msg_reset(&m, ROOT_SESSION);
	rc = msg_put_str(&m, relabeled);
	if (!rc)
		rc = rpc_call_timeout(srv->service[i].root, &m, INIT_SERVER_TIMEOUT_US);
	if (rc == -ETIMEDOUT)
		return -EAGAIN; /* the server is busy (maybe calling us): retry */
	if (rc)
		return rc;
	if (m.code != RPC_OK || m.ncaps < 1 || !cap_valid(m.caps[0])) {
		rc = m.code == RPC_ERROR && m.nwords && (int64_t)m.w[0] < 0
			 ? (int)(int64_t)m.w[0]
			 : -EPROTO;
		release_caps(&m);
		return rc;
	}
	*out = m.caps[0];
	for (unsigned k = 1; k < m.ncaps; k++)
		cap_release(m.caps[k]);
	if ((rc = track(c, *out, srv->index, i))) {
		msg_reset(&m, ROOT_CLOSE);
		msg_put_cap(&m, *out);
		rpc_call_timeout(srv->service[i].root, &m, INIT_SERVER_TIMEOUT_US);
		cap_release(*out);
	}
	return rc;
}

/* Forward to init's parent with the label "<child> -> <client label>". */
static int session_at_parent(struct child *c, const char *service, const char *args,
			     cap_t *out)
{
	char client[CONFIG_NAME_MAX * 2], label[CONFIG_NAME_MAX * 4];
	char relabeled[INIT_ARGS_MAX];
	int rc = session_args_label(args, client, sizeof client);

	if (rc == -ENOENT)
		snprintf(label, sizeof label, "%s", c->cfg->name);
	else if (rc)
		return rc;
	else if (strchr(client, '/') || !client[0])
		return -EINVAL;
	else
		snprintf(label, sizeof label, "%s -> %s", c->cfg->name, client);
	if ((rc = session_args_relabel(args, label, ARGS_DROP_QUOTA, relabeled,
				       sizeof relabeled)) ||
	    (rc = init_session_parent(c->init, service, relabeled, out)))
		return rc;
	if ((rc = track(c, *out, -1, -1))) {
		init_session_close_parent(c->init, *out);
		cap_release(*out);
	}
	return rc;
}

/*
 * Try one route target.  1: not applicable, try the next one; 0: *out is
 * the session; -errno: the answer for the child.
 */
static int try_target(struct child *c, const struct route_target *t, const char *service,
		      const char *args, cap_t *out)
{
	struct init *in = c->init;
	int pending = 0;

	switch (t->kind) {
	case ROUTE_PARENT:
		if (!config_parent_provides(in->cfg, service))
			return 1;
		return session_at_parent(c, service, args, out);
	case ROUTE_CHILD:
		for (int i = 0; i < in->nchildren; i++) {
			struct child *srv = &in->child[i];
			if (strcmp(srv->cfg->name, t->child))
				continue;
			if (srv->state != CHILD_RUNNING)
				return 1;
			return session_at_child(c, srv, service, args, out);
		}
		return 1;
	case ROUTE_ANY_CHILD:
		for (int i = 0; i < in->nchildren; i++) {
			struct child *srv = &in->child[i];
			if (srv == c || srv->state != CHILD_RUNNING)
				continue;
			if (service_index(srv, service) >= 0)
				return session_at_child(c, srv, service, args, out);
			pending |= declares(srv, service);
		}
		return pending ? -EAGAIN : 1;
	}
	return 1;
}

static void op_session(struct child *c, struct msg *m)
{
	char service[CONFIG_NAME_MAX], args[INIT_ARGS_MAX];
	const struct route_entry *e;
	unsigned pos = 0;
	cap_t s;
	int rc = 1;

	if (msg_get_str(m, &pos, service, sizeof service) ||
	    msg_get_str(m, &pos, args, sizeof args))
		return reply_err(m, -EINVAL);
	if (!args[0] && cap_valid(env_session_of(c, service)))
		return reply_cap(m, env_session_of(c, service));
	e = config_route(c->init->cfg, c->cfg, service);
	for (int i = 0; e && rc == 1 && i < e->ntargets; i++)
		rc = try_target(c, &e->target[i], service, args, &s);
	if (rc == 1) {
		env_log(c->init->env, "child '%s': no route to service '%s'",
			c->cfg->name, service);
		return reply_err(m, -ENOENT);
	}
	if (rc)
		return reply_err(m, rc);
	reply_cap(m, s);
}

static void op_close(struct child *c, struct msg *m)
{
	struct init *in = c->init;
	uint64_t badge = m->ncaps ? cap_badge(m->caps[0]) : 0;

	if (!m->ncaps || !cap_valid(m->caps[0]))
		return reply_err(m, -EINVAL);
	for (int i = 0; i < c->nsessions; i++) {
		struct child_session *s = &c->session[i];
		struct msg r;
		if (cap_badge(s->cap) != badge)
			continue;
		if (s->server < 0) {
			init_session_close_parent(in, s->cap);
		} else if (in->child[s->server].state == CHILD_RUNNING) {
			msg_reset(&r, ROOT_CLOSE);
			msg_put_cap(&r, s->cap);
			rpc_call_timeout(in->child[s->server].service[s->service].root,
					 &r, INIT_SERVER_TIMEOUT_US);
		}
		cap_release(s->cap);
		c->session[i] = c->session[--c->nsessions];
		msg_reset(m, RPC_OK);
		return;
	}
	reply_err(m, -EINVAL);
}

void parent_dispatch(struct rpc_object *obj, struct msg *m)
{
	struct child *c = init_container_of(obj, struct child, parent_obj);

	if (c->state != CHILD_RUNNING)
		return reply_err(m, -ESRCH);
	switch (m->code) {
	case PARENT_EXIT:
		return op_exit(c, m);
	case PARENT_ANNOUNCE:
		return op_announce(c, m);
	case PARENT_SESSION:
		return op_session(c, m);
	case PARENT_CLOSE:
		return op_close(c, m);
	case PARENT_UPGRADE:
		/* quotas are fixed by the config; there is nothing to move */
		return reply_err(m, -EOPNOTSUPP);
	default:
		msg_reset(m, RPC_INVALID_OPCODE);
	}
}
