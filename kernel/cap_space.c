/*
 * Capability space of a task: nslots slots, named by kcap = index << 12.
 * A native task's is large (CAP_SLOTS_NATIVE); calloc takes fresh pages
 * from the host for it, so only the slots used cost memory.
 * Slot 0 is never used, so KCAP_INVALID never names an object.
 */
#include <errno.h>
#include <stdlib.h>
#include "kernel/kernel.h"

int cap_space_init(struct cap_space *cs, unsigned nslots)
{
	cs->slots = calloc(nslots, sizeof *cs->slots);
	cs->nslots = cs->slots ? nslots : 0;
	return cs->slots ? 0 : -ENOMEM;
}

void cap_space_fini(struct cap_space *cs)
{
	if (!cs->slots)
		return;
	for (unsigned i = 1; i < cs->nslots; i++)
		if (cs->slots[i].obj)
			mapdb_revoke(&cs->slots[i], true);
	free(cs->slots);
	cs->slots = NULL;
	cs->nslots = 0;
}

struct cap_slot *cap_space_slot(struct cap_space *cs, uint64_t kcap)
{
	uint64_t index = KCAP_INDEX(kcap);

	if (!cs->slots || index == 0 || index >= cs->nslots)
		return NULL;
	return &cs->slots[index];
}

struct kobj *cap_space_lookup(struct cap_space *cs, uint64_t kcap, unsigned *rights)
{
	struct cap_slot *s = cap_space_slot(cs, kcap);

	if (!s || !s->obj) {
		if (rights)
			*rights = 0;
		return NULL;
	}
	if (rights)
		*rights = s->rights;
	return s->obj;
}

uint64_t cap_space_kcap(const struct cap_space *cs, const struct cap_slot *s)
{
	return KCAP(s - cs->slots);
}

void cap_slot_set(struct cap_slot *s, struct kobj *o, unsigned rights)
{
	s->obj = o;
	s->rights = (rights & RIGHTS_ALL) | RIGHT_R;
	s->parent = s->first_child = s->next_sib = s->prev_sib = NULL;
	kobj_cap_add(o);
}
