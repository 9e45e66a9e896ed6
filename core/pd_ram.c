/*
 * PD session, memory side: RAM dataspaces charged to the PD's RAM quota,
 * and attaching dataspaces into the PD's address space.  A guest PD has a
 * region map over its whole (47-bit) address space, "anywhere" meaning
 * [GUEST_RM_BASE, +GUEST_RM_SIZE), and core maps each attachment into the
 * task with TASK_MAP_MEM.  A native PD shares core's host address space:
 * an attachment is the dataspace's host address, only recorded.
 */
#include <errno.h>
#include <stdlib.h>
#include "core/core_internal.h"

#define GUEST_ADDR_LIMIT (1ULL << 47)

void pd_rm_init(struct pd_session *pd)
{
	if (pd->native)
		rm_init(&pd->rm, 0, 0, ~0ULL, 1);
	else
		rm_init(&pd->rm, GUEST_RM_BASE, GUEST_RM_SIZE, GUEST_ADDR_LIMIT, 0);
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
			pd_uncharge_ram(pd, ds->size);
			ds_release(pd->core, ds);
			return;
		}
	}
}

/* Check and normalise an attach request's window into ds. */
static int pd_attach_window(struct dataspace *ds, uint64_t off, uint64_t *size,
			    unsigned perm)
{
	if (off % PAGE_SIZE || off >= ds->size)
		return -EINVAL;
	if (!*size)
		*size = ds->size - off;
	if (PAGE_ROUND(*size) < *size)
		return -EINVAL;
	*size = PAGE_ROUND(*size);
	if (*size > ds->size - off)
		return -EINVAL;
	if (!perm || perm & ~(unsigned)(MEM_R | MEM_W | MEM_X))
		return -EINVAL;
	if ((perm & MEM_W) && !ds->writable)
		return -EPERM;
	return 0;
}

int pd_attach_ds(struct pd_session *pd, struct dataspace *ds, uint64_t addr, uint64_t off,
		 uint64_t size, unsigned perm, uint64_t *at)
{
	struct region *r;
	uint64_t where;
	int err = pd_attach_window(ds, off, &size, perm);

	if (err)
		return err;
	if (pd->native) {
		where = (uint64_t)ds->host + off;
		if (addr && addr != where)
			return -EINVAL;
	} else {
		err = rm_place(&pd->rm, addr, size, &where);
		if (err)
			return err;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	*r = (struct region){
	    .addr = where, .size = size, .ds = ds, .off = off, .perm = perm};
	if (!pd->native) {
		uint64_t w[5] = {TASK_MAP_MEM, (uint64_t)ds->host + off, where, size,
				 perm};
		err = kobj_invoke(cap_kcap(pd->task), PROTO_TASK, w, 5, NULL, 0);
		if (err) {
			free(r);
			return err;
		}
	}
	rm_link(&pd->rm, r);
	ds_ref(ds);
	*at = where;
	return 0;
}

static void pd_region_drop(struct pd_session *pd, struct region *r)
{
	if (!pd->native) {
		uint64_t w[3] = {TASK_UNMAP_MEM, r->addr, r->size};
		kobj_invoke(cap_kcap(pd->task), PROTO_TASK, w, 3, NULL, 0);
	}
	rm_unlink(&pd->rm, r);
	ds_unref(r->ds);
	free(r);
}

int pd_detach_addr(struct pd_session *pd, uint64_t addr)
{
	struct region *r = rm_find(&pd->rm, addr);

	if (!r)
		return -ENOENT;
	pd_region_drop(pd, r);
	return 0;
}

void pd_memory_release(struct pd_session *pd)
{
	while (pd->rm.head)
		pd_region_drop(pd, pd->rm.head);
	while (pd->ram)
		pd_free_ds(pd, pd->ram);
}
