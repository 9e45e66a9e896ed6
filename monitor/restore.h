/*
 * Restore internals: the badge translation and the memory fix-ups on a
 * model copy (cap_map_fix.c, pool_fix.c).
 */
#ifndef MONITOR_RESTORE_H
#define MONITOR_RESTORE_H

#include "monitor/badge_map.h"
#include "monitor/checkpoint.h"

/* Every point of a restore that can fail calls this first (what: for
 * the log): the test hook <test fail_restore_nth="N"> makes the Nth
 * point of a restore fail once, with -ECANCELED (restore_hooks.c). */
int restore_point(struct monitor *mon, const char *what);
/* A call answering with one cap: 0 with *out, or -errno (restore.c). */
int restore_call_cap(cap_t dst, struct msg *m, cap_t *out);
/* Region maps a restore made (rm_restore.c).  Each: the new proxy (its
 * own reference to real), the real map (one reference), a managed map's
 * dataspace (one reference) and the RM session's real cap (borrowed). */
struct rm_made {
	uint64_t old_badge, old_ds;
	struct proxy *p;
	cap_t real, ds, session;
};
struct rm_restore {
	unsigned n;
	struct rm_made map[MON_MAX_RMAPS];
};
/* New maps for the model's, their badges (proxy, dataspace) into bm. */
int rm_restore_make(struct monitor *mon, cap_t pd, const struct mon_model *m,
		    struct badge_map *bm, struct rm_restore *rr);
/* What was made for the map keyed old_badge (its old proxy badge, or its
 * dataspace's id for a map of no cap), or NULL / the new dataspace for a
 * managed map's old one (CAP_INVALID: none). */
const struct rm_made *rm_restore_find(const struct rm_restore *rr, uint64_t old_badge);
cap_t rm_restore_ds(const struct rm_restore *rr, uint64_t old_ds_badge);
void rm_restore_rollback(struct monitor *mon, struct rm_restore *rr);
/* The old maps go, the new ones' dataspaces become records. */
void rm_restore_commit(struct monitor *mon, struct rm_restore *rr);

/* Copy size bytes from src to dst, where dst is fresh, zero-filled
 * memory: pages of zeros are skipped, the rest populated and copied
 * chunk by chunk (restore_fill.c).  The number of bytes written. */
uint64_t restore_fill(void *dst, const void *src, uint64_t size);
/* restore_fill for a source the caller gives up: where src and dst are
 * page-aligned, runs of chunks with data have their pages moved from src
 * to dst instead of copied (src reads as zeros there afterwards).  The
 * bytes written in *written; 0, or -errno (dst cannot be mapped again
 * after a refused move: the restore must fail). */
int restore_fill_move(void *dst, void *src, uint64_t size, uint64_t *written);

/* New badges into the cap map copy, tree rebuilt and checked. */
int cap_map_fix(struct mon_model *model, const struct badge_map *bm);
/* Every entrypoint's object pool (the report's list) re-keyed from the
 * (fixed) cap map, rebuilt and checked (rebuild = 0: only checked, e.g.
 * on a fresh checkpoint's copy). */
int pool_fix_or_check(struct mon_model *model, int rebuild);
#define pool_fix(model) pool_fix_or_check(model, 1)
/* cap_map_check on the copy (links translated for the check, then back). */
int cap_map_verify(struct mon_model *model);
/* The number of the target's signal handler thread, as its checkpoint
 * report says.  0 or -errno (-ENOENT: it has none). */
int model_handler_thread_nr(const struct mon_model *model, uint64_t *nr);

/* monitor_restore with the badge map seeded with seed (may be NULL): the
 * sessions, signal sources and outside objects an image restore made
 * beforehand, old badge -> the new proxy's or record's badge.  On
 * success *made (if not NULL) is the whole map of the restore. */
int monitor_restore_seeded(struct monitor *mon, const struct mon_model *model,
			   const struct badge_map *seed, struct badge_map *made);
/* monitor_restore_seeded in steps, for a group (group_restore.c), whose
 * members are each built before any is committed:
 *   restore_build   the target's own objects (model and seed stay the
 *                   caller's until the commit or abort); a member's caps
 *                   to other members' objects are left to
 *   restore_member_cap, with the owner's recreated object from
 *   restore_member_object;
 *   restore_ready   cap map, pools, threads' state, prepare, verify,
 *                   announce (a member's roots go to its group at its
 *                   commit);
 *   restore_commit  the point of no return (nothing fails), or
 *   restore_abort   everything built and prepared undone (rc: why).
 * Each returns 0 or -errno; after a failure the caller aborts.  Commit
 * and abort free rs (a commit with mon->after.later set leaves it in
 * mon->after.rs for restore_finish); *out may be set (to abort) even on
 * failure. */
struct rs;
int restore_build(struct monitor *mon, const struct mon_model *model,
		  const struct badge_map *seed, struct rs **out);
int restore_ready(struct rs *rs);
void restore_commit(struct rs *rs, struct badge_map *made);
/* A committed restore's end: the monitor's views of its memory detached,
 * its figures logged, rs freed. */
void restore_finish(struct rs *rs);
void restore_abort(struct rs *rs, int rc);
void restore_free(struct rs *rs);
/* The caps between a group's members waiting to be mapped, across
 * holders (member_map.c): one reference to each until it is mapped or
 * dropped. */
#define MEMBER_MAPQ_MAX TASK_MAP_OUT_MAX
struct member_mapq {
	unsigned n, npds;
	cap_t pd[PD_MAP_OUT_PDS]; /* the holders' new PDs in this batch */
	struct rs *holder[MEMBER_MAPQ_MAX];
	unsigned pd_of[MEMBER_MAPQ_MAX];
	cap_t c[MEMBER_MAPQ_MAX];
	uint64_t kcap[MEMBER_MAPQ_MAX], badge[MEMBER_MAPQ_MAX];
};
/* Queue c (borrowed) for kcap of the holder's new PD (old_badge: for the
 * error line), sending the batch first when c cannot join it. */
int member_map_queue(struct member_mapq *q, struct rs *holder, uint64_t kcap,
		     uint64_t old_badge, cap_t c);
/* Map what is queued (after the last member_map_queue); 0 or -errno
 * with the holder's monitor_why naming the cap refused. */
int member_map_flush(struct member_mapq *q);
void member_map_drop(struct member_mapq *q);
/* The cap c (borrowed) at kcap in the new target, mapped through q; its
 * old badge gets c's (restore_caps.c). */
int restore_member_cap(struct rs *holder, struct member_mapq *q, uint64_t kcap,
		       uint64_t old_badge, cap_t c);
/* The same for a cap whose copy the owner had revoked: the holder's cap
 * map entry gets c's badge, its slot stays empty. */
int restore_member_entry(struct rs *holder, uint64_t kcap, uint64_t old_badge, cap_t c);
/* The recreated object (borrowed) that was the owner's object of kind
 * (image/group.h's enum image_member_kind) with badge object: a gate,
 * a signal context, a dataspace or a region map's new proxy.  0 or
 * -ESRCH. */
int restore_member_object(struct rs *owner, uint32_t kind, uint64_t object, cap_t *out);
/* The regions of the holder's model that attach another member's
 * dataspace (mon_model_region.owner), each attached at its place in the
 * holder's new address space or managed map; object(arg, owner, old
 * badge, &cap) gives the owner's recreated dataspace (borrowed).  Run
 * once every member's own objects exist; its old badge gets the new
 * one's.  0 or -errno (monitor_why names the region). */
int restore_member_regions(struct rs *holder,
			   int (*object)(void *arg, int owner, uint64_t old, cap_t *ds),
			   void *arg);
/* The monitor a restore builds for. */
struct monitor *restore_monitor(const struct rs *rs);

/* restore_check.c: what this monitor can recreate of image im (read
 * from path), within its budget (budget: checked), its binary the one
 * at this node's ROM, its checkpoint ABI known.  0, or -errno with one
 * line in err. */
struct image_model;
int restore_image_check(struct monitor *mon, const struct image_model *im,
			const char *path, int budget, char *err, size_t n);
/* restore_image.c: the target's sessions of image im opened at this
 * monitor's parent behind new proxies, its signal sources' proxies and
 * its binary's ROM dataspace; old badge -> new into seed.  0 or -errno
 * (what was opened is the monitor's to destroy: target_destroy). */
int restore_image_open(struct monitor *mon, const struct image_model *im,
		       struct badge_map *seed);
/* Submit the signals drained at the last checkpoint (mon->pending) to the
 * contexts with their imprints, then forget them (checkpoint.c). */
void signals_resubmit(struct monitor *mon);

#endif
