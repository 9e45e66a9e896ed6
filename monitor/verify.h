/* Verifying a restore (monitor/verify.c). */
#ifndef MONITOR_VERIFY_H
#define MONITOR_VERIFY_H

#include "monitor/checkpoint.h"

/* Compare the checkpoint `before` a restore with a fresh one `after` it:
 * 0 if every non-skipped cap is at its kcap in its class, every object the
 * restore recreates has a new badge, and the cap map and object pool in
 * `after` are consistent; -EINVAL (logged) otherwise.  bm NULL: a restore
 * on the same node (new badge = a different number); else a restore on
 * another node, where core may hand out a number an old badge had: new
 * badge = the badge bm maps the old one to (the object was recreated). */
struct badge_map;
int monitor_verify_restore_map(struct monitor *mon, const struct mon_model *before,
			       struct mon_model *after, const struct badge_map *bm);
/* Checkpoint the restored target again, compare with `before` (bm NULL:
 * same node), and resume it.  0 or -errno. */
int monitor_verify_now(struct monitor *mon, const struct mon_model *before,
		       const struct badge_map *bm);

#endif
