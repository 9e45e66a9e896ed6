/*
 * Restore internals: the badge translation and the memory fix-ups on a
 * model copy (cap_map_fix.c, pool_fix.c).
 */
#ifndef MONITOR_RESTORE_H
#define MONITOR_RESTORE_H

#include "monitor/checkpoint.h"

/* Old badge -> new badge of every object a restore recreated. */
struct badge_map {
	unsigned n;
	struct {
		uint64_t old_badge, new_badge;
	} pair[CAP_SLOTS];
};
/* The new badge for old (old itself if it did not change). */
uint64_t badge_map_new(const struct badge_map *bm, uint64_t old);

/* Target address of a host pointer into model's copy; -EFAULT if none. */
int model_h2g(const struct mon_model *model, const void *host, uint64_t *guest);
/* Translate a pointer field in place, guest -> host (the object of size
 * bytes must lie in the copy) or host -> guest.  NULL stays NULL. */
int model_g2h_ptr(const struct mon_model *model, void **field, uint64_t size);
int model_h2g_ptr(const struct mon_model *model, void **field);

/* New badges into the cap map copy, tree rebuilt and checked. */
int cap_map_fix(struct mon_model *model, const struct badge_map *bm);
/* The entrypoint object pool rebuilt from the (fixed) cap map and checked
 * (rebuild = 0: only checked, e.g. on a fresh checkpoint's copy). */
int pool_fix_or_check(struct mon_model *model, int rebuild);
#define pool_fix(model) pool_fix_or_check(model, 1)
/* cap_map_check on the copy (links translated for the check, then back). */
int cap_map_verify(struct mon_model *model);
/* The number of the target's signal handler thread (libbase's state in
 * the copy, found through the main thread's UTCB).  0 or -errno. */
int model_handler_thread_nr(const struct mon_model *model, uint64_t *nr);
/* The main entrypoint inside the copy (host pointer; *guest its target
 * address), or NULL. */
struct entrypoint *model_entrypoint(const struct mon_model *model, uint64_t *guest);

/* monitor_restore with the badge map seeded with seed (may be NULL): the
 * sessions, signal sources and outside objects an image restore made
 * beforehand, old badge -> the new proxy's or record's badge.  On
 * success *made (if not NULL) is the whole map of the restore. */
int monitor_restore_seeded(struct monitor *mon, const struct mon_model *model,
			   const struct badge_map *seed, struct badge_map *made);
/* Submit the signals drained at the last checkpoint (mon->pending) to the
 * contexts with their imprints, then forget them (checkpoint.c). */
void signals_resubmit(struct monitor *mon);

#endif
