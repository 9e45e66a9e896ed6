/*
 * PD session, memory side: RAM dataspaces charged to the PD's RAM quota,
 * and attaching dataspaces into the PD's address space.  A guest PD has a
 * region map over its whole (47-bit) address space, "anywhere" meaning
 * [GUEST_RM_BASE, +GUEST_RM_SIZE), and core maps each attachment into the
 * task with TASK_MAP_MEM (core/rm_mapping.c).  Its stack area
 * [GUEST_STACK_AREA, +THREAD_AREA_THREADS * GUEST_STACK_SLOT) is a managed
 * dataspace (core/rm_session.c): attachments at fixed addresses inside it
 * go into that region map.  A native PD shares core's host address space:
 * an attachment is the dataspace's host address, only recorded.
 */
#include <errno.h>
#include <stdlib.h>
#include "core/core_internal.h"

#define GUEST_ADDR_LIMIT (1ULL << 47)

void pd_rm_init(struct pd_session *pd)
{
	if (pd->native) {
		rm_init(&pd->rm, 0, 0, ~0ULL, 1);
	} else {
		rm_init(&pd->rm, GUEST_RM_BASE, GUEST_RM_SIZE, GUEST_ADDR_LIMIT, 0);
		pd->rm.pd = pd;
		/* without it, stacks land in the address space itself and
		 * PD_STACK_AREA answers -ENOENT */
		rm_pd_init(pd);
	}
}

int pd_charge_ram(struct pd_session *pd, uint64_t n)
{
	if (n > pd->ram_quota - pd->ram_used)
		return -EDQUOT;
	pd->ram_used += n;
	return 0;
}

void pd_uncharge_ram(struct pd_session *pd, uint64_t n)
{
	pd->ram_used -= n;
}

int pd_charge_caps(struct pd_session *pd, uint64_t n)
{
	if (n > pd->cap_quota - pd->cap_used)
		return -EDQUOT;
	pd->cap_used += n;
	return 0;
}

void pd_uncharge_caps(struct pd_session *pd, uint64_t n)
{
	pd->cap_used -= n;
}

int pd_alloc_ds(struct pd_session *pd, uint64_t size, struct dataspace **out)
{
	struct dataspace *ds;
	int err;

	if (!size || PAGE_ROUND(size) < size)
		return -EINVAL;
	size = PAGE_ROUND(size);
	err = pd_charge_ram(pd, size);
	if (err)
		return err;
	err = ds_create(pd->core, size, 1, &ds);
	if (err) {
		pd_uncharge_ram(pd, size);
		return err;
	}
	ds->next = pd->ram;
	pd->ram = ds;
	*out = ds;
	return 0;
}

void pd_free_ds(struct pd_session *pd, struct dataspace *ds)
{
	for (struct dataspace **pp = &pd->ram; *pp; pp = &(*pp)->next) {
		if (*pp == ds) {
			*pp = ds->next;
			ds_detach_all(ds); /* its quota goes back: so must it */
			pd_uncharge_ram(pd, ds->size);
			ds_release(pd->core, ds);
			return;
		}
	}
}

/* Native PDs: the attachment is the dataspace's host address. */
static int pd_attach_native(struct pd_session *pd, struct dataspace *ds, uint64_t addr,
			    uint64_t off, uint64_t size, unsigned perm, uint64_t *at)
{
	uint64_t where = (uint64_t)ds->host + off;
	struct region *r;

	if (off % PAGE_SIZE || off >= ds->size)
		return -EINVAL;
	if (!size)
		size = ds->size - off;
	if (PAGE_ROUND(size) < size || PAGE_ROUND(size) > ds->size - off)
		return -EINVAL;
	if (!perm || perm & ~(unsigned)(MEM_R | MEM_W | MEM_X))
		return -EINVAL;
	if ((perm & MEM_W) && !ds->writable)
		return -EPERM;
	if (addr && addr != where)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	*r = (struct region){
	    .addr = where, .size = PAGE_ROUND(size), .ds = ds, .off = off, .perm = perm};
	rm_link(&pd->rm, r);
	ds_ref(ds);
	*at = where;
	return 0;
}

/* The stack-area map if [addr, addr+1) lies in it, with addr made
 * relative; else the address space itself. */
static struct region_map *pd_map_of(struct pd_session *pd, uint64_t *addr)
{
	struct region_map *stack = rm_pd_stack(pd);

	if (stack && *addr >= GUEST_STACK_AREA &&
	    *addr - GUEST_STACK_AREA < stack->size) {
		*addr -= GUEST_STACK_AREA;
		return stack;
	}
	return &pd->rm;
}

int pd_attach_region(struct pd_session *pd, struct dataspace *ds, struct region_map *sub,
		     uint64_t addr, int fixed, uint64_t off, uint64_t size, unsigned perm,
		     uint64_t *at)
{
	struct region_map *m = &pd->rm;
	int err;

	if (pd->native) {
		if (!ds)
			return -EINVAL;
		return pd_attach_native(pd, ds, fixed ? addr : 0, off, size, perm, at);
	}
	if (fixed)
		m = pd_map_of(pd, &addr);
	err = rm_attach(m, ds, sub, addr, fixed, off, size, perm, at);
	if (err)
		return err;
	if (m != &pd->rm) {
		*at += GUEST_STACK_AREA;
		rm_pd_attached(pd, m);
	}
	return 0;
}

int pd_attach_ds(struct pd_session *pd, struct dataspace *ds, uint64_t addr, uint64_t off,
		 uint64_t size, unsigned perm, uint64_t *at)
{
	return pd_attach_region(pd, ds, NULL, addr, addr != 0, off, size, perm, at);
}

int pd_detach_addr(struct pd_session *pd, uint64_t addr)
{
	struct region_map *m = pd->native ? &pd->rm : pd_map_of(pd, &addr);
	struct region *r = rm_find(m, addr);

	if (!r)
		return -ENOENT;
	if (pd->stack_area && r->sub == rm_pd_stack(pd))
		return -EBUSY; /* the stack area stays */
	if (pd->native) {
		rm_unlink(m, r);
		ds_unref(r->ds);
		free(r);
		return 0;
	}
	rm_region_drop(r);
	return 0;
}

void pd_detach_ds(struct pd_session *pd, struct dataspace *ds)
{
	struct region_map *maps[2] = {&pd->rm, rm_pd_stack(pd)};

	for (unsigned i = 0; i < 2; i++) {
		if (!maps[i])
			continue;
		for (struct region *r = maps[i]->head, *n; r; r = n) {
			n = r->next;
			if (r->ds != ds)
				continue;
			if (pd->native) {
				rm_unlink(maps[i], r);
				ds_unref(r->ds);
				free(r);
			} else {
				rm_region_drop(r);
			}
		}
	}
}

void pd_memory_release(struct pd_session *pd)
{
	while (pd->rm.head) {
		struct region *r = pd->rm.head;
		if (pd->native) {
			rm_unlink(&pd->rm, r);
			ds_unref(r->ds);
			free(r);
		} else {
			rm_region_drop(r);
		}
	}
	rm_pd_release(pd);
	while (pd->ram)
		pd_free_ds(pd, pd->ram);
}

void pd_memory_forget(struct pd_session *pd)
{
	rm_forget(&pd->rm);
	rm_pd_forget(pd);
	for (struct dataspace *d = pd->ram, *n; d; d = n) {
		n = d->next;
		ds_unref(d);
	}
	pd->ram = NULL;
}
