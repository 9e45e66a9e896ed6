/*
 * The state of a prebuilt copy (monitor/restore_prebuild.h), shared by
 * the rounds' side (restore_prebuild.c) and the final image's
 * (restore_prebuild_final.c).  Private to those two.
 */
#ifndef MONITOR_PREBUILD_STATE_H
#define MONITOR_PREBUILD_STATE_H

#include "monitor/checkpoint.h"
#include "monitor/restore_prebuild.h"
#include "monitor/restore_prebuild_sessions.h"
#include "monitor/restore_prebuild_threads.h"

struct pre_ds {
	uint64_t old_badge, size, host;
	cap_t cap;
};

/* A region of the copy's PD's own address space attached while the
 * rounds arrive; taken: the restore took its dataspace. */
struct pre_att {
	uint64_t ds_id, at, off, size;
	unsigned perm;
	int taken;
};

struct mon_prebuild {
	cap_t pd, cpu;
	struct monitor_config cfg; /* the monitor's, before round 1 */
	uint64_t image_id;	   /* the last image applied */
	uint8_t hash[IMAGE_HASH_SIZE];
	unsigned rounds, nds;
	int used; /* the restore of the final image takes the copy */
	/* built from a post-copy pre-skeleton: its dataspaces are lazy at
	 * core (mon->lazy, made here), no page written */
	int postcopy;
	unsigned took_threads, took_sessions, took_ds; /* the restore took */
	const struct image_model *final; /* that image, while it is restored */
	struct pre_ds ds[MON_MAX_REGIONS];
	struct pre_att att[MON_MAX_REGIONS];
	unsigned natt;
	struct binary_id binary; /* round 1's, checked at this node's ROM */
	uint8_t binary_hash[IMAGE_HASH_SIZE];
	struct pre_threads thr;	 /* restore_prebuild_threads.c */
	struct pre_sessions ses; /* restore_prebuild_sessions.c */
	/* the restore's model, its pages touched (zeroed) before the stop:
	 * 187 KB of new pages, whose first touches in the stop were 100-150
	 * us of it (prebuild_take_model) */
	struct mon_model *model;
	/* the same for the restore's state and its working copy of the
	 * model (restore.c, prebuild_take_touched): 210 and 187 KB of new
	 * pages, some 100-300 us of the stop in their first touches */
	void *touched[PREBUILD_TOUCHED];
};

/* The copy's dataspace of old_badge, or NULL. */
struct pre_ds *prebuild_ds_find(struct mon_prebuild *pb, uint64_t old_badge);
/* Detach and free one dataspace of the copy (and its regions). */
void prebuild_ds_free(struct monitor *mon, struct pre_ds *d);
/* im's memory entry of dataspace id, or NULL. */
const struct image_memory *prebuild_memory_of(const struct image_model *im, uint64_t id);
/* Does im continue the copy (its parent is the last image applied)? */
int prebuild_continues(const struct monitor *mon, const struct image_model *im);
/* Detach the copy's regions that im no longer has. */
void prebuild_att_prune(struct mon_prebuild *pb, const struct image_model *im);
/* The index of the copy's attachment with these fields, or -1. */
int prebuild_att_find(const struct mon_prebuild *pb, uint64_t ds_id, uint64_t at,
		      uint64_t off, uint64_t size, unsigned perm);

#endif
