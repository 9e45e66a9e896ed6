/*
 * Capabilities between the members of a group (group.h).  Each cap in a
 * member's cap map that its own monitor has no record of is looked up in
 * the other members' monitors: a proxy of one of them (the session
 * object or callback object it serves to the group, its root) or an
 * object one of them recorded (a dataspace, signal context or region map
 * it handed over in a call) is an object of that member
 * (MON_CLASS_MEMBER).  Anything else came through a session routed
 * outside the group, which the monitor does not see: the checkpoint is
 * refused with one line naming the kcap, the badge and that session.
 *
 * group_cap_table lists, after a cut, every cap one member holds to
 * another's object: those (MON_CLASS_MEMBER) and the sessions a member
 * opened at another (MON_CLASS_ROUTED at a member).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "image/group.h"
#include "monitor/checkpoint.h"
#include "monitor/group.h"

/* What a record's class is as a member object in an image (0: none). */
static uint32_t class_kind(enum mon_class cls)
{
	switch (cls) {
	case MON_CLASS_SIGNAL_CONTEXT:
		return IMAGE_MEMBER_SIGNAL_CONTEXT;
	case MON_CLASS_DATASPACE:
	case MON_CLASS_MANAGED_DS:
		return IMAGE_MEMBER_DATASPACE;
	case MON_CLASS_REGION_MAP:
		return IMAGE_MEMBER_REGION_MAP;
	default:
		return 0;
	}
}

/* Member k's object with badge, if any: 1 with *obj (the object the
 * proxy stands for, or badge), *kind and *ikind (its enum
 * image_member_kind, 0: it has no place in an image). */
static int member_object(struct monitor *mon, uint64_t badge, uint64_t *obj,
			 const char **kind, uint32_t *ikind)
{
	const struct proxy *p = proxy_find(mon, badge);
	const struct mon_record *r;
	int gate = p && (p->type == &served_proxy_type || p->type == &root_proxy_type);

	if (p) {
		*kind = p->type->name;
		*obj = gate ? p->state[0] : cap_badge(p->real);
		*ikind = gate ? IMAGE_MEMBER_GATE : 0;
		return 1;
	}
	r = record_find(mon, badge);
	if (!r || r->cls == MON_CLASS_UNKNOWN || r->cls == MON_CLASS_DEAD)
		return 0;
	*kind = mon_class_name(r->cls);
	*obj = badge;
	*ikind = class_kind(r->cls);
	return 1;
}

int group_member_ref(struct monitor *mon, int owner, uint64_t badge, uint64_t *object,
		     uint32_t *kind)
{
	struct mon_group *g = mon->group;
	const char *what;

	if (!g || owner < 0 || owner >= g->n || owner == mon->member ||
	    !g->member[owner].mon ||
	    !member_object(g->member[owner].mon, badge, object, &what, kind))
		return -ENOENT;
	return *kind ? 0 : -ENOTSUP;
}

uint64_t group_member_ds(struct monitor *mon, uint64_t badge, int *owner)
{
	struct mon_group *g = mon->group;

	for (int k = 0; g && k < g->n; k++) {
		struct monitor *other = g->member[k].mon;
		const struct mon_record *r;

		if (k == mon->member || !other || group_member_gone(g, k, NULL) ||
		    !(r = record_find(other, badge)) ||
		    (r->cls != MON_CLASS_DATASPACE && r->cls != MON_CLASS_MANAGED_DS))
			continue;
		*owner = k;
		return record_ds_size(other, r);
	}
	return 0;
}

/* The bytes of the owner's dataspace with badge are in its image: a
 * managed one's are what its map holds; a RAM one's only if the owner
 * attached it too (a region of its own is copied). */
static int owner_has_bytes(struct monitor *owner, uint64_t badge)
{
	const struct mon_record *r = record_find(owner, badge);

	if (r && r->cls == MON_CLASS_MANAGED_DS)
		return 1;
	for (int i = 0; r && i < MON_MAX_REGIONS; i++)
		if (owner->region[i].used && owner->region[i].ds_badge == badge)
			return 1;
	return 0;
}

int group_member_region(struct monitor *mon, const struct mon_region *g,
			struct mon_model_region *mr)
{
	int owner;
	uint64_t size = group_member_ds(mon, g->ds_badge, &owner);

	if (!size || !owner_has_bytes(mon->group->member[owner].mon, g->ds_badge))
		return 0; /* refused: "fits no class" */
	*mr = (struct mon_model_region){.rm = g->rm,
					.at = g->at,
					.off = g->off,
					.size = g->size,
					.ds_badge = g->ds_badge,
					.ds_size = size,
					.perm = g->perm,
					.owner = owner + 1};
	return 1;
}

/* The sessions member mon opened outside the group, as "Svc (badge
 * 0x..), ..." into buf. */
static void outside_sessions(const struct monitor *mon, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = 0;
	for (int i = 0; i < MON_MAX_RECORDS && n < size; i++) {
		const struct mon_record *r = &mon->rec[i];
		/* Timer and RM sessions are served through proxies: the
		 * monitor sees what comes through them */
		if (!r->used || r->cls != MON_CLASS_ROUTED || r->member ||
		    !strcmp(record_what(mon, r), "Timer") ||
		    !strcmp(record_what(mon, r), "RM"))
			continue;
		n += (size_t)snprintf(buf + n, size - n, "%s%s (badge 0x%llx)",
				      n ? ", " : "", record_what(mon, r),
				      (unsigned long long)r->badge);
	}
}

enum mon_class group_classify(struct monitor *mon, uint64_t kcap, uint64_t badge,
			      uint64_t *aux)
{
	struct mon_group *g = mon->group;
	const char *kind;
	char sessions[200];
	uint64_t obj;
	uint32_t ikind;

	for (int k = 0; k < g->n; k++) {
		struct monitor *other = g->member[k].mon;
		if (k == mon->member || !other || group_member_gone(g, k, NULL))
			continue;
		if (member_object(other, badge, &obj, &kind, &ikind)) {
			*aux = (uint64_t)k;
			return MON_CLASS_MEMBER;
		}
	}
	outside_sessions(mon, sessions, sizeof sessions);
	if (sessions[0])
		monitor_why(
		    mon,
		    "checkpoint: member '%s': kcap 0x%llx badge 0x%llx is no object "
		    "of the group: it came through a session routed outside the "
		    "group: %s",
		    group_member_name(mon), (unsigned long long)kcap,
		    (unsigned long long)badge, sessions);
	else
		monitor_why(mon,
			    "checkpoint: member '%s': kcap 0x%llx badge 0x%llx fits no "
			    "class (the monitor did not see it handed out)",
			    group_member_name(mon), (unsigned long long)kcap,
			    (unsigned long long)badge);
	return MON_CLASS_UNKNOWN;
}

/* The member that serves the session with badge in holder's records
 * (-1: none, at the parent). */
static int session_member(struct monitor *holder, uint64_t badge)
{
	const struct mon_record *r = record_find(holder, badge);

	return r && r->cls == MON_CLASS_ROUTED && r->member ? r->member - 1 : -1;
}

unsigned group_cap_table(struct mon_group *g, struct mon_model *const *models,
			 struct group_cap *t, unsigned max)
{
	unsigned n = 0;

	for (int h = 0; h < g->n; h++) {
		const struct mon_model *m = models[h];
		for (unsigned i = 0; m && i < m->ncaps && n < max; i++) {
			const struct mon_model_cap *c = &m->cap[i];
			int owner = c->cls == MON_CLASS_MEMBER ? (int)c->aux
				    : c->cls == MON_CLASS_ROUTED
					? session_member(g->member[h].mon, c->badge)
					: -1;
			struct group_cap *e = &t[n];

			if (owner < 0 || owner >= g->n || !group_member_runs(g, owner))
				continue;
			if (!member_object(g->member[owner].mon, c->badge, &e->object,
					   &e->kind, &e->ikind))
				continue; /* (its owner dropped it since) */
			e->holder = h;
			e->owner = owner;
			e->kcap = c->kcap;
			e->badge = c->badge;
			e->revoked = served_copy_revoked(
			    g->member[owner].mon, g->member[h].mon, c->badge, c->kcap);
			n++;
		}
	}
	return n;
}
