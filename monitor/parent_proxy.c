/*
 * The target's parent interface, served by the monitor.  The env sessions
 * (asked for with empty args) are the monitor's proxies; any other
 * session is routed through the monitor's own parent and recorded with
 * its service and args (docs/design.md: "caps obtained through sessions routed
 * outside: re-open the session with the recorded arguments").  Requests
 * come from the guest, so every word is checked.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "monitor/group.h"
#include "monitor/monitor.h"

#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

static struct proxy *env_proxy(struct monitor *mon, const char *service)
{
	if (!strcmp(service, "PD"))
		return mon->pd_proxy;
	if (!strcmp(service, "CPU"))
		return mon->cpu_proxy;
	if (!strcmp(service, "LOG"))
		return mon->log_proxy;
	if (!strcmp(service, "ROM"))
		return mon->rom_proxy;
	return NULL;
}

/* A session a group member opened at another member (group_route.c):
 * recorded as routed, with the member that serves it (rc: 1 + its
 * index, or -errno). */
static void group_session_reply(struct monitor *mon, struct msg *m, const char *service,
				const char *args, cap_t s, int rc)
{
	struct mon_record *r;

	if (rc < 0)
		return mon_reply_err(m, rc);
	r = record_add(mon, MON_CLASS_ROUTED, s, 0);
	record_hold(mon, s, service);
	if (r) {
		snprintf(record_text(mon, r)->what, MON_NAME_MAX, "%s", service);
		snprintf(record_text(mon, r)->args, MON_ARGS_MAX, "%s", args);
		r->member = rc; /* at a member, not at the monitor's parent */
	}
	msg_reset(m, RPC_OK);
	msg_put_cap(m, s);
}

static void op_session(struct monitor *mon, struct msg *m)
{
	char service[MON_NAME_MAX], args[MON_ARGS_MAX];
	struct mon_record *r;
	struct proxy *p;
	unsigned pos = 0;
	int rc, server = 0;
	cap_t s;

	if (msg_get_str(m, &pos, service, sizeof service) ||
	    msg_get_str(m, &pos, args, sizeof args))
		return mon_reply_err(m, -EINVAL);
	if (!args[0] && (p = env_proxy(mon, service)) != NULL) {
		msg_reset(m, RPC_OK);
		msg_put_cap(m, p->obj.cap);
		return;
	}
	if (mon->group && (rc = group_session(mon, service, args, &s, &server)) <= 0)
		return group_session_reply(mon, m, service, args, s,
					   rc ? rc : server + 1);
	if ((rc = parent_session(mon->env->parent, service, args, &s)))
		return mon_reply_err(m, rc);
	r = record_add(mon, MON_CLASS_ROUTED, s, 0);
	record_hold(mon, s, service);
	if (r) {
		snprintf(record_text(mon, r)->what, MON_NAME_MAX, "%s", service);
		snprintf(record_text(mon, r)->args, MON_ARGS_MAX, "%s", args);
	}
	/* a session type with state naming the target's objects is served
	 * through a proxy (the record keeps the monitor's own reference) */
	if (!strcmp(service, "Timer") || !strcmp(service, "RM")) {
		s = proxy_new(mon, service[0] == 'T' ? &timer_proxy_type : &rm_proxy_type,
			      cap_ref(s), NULL);
		if (!cap_valid(s))
			return mon_reply_err(m, -ENOSPC);
	}
	msg_reset(m, RPC_OK);
	msg_put_cap(m, s);
}

/* Remember (name, root badge) so a restore can announce the new root. */
static void announced(struct monitor *mon, const char *name, uint64_t badge)
{
	int i;

	for (i = 0; i < mon->nannounced; i++)
		if (!strcmp(mon->announced[i].name, name))
			break;
	if (i == 4)
		return;
	if (i == mon->nannounced)
		mon->nannounced++;
	snprintf(mon->announced[i].name, sizeof mon->announced[i].name, "%s", name);
	mon->announced[i].badge = badge;
}

static void op_announce(struct monitor *mon, struct msg *m)
{
	char name[MON_NAME_MAX];
	unsigned pos = 0;
	int rc;

	if (msg_get_str(m, &pos, name, sizeof name) || m->ncaps < 1 ||
	    !cap_valid(m->caps[0]))
		return mon_reply_err(m, -EINVAL);
	/* clients get the monitor's proxies of the target's objects: they
	 * outlive a restore (served_proxy.c) */
	if ((rc = mon->group ? served_announce_group(mon, name, m->caps[0])
			     : served_announce(mon, name, m->caps[0])))
		return mon_reply_err(m, rc);
	record_hold(mon, cap_ref(m->caps[0]), name);
	record_add(mon, MON_CLASS_ROOT, m->caps[0], 0);
	announced(mon, name, cap_badge(m->caps[0]));
	msg_reset(m, RPC_OK);
}

/* A session served through a proxy (Timer, RM) is gone: its proxy and,
 * for RM, the maps made through it (the target may keep dead caps). */
static void proxied_closed(struct monitor *mon, struct proxy *p)
{
	for (int i = 0; p->type == &rm_proxy_type && i < MON_MAX_PROXIES; i++) {
		struct proxy *map = &mon->proxy[i];
		if (map->used && map->type == &region_map_proxy_type &&
		    map->state[RMAP_SESSION] == p->obj.badge) {
			record_dead(mon, map->obj.badge);
			region_map_forget(mon, map);
		}
	}
	record_dead(mon, p->obj.badge);
	proxy_destroy(mon, p);
}

/* Close or upgrade a session at a group member (record r). */
static void group_forward(struct monitor *mon, struct msg *m, uint64_t op,
			  struct mon_record *r)
{
	uint64_t badge = r->badge;
	int rc = 0;

	if (op == PARENT_CLOSE && (rc = group_session_close(mon, r->member - 1, r->cap)))
		return mon_reply_err(m, rc);
	if (op == PARENT_CLOSE)
		record_dead(mon, badge);
	msg_reset(m, RPC_OK);
}

static void op_forward_session_cap(struct monitor *mon, struct msg *m)
{
	struct proxy *p = m->ncaps >= 1 ? proxy_find(mon, cap_badge(m->caps[0])) : NULL;
	uint64_t op = m->code, badge;
	struct mon_record *r;
	int rc;

	if (p && (p->type == &timer_proxy_type || p->type == &rm_proxy_type))
		m->caps[0] = p->real; /* the routed session it stands for */
	else
		p = NULL;
	if (m->ncaps < 1 || !(r = record_find(mon, cap_badge(m->caps[0]))))
		return mon_reply_err(m, -EINVAL);
	badge = cap_badge(m->caps[0]);
	if (r->cls == MON_CLASS_ROUTED && r->member) /* at a group member */
		return group_forward(mon, m, op, r);
	if ((rc = rpc_call(mon->env->parent, m)))
		return mon_reply_err(m, rc);
	if (op != PARENT_CLOSE || m->code != RPC_OK)
		return;
	record_dead(mon, badge);
	if (p)
		proxied_closed(mon, p);
}

void parent_proxy_dispatch(struct rpc_object *obj, struct msg *m)
{
	struct monitor *mon = container_of(obj, struct monitor, parent_obj);

	if (mon->state != MON_RUNNING)
		return mon_reply_err(m, -ESRCH);
	switch (m->code) {
	case PARENT_EXIT:
		if (!m->nwords)
			return mon_reply_err(m, -EINVAL);
		monitor_target_ends(mon, (int)(int64_t)m->w[0]);
		msg_reset(m, RPC_OK);
		return;
	case PARENT_SESSION:
		return op_session(mon, m);
	case PARENT_ANNOUNCE:
		return op_announce(mon, m);
	case PARENT_CLOSE:
	case PARENT_UPGRADE:
		return op_forward_session_cap(mon, m);
	default:
		msg_reset(m, RPC_INVALID_OPCODE);
	}
}
