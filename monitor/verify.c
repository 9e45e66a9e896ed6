/*
 * Verifying a restore (the test hook's proof, also usable by the CLI):
 * a fresh checkpoint of the restored target must find every cap at the
 * kcap and in the class it had before, the target's own objects with new
 * badges, and its cap map and object pool consistent in its memory.
 */
#include <errno.h>
#include <stdlib.h>

#include "monitor/restore.h"
#include "monitor/verify.h"

/* Classes whose objects a restore recreates with new badges. */
static int rebadged_class(enum mon_class c)
{
	return c == MON_CLASS_DATASPACE || c == MON_CLASS_THREAD ||
	       c == MON_CLASS_RPC_GATE || c == MON_CLASS_SIGNAL_CONTEXT ||
	       c == MON_CLASS_SEMAPHORE || c == MON_CLASS_REGION_MAP;
}

static const struct mon_model_cap *cap_at(const struct mon_model *m, uint64_t kcap)
{
	for (unsigned i = 0; i < m->ncaps; i++)
		if (m->cap[i].kcap == kcap)
			return &m->cap[i];
	return NULL;
}

static int recreated(const struct badge_map *bm, uint64_t old)
{
	for (unsigned i = 0; i < bm->n; i++)
		if (bm->pair[i].old_badge == old)
			return 1;
	return 0;
}

int monitor_verify_restore_map(struct monitor *mon, const struct mon_model *before,
			       struct mon_model *after, const struct badge_map *bm)
{
	unsigned same = 0, renewed = 0;

	for (unsigned i = 0; i < before->ncaps; i++) {
		const struct mon_model_cap *b = &before->cap[i],
					   *a = cap_at(after, b->kcap);
		if (b->cls == MON_CLASS_SKIPPED)
			continue;
		if (!a || a->cls != b->cls) {
			env_log(mon->env, "monitor: verify: kcap 0x%llx (%s) %s",
				(unsigned long long)b->kcap, mon_class_name(b->cls),
				a ? "changed class" : "is gone");
			return -EINVAL;
		}
		same++;
		if (rebadged_class(b->cls) &&
		    (bm ? !recreated(bm, b->badge) ||
			      a->badge != badge_map_new(bm, b->badge)
			: a->badge == b->badge)) {
			env_log(
			    mon->env, "monitor: verify: kcap 0x%llx kept badge 0x%llx",
			    (unsigned long long)b->kcap, (unsigned long long)b->badge);
			return -EINVAL;
		}
		renewed += bm ? recreated(bm, b->badge) : a->badge != b->badge;
	}
	if (cap_map_verify(after) || pool_fix_or_check(after, 0)) {
		env_log(mon->env, "monitor: verify: cap map or object pool inconsistent");
		return -EINVAL;
	}
	env_log(mon->env,
		"monitor: verify: %u caps at their kcaps in their classes, %u with new "
		"badges; cap map and object pool consistent in the target",
		same, renewed);
	return 0;
}

int monitor_verify_now(struct monitor *mon, const struct mon_model *before,
		       const struct badge_map *bm)
{
	struct mon_model *after = calloc(1, sizeof *after);
	int rc = -ENOMEM;

	if (after && !(rc = monitor_checkpoint(mon, after))) {
		rc = monitor_verify_restore_map(mon, before, after, bm);
		monitor_resume(mon);
	}
	if (after)
		model_free(after);
	free(after);
	return rc;
}
