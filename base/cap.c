/*
 * Capability values: references to cap map entries, with refcounts.
 * Releasing the last reference of a non-fixed entry unmaps its kcap from
 * the own task and frees the entry.  Both run under the cap map lock
 * (base/platform.h): without it, a thread cut off between the last
 * release's unmap and the entry's removal lets another thread that
 * receives the same badge take the dying entry, which is then freed under
 * it; and two refcount updates of one entry may lose one.
 */
#include "platform.h"

#define CAP_REF_MAX 0xff /* a saturated entry stays pinned */

uint64_t cap_kcap(cap_t c)
{
	if (!cap_valid(c))
		return KCAP_INVALID;
	return cap_map_kcap(cap_map(), c.idx);
}

uint64_t cap_badges_hold(void)
{
	struct utcb *u = sys_utcb();
	uint64_t before = u ? u->tcr[TCR_BADGES] : 0;

	if (u)
		u->tcr[TCR_BADGES] = TCR_BADGES_HELD;
	__asm__ volatile("" ::: "memory"); /* no badge is read above the mark */
	return before;
}

void cap_badges_done(uint64_t before)
{
	struct utcb *u;

	__asm__ volatile("" ::: "memory"); /* nor used below its end */
	if ((u = sys_utcb()))
		u->tcr[TCR_BADGES] = before;
}

void cap_map_lock(void)
{
	spinlock_lock(&base_state()->cap_lock);
}

void cap_map_unlock(void)
{
	spinlock_unlock(&base_state()->cap_lock);
}

cap_t cap_ref_locked(cap_t c)
{
	if (c.idx && c.idx->id && !c.idx->fixed && c.idx->ref < CAP_REF_MAX)
		c.idx->ref++;
	return c;
}

cap_t cap_ref(cap_t c)
{
	if (!c.idx)
		return c;
	cap_map_lock();
	cap_ref_locked(c);
	cap_map_unlock();
	return c;
}

unsigned base_unmap(uint64_t kcap, unsigned flags)
{
	struct utcb *u = sys_utcb();
	uint64_t label, tag;

	u->mr[0] = TASK_UNMAP;
	u->mr[1] = kcap;
	u->mr[2] = flags;
	tag = sys_invoke(KCAP(FIXED_TASK), TAG(SYS_OP_CALL, PROTO_TASK, 3, 0),
			 SYS_TIMEOUT_NEVER, &label);
	return TAG_ERROR(tag);
}

static void cap_release_locked(struct cap_map *m, struct cap_index *e)
{
	uint64_t kcap;

	if (!e->id || e->fixed || e->ref == 0 || e->ref == CAP_REF_MAX)
		return;
	if (--e->ref)
		return;
	kcap = cap_map_kcap(m, e);
	if (kcap == KCAP_INVALID)
		return; /* not an entry of this map: leave it alone */
	base_unmap(kcap, UNMAP_SELF);
	cap_map_remove(m, e);
}

void cap_release(cap_t c)
{
	if (!c.idx)
		return;
	cap_map_lock();
	cap_release_locked(cap_map(), c.idx);
	cap_map_unlock();
}
