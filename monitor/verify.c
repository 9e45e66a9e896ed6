/*
 * Verifying a restore before its point of no return: in the new target's
 * memory as the restore wrote it, every cap the checkpoint classified
 * sits at its old kcap with its new badge (the objects the target owns
 * all recreated with new badges), and the cap map and the object pool of
 * every entrypoint are consistent.  Each cap's class is the one it was
 * recreated in (restore_caps.c makes each by its recorded class).
 */
#include <errno.h>
#include <stdlib.h>

#include "monitor/restore.h"
#include "monitor/target_report.h"
#include "monitor/verify.h"

/* Classes whose objects a restore recreates with new badges. */
static int rebadged_class(enum mon_class c)
{
	return c == MON_CLASS_DATASPACE || c == MON_CLASS_THREAD ||
	       c == MON_CLASS_RPC_GATE || c == MON_CLASS_SIGNAL_CONTEXT ||
	       c == MON_CLASS_SEMAPHORE || c == MON_CLASS_REGION_MAP;
}

/* The id in the restored cap map at kcap, 0 if the slot is free. */
static uint64_t id_at(const struct cr_cap_map *m, uint64_t kcap)
{
	return KCAP_INDEX(kcap) < CAP_SLOTS ? m->slot[KCAP_INDEX(kcap)].id : 0;
}

int monitor_verify_restore_map(struct monitor *mon, const struct mon_model *before,
			       struct mon_model *after, const struct badge_map *bm)
{
	const struct cr_cap_map *m = report_cap_map(after);
	struct badge_hash *h = badge_hash_make(bm);
	unsigned same = 0, renewed = 0;
	int rc = -EINVAL;

	if (!h)
		return -ENOMEM;
	for (unsigned i = 0; m && i < before->ncaps; i++) {
		const struct mon_model_cap *b = &before->cap[i];
		uint64_t id = id_at(m, b->kcap), want;
		int recreated = badge_hash_find(h, b->badge, &want);

		if (b->cls == MON_CLASS_SKIPPED)
			continue;
		if (!id || id == CR_ID_INVALID || id != want) {
			env_log(mon->env,
				"monitor: verify: kcap 0x%llx (%s) holds badge 0x%llx, "
				"not 0x%llx",
				(unsigned long long)b->kcap, mon_class_name(b->cls),
				(unsigned long long)id, (unsigned long long)want);
			goto out;
		}
		if (rebadged_class(b->cls) && !recreated) {
			env_log(
			    mon->env, "monitor: verify: kcap 0x%llx kept badge 0x%llx",
			    (unsigned long long)b->kcap, (unsigned long long)b->badge);
			goto out;
		}
		same++;
		renewed += recreated;
	}
	if (!m || cap_map_verify(after) || pool_fix_or_check(after, 0)) {
		env_log(mon->env,
			"monitor: verify: cap map or an object pool inconsistent");
		goto out;
	}
	env_log(mon->env,
		"monitor: verify: %u caps at their kcaps in their classes, %u with new "
		"badges; cap map and object pool consistent in the target",
		same, renewed);
	rc = 0;
out:
	free(h);
	return rc;
}
