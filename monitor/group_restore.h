/*
 * A group restore under way (group_restore.c), shared with the step that
 * maps the caps between its members (group_restore_refs.c).
 */
#ifndef MONITOR_GROUP_RESTORE_H
#define MONITOR_GROUP_RESTORE_H

#include "image/group.h"
#include "monitor/group.h"
#include "monitor/restore.h"

/* A served proxy made for the caps between members, one per object: in
 * owner's new monitor, of its object with the new badge. */
struct grs_proxy {
	int owner;
	uint64_t badge;
	cap_t proxy;
};

/* A group restore under way: per member its new monitor, model, badge
 * map seed and restore. */
struct grs {
	struct mon_group *g;
	struct image_group *ig;
	const char *path;
	struct binary_id binary[MON_GROUP_MAX];
	struct monitor *mon[MON_GROUP_MAX];
	struct mon_model *model[MON_GROUP_MAX];
	struct badge_map *seed[MON_GROUP_MAX];
	struct rs *rs[MON_GROUP_MAX];
	int paused[MON_GROUP_MAX];
	/* per member its image's sessions at other members (noted as its
	 * build opens the others) */
	const struct image_session **msess[MON_GROUP_MAX];
	unsigned nmsess[MON_GROUP_MAX];
	struct grs_proxy *made; /* nrefs at most */
	unsigned nmade;
	struct member_mapq mq; /* the caps between members, across holders */
	uint64_t t[5];	       /* begun, built, caps between members, ready, committed */
	char why[600];
};

/* Member k's name in the group's config. */
const char *grs_name(const struct grs *s, int k);
/* The first failure, naming the member (its monitor's reason if it gave
 * one, else what failed); later ones are dropped. */
void grs_failed(struct grs *s, int k, const char *what, int rc);
/* Every cap one member holds to another's object, mapped at its kcap in
 * the holder, then the regions of one member's dataspace in another; 0,
 * or -errno with s->why saying which. */
int grs_map_refs(struct grs *s);

#endif
