/* Verifying a restore (monitor/verify.c). */
#ifndef MONITOR_VERIFY_H
#define MONITOR_VERIFY_H

#include "monitor/checkpoint.h"

/* Compare the checkpoint `before` a restore with the restored memory in
 * `after` (a model whose regions hold the new target's memory, its cap
 * map fixed): 0 if every non-skipped cap of before is at its kcap with
 * the badge bm maps its old one to, every object the restore recreates
 * (dataspaces, threads, gates, contexts, semaphores, region maps) is in
 * bm, and the cap map and every entrypoint's object pool in `after` are
 * consistent; -EINVAL (logged, naming the kcap) otherwise. */
struct badge_map;
int monitor_verify_restore_map(struct monitor *mon, const struct mon_model *before,
			       struct mon_model *after, const struct badge_map *bm);

#endif
