/*
 * Routing inside a group (group.h): a member's session request goes
 * where its <route> (or the group's <default-route>) says, as init routes
 * a child's: to another member's root, or to the monitor's parent.  The
 * client gets the serving member's proxy of the session object, and
 * objects handed between members in calls travel as proxies too, so a
 * checkpoint finds every cap between members among the proxies.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config/session_args.h"
#include "monitor/group.h"
#include "monitor/monitor.h"

/* calls at a member's root give up if the member does not take them in
 * time (it may be paused or itself waiting): the client asks again.  Only
 * the send is bounded, not the reply (rpc_call_taken_within): with the
 * kernel's call timeout, which bounds both, a server paused longer than
 * it in the middle of such a call (a cut, a group held for a migration)
 * had opened a session whose client was told to ask again and opened a
 * second one (the first never closed: the server waited for it forever),
 * or closed one whose client was told the close failed. */
#define GROUP_ROOT_TIMEOUT_US 100000

int group_root_call(cap_t root, struct msg *m)
{
	int rc = rpc_call_taken_within(root, m, GROUP_ROOT_TIMEOUT_US);

	return rc == -ETIMEDOUT ? -EAGAIN : rc;
}

static int member_index(const struct mon_group *g, const char *name)
{
	for (int i = 0; i < g->n; i++)
		if (!strcmp(g->member[i].start->name, name))
			return i;
	return -1;
}

static int provides(const struct start_config *s, const char *service)
{
	for (int i = 0; i < s->nprovides; i++)
		if (!strcmp(s->provides[i], service))
			return 1;
	return 0;
}

static cap_t root_of(const struct mon_member *m, const char *service)
{
	for (int i = 0; i < m->nroots; i++)
		if (!strcmp(m->root[i].name, service))
			return m->root[i].proxy;
	return CAP_INVALID;
}

/* ROOT_SESSION at member k's root proxy for client mon: the args
 * relabelled with the client's name as init does ("client" or "client ->
 * LABEL"). */
static int session_at(struct monitor *mon, int k, const char *service, const char *args,
		      cap_t *out)
{
	struct mon_member *srv = &mon->group->member[k];
	char label[CONFIG_NAME_MAX * 3], inner[CONFIG_NAME_MAX * 2],
	    relabeled[MON_ARGS_MAX];
	cap_t root = root_of(srv, service);
	struct msg m;
	int rc;

	if (srv->ended)
		return -ENOENT;
	if (!cap_valid(root))
		return -EAGAIN; /* not announced yet */
	rc = session_args_label(args, inner, sizeof inner);
	if (rc && rc != -ENOENT)
		return rc;
	if (rc)
		snprintf(label, sizeof label, "%s", group_member_name(mon));
	else
		snprintf(label, sizeof label, "%s -> %s", group_member_name(mon), inner);
	if ((rc = session_args_relabel(args, label, 0, relabeled, sizeof relabeled)))
		return rc;
	msg_reset(&m, ROOT_SESSION);
	if ((rc = msg_put_str(&m, relabeled)))
		return rc;
	if ((rc = group_root_call(root, &m))) /* -EAGAIN: asked again */
		return rc;
	if (m.code != RPC_OK || m.ncaps < 1 || !cap_valid(m.caps[0])) {
		for (unsigned i = 0; i < m.ncaps; i++)
			if (m.caps[i].idx)
				cap_release(m.caps[i]);
		return m.code == RPC_ERROR && m.nwords && (int64_t)m.w[0] < 0
			   ? (int)(int64_t)m.w[0]
			   : -EPROTO;
	}
	*out = m.caps[0];
	for (unsigned i = 1; i < m.ncaps; i++)
		cap_release(m.caps[i]);
	return 0;
}

int group_session(struct monitor *mon, const char *service, const char *args, cap_t *out,
		  int *server)
{
	struct mon_group *g = mon->group;
	const struct route_entry *e =
	    config_route(g->cfg.group, g->member[mon->member].start, service);
	int waiting = 0;

	if (!e) /* no route: the monitor's parent, as for one target */
		return 1;
	for (int i = 0; i < e->ntargets; i++) {
		const struct route_target *t = &e->target[i];
		if (t->kind == ROUTE_PARENT) {
			if (config_parent_provides(g->cfg.group, service))
				return 1;
		} else if (t->kind == ROUTE_CHILD) {
			int k = member_index(g, t->child);
			*server = k;
			return k < 0 ? -ENOENT : session_at(mon, k, service, args, out);
		} else {
			for (int k = 0; k < g->n; k++) {
				if (k == mon->member || g->member[k].ended)
					continue;
				*server = k;
				if (cap_valid(root_of(&g->member[k], service)))
					return session_at(mon, k, service, args, out);
				waiting |= provides(g->member[k].start, service);
			}
		}
	}
	return waiting ? -EAGAIN : -ENOENT;
}

int group_session_close(struct monitor *mon, int server, cap_t s)
{
	struct mon_member *srv = &mon->group->member[server];
	struct msg m;
	int rc = -ENOENT;

	for (int i = 0; i < srv->nroots && rc && rc != -EAGAIN; i++) {
		msg_reset(&m, ROOT_CLOSE);
		msg_put_cap(&m, s);
		rc = group_root_call(srv->root[i].proxy, &m);
		if (!rc && m.code == RPC_ERROR && m.nwords && (int64_t)m.w[0] == -EAGAIN)
			rc = -EAGAIN; /* the member did not take it from its proxy */
		else if (!rc && m.code != RPC_OK)
			rc = -EINVAL; /* not this root's session */
	}
	return srv->ended ? 0 : rc; /* a server gone has closed it */
}

int group_announce(struct monitor *mon, const char *name, cap_t root_proxy)
{
	struct mon_member *m = &mon->group->member[mon->member];
	int i;

	for (i = 0; i < m->nroots; i++)
		if (!strcmp(m->root[i].name, name))
			break;
	if (i == GROUP_MAX_ROOTS)
		return -ENOSPC;
	if (i < m->nroots)
		cap_release(m->root[i].proxy);
	else
		m->nroots++;
	snprintf(m->root[i].name, sizeof m->root[i].name, "%s", name);
	m->root[i].proxy = cap_ref(root_proxy);
	return 0;
}

/* The member (other than receiver) one of whose RPC gates has badge. */
static struct monitor *gate_owner(struct monitor *receiver, uint64_t badge)
{
	struct mon_group *g = receiver->group;

	for (int k = 0; k < g->n; k++) {
		struct monitor *mon = g->member[k].mon;
		const struct mon_record *r;
		if (!mon || mon == receiver || g->member[k].ended)
			continue;
		r = record_find(mon, badge);
		if (r && r->cls == MON_CLASS_RPC_GATE)
			return mon;
	}
	return NULL;
}

void group_wrap_request(struct monitor *receiver, struct msg *m)
{
	for (unsigned i = 0; i < m->ncaps; i++) {
		struct monitor *owner;
		cap_t c;
		if (!cap_valid(m->caps[i]) ||
		    !(owner = gate_owner(receiver, cap_badge(m->caps[i]))))
			continue;
		c = served_proxy_of(owner, cap_ref(m->caps[i]));
		if (cap_valid(c))
			m->caps[i] = c; /* the entrypoint releases its own list */
	}
}
