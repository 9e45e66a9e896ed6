/*
 * Capability space of a task: nslots slots, named by kcap = index << 12.
 * A native task's is large (CAP_SLOTS_NATIVE, 12 MiB); the array is a
 * mapping of its own, so only the pages of slots used cost memory, and
 * once the node is idle after a task ended, the pages of native tasks'
 * arrays that hold no used slot any more go back to the host
 * (cap_space_trim_node): core and init hold caps of every component,
 * and without that their pages stayed, 1.5 kB a component that ran.
 * (calloc'd, the array came from the heap once glibc's dynamic mmap
 * threshold had risen past it, and was memset whole.)
 * Slot 0 is never used, so KCAP_INVALID never names an object.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "kernel/kernel.h"

static size_t cap_space_bytes(unsigned nslots)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return ((size_t)nslots * sizeof(struct cap_slot) + page - 1) & ~(page - 1);
}

int cap_space_init(struct cap_space *cs, unsigned nslots)
{
	void *p = mmap(NULL, cap_space_bytes(nslots), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	cs->slots = p == MAP_FAILED ? NULL : p;
	cs->nslots = cs->slots ? nslots : 0;
	cs->high = 0;
	return cs->slots ? 0 : -ENOMEM;
}

void cap_space_fini(struct cap_space *cs)
{
	if (!cs->slots)
		return;
	/* not past the highest slot handed out: reading the rest faulted in
	 * pages nobody wrote (up to 3072 of a native task's array, ms of
	 * the node's thread when the task ended) */
	for (unsigned i = 1; i <= cs->high; i++)
		if (cs->slots[i].obj)
			mapdb_revoke(&cs->slots[i], true);
	munmap(cs->slots, cap_space_bytes(cs->nslots));
	cs->slots = NULL;
	cs->nslots = 0;
}

struct cap_slot *cap_space_slot(struct cap_space *cs, uint64_t kcap)
{
	uint64_t index = KCAP_INDEX(kcap);

	if (!cs->slots || index == 0 || index >= cs->nslots)
		return NULL;
	if (index > cs->high)
		cs->high = (unsigned)index;
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

/* true if the page at p holds only zero bytes: an empty slot is all
 * zero (mapdb_clear_leaf), a used one has its obj */
static bool cap_page_empty(const unsigned char *p, size_t page)
{
	const uint64_t *w = (const uint64_t *)p;

	for (size_t i = 0; i < page / sizeof *w; i++)
		if (w[i])
			return false;
	return true;
}

/* Give back the resident pages of cs's array that hold no used slot;
 * mincore keeps the walk to the pages the host gave (a few dozen of
 * core's 3072) instead of faulting in the rest. */
static void cap_space_trim(struct cap_space *cs)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t npages = cap_space_bytes(cs->nslots) / page;
	unsigned char *base = (unsigned char *)cs->slots;
	unsigned char vec[256];

	for (size_t first = 0; first < npages; first += sizeof vec) {
		size_t n = npages - first < sizeof vec ? npages - first : sizeof vec;

		if (mincore(base + first * page, n * page, vec))
			return;
		for (size_t i = 0; i < n; i++) {
			unsigned char *p = base + (first + i) * page;

			if ((vec[i] & 1) && cap_page_empty(p, page))
				madvise(p, page, MADV_DONTNEED);
		}
	}
}

void cap_space_trim_node(struct node *n)
{
	n->cap_trim_due = false;
	for (struct klist *l = n->objects.next; l != &n->objects; l = l->next) {
		struct kobj *o = klist_entry(l, struct kobj, all);

		if (o->type == KOBJ_TASK && !o->dead &&
		    ((struct task *)o)->flags == TASK_NATIVE)
			cap_space_trim(&((struct task *)o)->caps);
	}
}
