/*
 * The parent interface init serves to each child (PARENT_* in
 * base/sessions.h): exit, announce, session routing, upgrade and close.
 * Requests
 * come from guests, so every word is checked; a malformed or forged
 * request gets an error reply and changes nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Room for one more session of c: 0, -ENOSPC at INIT_MAX_SESSIONS,
 * -ENOMEM. */
static int session_room(struct child *c)
{
	int n = c->session_room ? 2 * c->session_room : 8;
	struct child_session *a;

	if (c->nsessions < c->session_room)
		return 0;
	if (c->nsessions >= INIT_MAX_SESSIONS)
		return -ENOSPC;
	if (n > INIT_MAX_SESSIONS)
		n = INIT_MAX_SESSIONS;
	a = realloc(c->session, (size_t)n * sizeof *a);
	if (!a)
		return -ENOMEM;
	c->session = a;
	c->session_room = n;
	return 0;
}

/* Keep a session opened for c so it can be closed with c; takes over the
 * caller's reference to s.  The caller made room (session_room). */
static void track(struct child *c, cap_t s, int server, int service, uint64_t ram,
		  uint64_t caps)
{
	c->session[c->nsessions++] =
	    (struct child_session){s, server, service, ram, caps};
}

/* The label init gives c's request: "<child>", or "<child> -> <label>"
 * when the child gave one.  0 or -EINVAL. */
static int client_label(const struct child *c, const char *args, char *label, size_t size)
{
	char client[CONFIG_NAME_MAX * 2];
	int rc = session_args_label(args, client, sizeof client);

	if (rc == -ENOENT) {
		snprintf(label, size, "%s", c->cfg->name);
		return 0;
	}
	if (rc)
		return rc;
	if (strchr(client, '/') || !client[0])
		return -EINVAL;
	snprintf(label, size, "%s -> %s", c->cfg->name, client);
	return 0;
}

/* Rewrite a child's args for its server and take the quota it pays from
 * its PD into `holder`.  0, -EINVAL, -E2BIG, -EDQUOT (logged). */
static int prepare_request(struct child *c, const char *service, const char *args,
			   cap_t holder, char *out, size_t size, uint64_t *ram,
			   uint64_t *caps)
{
	char label[CONFIG_NAME_MAX * 4];
	int rc;

	char tmp[INIT_ARGS_MAX];

	if ((rc = session_room(c)))
		return rc;
	if ((rc = client_label(c, args, label, sizeof label)) ||
	    (rc = session_args_quota(args, ram, caps)) ||
	    (rc = session_args_relabel(args, label, 0, out, size)))
		return rc;
	/* the session itself costs its client a cap (the one init keeps
	 * for it), so a child's sessions are bounded by its cap quota; it
	 * goes with the rest of the session's quota and comes back on close */
	if (*caps <= UINT64_MAX - INIT_SESSION_CAPS)
		*caps += INIT_SESSION_CAPS;
	if (!strcmp(service, "CPU") &&
	    ((rc = session_args_priority(out, c->init->cfg->prio_levels, c->cfg->priority,
					 tmp, sizeof tmp)) ||
	     (rc = snprintf(out, size, "%s", tmp) >= (int)size ? -E2BIG : 0)))
		return rc;
	rc = quota_move(c->pd, holder, *ram, *caps);
	if (rc == -EDQUOT) {
		char why[160];

		quota_explain(c->pd, *ram, *caps, why, sizeof why);
		env_log(c->init->env, "child '%s': '%s' session: %s", c->cfg->name,
			service, why);
	}
	return rc;
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
		if (c->nservices == c->cfg->nprovides)
			return reply_err(m, -ENOSPC);
		if (!c->service &&
		    !(c->service = calloc((size_t)c->cfg->nprovides, sizeof *c->service)))
			return reply_err(m, -ENOMEM);
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

/* Ask server srv's root for a session for client c.  0 or -errno; on
 * failure the quota is back with the client. */
static int session_at_child(struct child *c, struct child *srv, const char *service,
			    const char *args, cap_t *out)
{
	char relabeled[INIT_ARGS_MAX];
	int i = service_index(srv, service), rc;
	uint64_t ram, caps;
	struct msg m;

	if (i < 0)
		return -EAGAIN;
	if ((rc = prepare_request(c, service, args, srv->pd, relabeled, sizeof relabeled,
				  &ram, &caps)))
		return rc;
	msg_reset(&m, ROOT_SESSION);
	rc = msg_put_str(&m, relabeled);
	if (!rc)
		rc = rpc_call_timeout(srv->service[i].root, &m, INIT_SERVER_TIMEOUT_US);
	if (rc == -ETIMEDOUT)
		rc = -EAGAIN; /* the server is busy (maybe calling us): retry */
	if (!rc && (m.code != RPC_OK || m.ncaps < 1 || !cap_valid(m.caps[0]))) {
		rc = m.code == RPC_ERROR && m.nwords && (int64_t)m.w[0] < 0
			 ? (int)(int64_t)m.w[0]
			 : -EPROTO;
		release_caps(&m);
	}
	if (rc) {
		quota_move(srv->pd, c->pd, ram, caps);
		return rc;
	}
	*out = m.caps[0];
	for (unsigned k = 1; k < m.ncaps; k++)
		cap_release(m.caps[k]);
	track(c, *out, srv->index, i, ram, caps);
	return 0;
}

/* Forward to init's parent (core), which charges the session's quota to
 * init's PD after init took it from the client's. */
static int session_at_parent(struct child *c, const char *service, const char *args,
			     cap_t *out)
{
	char relabeled[INIT_ARGS_MAX];
	cap_t own = c->init->env->pd;
	uint64_t ram, caps;
	int rc;

	if ((rc = prepare_request(c, service, args, own, relabeled, sizeof relabeled,
				  &ram, &caps)))
		return rc;
	if ((rc = init_session_parent(c->init, service, relabeled, out))) {
		quota_move(own, c->pd, ram, caps);
		return rc;
	}
	track(c, *out, -1, -1, ram, caps);
	return 0;
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

/* Index of c's session named by the request's caps[0], or -1. */
static int find_session(const struct child *c, const struct msg *m)
{
	uint64_t badge;

	if (!m->ncaps || !cap_valid(m->caps[0]))
		return -1;
	badge = cap_badge(m->caps[0]);
	for (int i = 0; i < c->nsessions; i++)
		if (cap_badge(c->session[i].cap) == badge)
			return i;
	return -1;
}

static void op_close(struct child *c, struct msg *m)
{
	int i = find_session(c, m);

	if (i < 0)
		return reply_err(m, -EINVAL);
	session_close(c, i);
	msg_reset(m, RPC_OK);
}

/* Tell the server (ROOT_UPGRADE) or core (PARENT_UPGRADE) that session s
 * got ram/caps more.  0 or -errno. */
static int upgrade_at_server(struct child *c, struct child_session *s, uint64_t ram,
			     uint64_t caps)
{
	struct init *in = c->init;
	char args[64];
	struct msg r;

	snprintf(args, sizeof args, "ram_quota=%llu, cap_quota=%llu",
		 (unsigned long long)ram, (unsigned long long)caps);
	if (s->server < 0)
		return parent_upgrade(in->env->parent, s->cap, args);
	/* the quota is the server's already; the note is a courtesy */
	msg_reset(&r, ROOT_UPGRADE);
	if (!msg_put_cap(&r, s->cap) && !msg_put_str(&r, args) &&
	    !rpc_call_timeout(in->child[s->server].service[s->service].root, &r,
			      INIT_SERVER_TIMEOUT_US))
		release_caps(&r);
	return 0;
}

static void op_upgrade(struct child *c, struct msg *m)
{
	char args[INIT_ARGS_MAX];
	struct child_session *s;
	uint64_t ram, caps;
	unsigned pos = 0;
	cap_t holder;
	int i = find_session(c, m), rc;

	if (i < 0 || msg_get_str(m, &pos, args, sizeof args) ||
	    session_args_quota(args, &ram, &caps))
		return reply_err(m, -EINVAL);
	s = &c->session[i];
	if (s->ram + ram < s->ram || s->caps + caps < s->caps)
		return reply_err(m, -EOVERFLOW);
	holder = quota_holder(c, s);
	if ((rc = quota_move(c->pd, holder, ram, caps))) {
		char why[160];

		if (rc == -EDQUOT)
			quota_explain(c->pd, ram, caps, why, sizeof why);
		else
			snprintf(why, sizeof why, "%s", strerror(-rc));
		env_log(
		    c->init->env,
		    "child '%s': upgrade by ram_quota=%llu cap_quota=%llu refused: %s",
		    c->cfg->name, (unsigned long long)ram, (unsigned long long)caps, why);
		return reply_err(m, rc);
	}
	if ((rc = upgrade_at_server(c, s, ram, caps))) {
		char why[160];

		if (rc == -EDQUOT) /* init's own PD pays it at its parent */
			quota_explain(c->init->env->pd, ram, caps, why, sizeof why);
		else
			snprintf(why, sizeof why, "%s", strerror(-rc));
		env_log(c->init->env, "child '%s': upgrade refused by init's parent: %s",
			c->cfg->name, why);
		quota_move(holder, c->pd, ram, caps);
		return reply_err(m, rc);
	}
	s->ram += ram;
	s->caps += caps;
	msg_reset(m, RPC_OK);
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
		return op_upgrade(c, m);
	default:
		msg_reset(m, RPC_INVALID_OPCODE);
	}
}
