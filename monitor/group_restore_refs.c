/*
 * The caps between the members of a group restore (group_restore.c):
 * once every member's own objects exist again, each cap one member holds
 * to another's object (the group image's table) is mapped at its kcap in
 * the holder.  An RPC object becomes a served proxy of the owner's
 * recreated gate in the owner's new monitor, made once per object, and a
 * session between members is recorded in the holder's monitor as routed
 * to that member; a signal context, dataspace or region map is the
 * owner's recreated object itself.  The maps go to core in batches
 * across holders (member_map.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/group_restore.h"
#include "monitor/monitor.h"

/* The session record of holder h's image with id badge, if the ref is a
 * session at another member. */
static const struct image_session *member_session(const struct grs *s, int h,
						  uint64_t badge)
{
	for (unsigned i = 0; i < s->nmsess[h]; i++)
		if (s->msess[h][i]->id == badge)
			return s->msess[h][i];
	return NULL;
}

/* The served proxy, in owner o's new monitor, of its recreated gate c
 * (borrowed): made once per object, however many members hold it. */
static cap_t member_proxy(struct grs *s, int o, cap_t c)
{
	uint64_t badge = cap_badge(c);

	for (unsigned i = 0; i < s->nmade; i++)
		if (s->made[i].owner == o && s->made[i].badge == badge)
			return s->made[i].proxy;
	c = served_proxy_made(s->mon[o], cap_ref(c));
	if (cap_valid(c))
		s->made[s->nmade++] = (struct grs_proxy){o, badge, c};
	return c;
}

/* src (an array of sn) into dst (of dn), cut short if longer. */
static void copy_str(char *dst, size_t dn, const char *src, size_t sn)
{
	size_t k = strnlen(src, (dn < sn ? dn : sn) - 1);

	memcpy(dst, src, k);
	dst[k] = 0;
}

/* A session between members, recorded in the holder's new monitor as
 * routed to its server (parent_proxy.c records a new one so): the record
 * holds a reference, as record_hold's, without its second lookup. */
static int record_session(struct monitor *holder, const struct image_session *ss,
			  int owner, cap_t c)
{
	struct mon_record *r = record_add(holder, MON_CLASS_ROUTED, c, 0);

	if (!r)
		return -ENOSPC;
	cap_ref(c);
	r->refs++;
	copy_str(record_text(holder, r)->what, MON_NAME_MAX, ss->service,
		 sizeof ss->service);
	copy_str(record_text(holder, r)->args, MON_ARGS_MAX, ss->args, sizeof ss->args);
	r->member = owner + 1;
	return 0;
}

/* One record of the table: the owner's recreated object at the holder's
 * kcap, an RPC object as a served proxy in the owner's monitor. */
static int map_ref(struct grs *s, const struct image_member_ref *ref)
{
	int h = (int)ref->holder, o = (int)ref->owner, rc;
	const struct image_session *ss;
	cap_t c;

	if ((rc = restore_member_object(s->rs[o], ref->kind, ref->object, &c))) {
		snprintf(s->why, sizeof s->why,
			 "member '%s': kcap 0x%llx: member '%s' %s 0x%llx was not "
			 "recreated",
			 grs_name(s, h), (unsigned long long)ref->kcap, grs_name(s, o),
			 image_member_kind_name(ref->kind),
			 (unsigned long long)ref->object);
		return rc;
	}
	if (ref->kind == IMAGE_MEMBER_GATE) {
		/* (the monitor's c is derived from the owner's, for its
		 * revocations: restore_caps.c) */
		c = member_proxy(s, o, c);
		if (!cap_valid(c))
			return -ENOSPC;
		if ((ss = member_session(s, h, ref->badge)) &&
		    (rc = record_session(s->mon[h], ss, o, c)))
			return rc;
	}
	if (ref->flags & IMAGE_MEMBER_F_REVOKED) { /* the entry, not the cap */
		served_mark_cut(s->mon[o], c);
		return restore_member_entry(s->rs[h], ref->kcap, ref->badge, c);
	}
	return restore_member_cap(s->rs[h], &s->mq, ref->kcap, ref->badge, c);
}

/* The owner's recreated dataspace that was old (restore_member_regions). */
static int member_ds(void *arg, int owner, uint64_t old, cap_t *ds)
{
	struct grs *s = arg;

	if (owner < 0 || owner >= s->g->n || !s->rs[owner])
		return -ESRCH;
	return restore_member_object(s->rs[owner], IMAGE_MEMBER_DATASPACE, old, ds);
}

/* Each ref of the table queued, the proxies' gates made ahead per owner
 * (served_reserve); what is left queued is the caller's to send or drop. */
static int map_caps(struct grs *s)
{
	unsigned gates[MON_GROUP_MAX] = {0};
	int rc = 0;

	for (uint32_t i = 0; i < s->ig->h.nrefs; i++)
		if (s->ig->ref[i].kind == IMAGE_MEMBER_GATE &&
		    s->ig->ref[i].owner < MON_GROUP_MAX)
			gates[s->ig->ref[i].owner]++;
	if (s->ig->h.nrefs && !(s->made = calloc(s->ig->h.nrefs, sizeof *s->made))) {
		grs_failed(s, 0, "a cap between members", -ENOMEM);
		return -ENOMEM;
	}
	for (int k = 0; k < s->g->n; k++)
		if (s->mon[k])
			served_reserve(s->mon[k], gates[k]);
	for (uint32_t i = 0; i < s->ig->h.nrefs && !rc; i++)
		if ((rc = map_ref(s, &s->ig->ref[i])))
			grs_failed(s, (int)s->ig->ref[i].holder, "a cap between members",
				   rc);
	for (int k = 0; k < s->g->n; k++)
		if (s->mon[k])
			served_unreserve(s->mon[k]);
	return rc;
}

/* Every ref of the table; the caps are mapped in batches across holders; then
 * the regions of one member's dataspace in another (the owner's object
 * exists by now, whatever the members' order). */
int grs_map_refs(struct grs *s)
{
	int rc;

	if ((rc = map_caps(s)))
		return rc;
	if ((rc = member_map_flush(&s->mq))) {
		for (int k = 0; k < s->g->n; k++)
			if (s->mon[k] && s->mon[k]->why[0]) /* the holder refused */
				grs_failed(s, k, "a cap between members", rc);
		grs_failed(s, 0, "a cap between members", rc);
		return rc;
	}
	for (int k = 0; k < s->g->n; k++)
		if (s->rs[k] && (rc = restore_member_regions(s->rs[k], member_ds, s))) {
			grs_failed(s, k, "a region of another member's dataspace", rc);
			return rc;
		}
	return 0;
}
