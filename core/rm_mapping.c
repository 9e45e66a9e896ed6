/*
 * Attaching into region maps, and reflecting every attachment into the
 * tasks where the map appears.  A map appears in a task when it is a PD's
 * address space (map->pd) or when it is attached, as a managed
 * dataspace, inside a map that appears there (map->uses), recursively:
 * something attached at offset o of map m shows up at u->addr + o of
 * every map holding a region u that attaches m.  Each dataspace region
 * becomes one TASK_MAP_MEM region per task, so unmapping a region's range
 * never splits a kernel region.
 */
#include <errno.h>
#include <stdlib.h>
#include "core/core_internal.h"

/* Map [host, host+size) at offset at of m in every task m appears in.
 * Returns the first error (and keeps going: the rest stays consistent). */
static int rm_tasks_map(struct region_map *m, uint64_t at, uint64_t host, uint64_t size,
			unsigned perm)
{
	int err = 0, e;

	if (!perm)
		return 0;
	if (m->pd && !m->pd->native) {
		uint64_t w[5] = {TASK_MAP_MEM, host, at, size, perm};
		err = kobj_invoke(cap_kcap(m->pd->task), PROTO_TASK, w, 5, NULL, 0);
	}
	for (struct region *u = m->uses; u; u = u->use_next) {
		e = rm_tasks_map(u->in, u->addr + at, host, size, perm & u->perm);
		err = err ? err : e;
	}
	return err;
}

/* Unmap [at, at+size) of m in every task m appears in, but for a PD
 * being destroyed (pd->dying): its task runs no more and its engine is
 * closed whole with it, where unmapping its memory first cost 3-4 ms of
 * the node's thread per 256 MiB (a page-by-page flush, kernel/guest). */
static void rm_tasks_unmap(struct region_map *m, uint64_t at, uint64_t size)
{
	if (m->pd && !m->pd->native && !m->pd->dying) {
		uint64_t w[3] = {TASK_UNMAP_MEM, at, size};
		kobj_invoke(cap_kcap(m->pd->task), PROTO_TASK, w, 3, NULL, 0);
	}
	for (struct region *u = m->uses; u; u = u->use_next)
		rm_tasks_unmap(u->in, u->addr + at, size);
}

/* Map [off, off + size) of ds at offset at of m: all of it, or, for a
 * lazy dataspace (ds_lazy.c), each run of its present pages. */
static int rm_tasks_map_ds(struct region_map *m, uint64_t at, struct dataspace *ds,
			   uint64_t off, uint64_t size, unsigned perm)
{
	uint64_t p = off / PAGE_SIZE, to = (off + size) / PAGE_SIZE, q;
	int err = 0, e;

	if (!ds->lazy)
		return rm_tasks_map(m, at, (uint64_t)ds->host + off, size, perm);
	while (lazy_next_run(ds, p, to, &p, &q)) {
		e = rm_tasks_map(m, at + p * PAGE_SIZE - off,
				 (uint64_t)ds->host + p * PAGE_SIZE, (q - p) * PAGE_SIZE,
				 perm);
		err = err ? err : e;
		p = q;
	}
	return err;
}

int rm_ds_remap(struct dataspace *ds, uint64_t a, uint64_t b)
{
	int err = 0, e;

	for (struct region *u = ds->uses; u; u = u->ds_next) {
		uint64_t wo = u->off / PAGE_SIZE, we = (u->off + u->size) / PAGE_SIZE;
		uint64_t x = a > wo ? a : wo, y = b < we ? b : we, at;

		if (x >= y)
			continue;
		at = u->addr + x * PAGE_SIZE - u->off;
		/* the runs inside [x, y) were mapped each on its own */
		rm_tasks_unmap(u->in, at, (y - x) * PAGE_SIZE);
		e = rm_tasks_map(u->in, at, (uint64_t)ds->host + x * PAGE_SIZE,
				 (y - x) * PAGE_SIZE, u->perm);
		err = err ? err : e;
	}
	return err;
}

/* Map everything attached in sub (recursively) at offset at of m. */
static int rm_tasks_map_sub(struct region_map *m, uint64_t at, struct region_map *sub,
			    unsigned perm)
{
	int err = 0, e;

	for (struct region *r = sub->head; r; r = r->next) {
		if (r->ds)
			e = rm_tasks_map_ds(m, at + r->addr, r->ds, r->off, r->size,
					    perm & r->perm);
		else
			e = rm_tasks_map_sub(m, at + r->addr, r->sub, perm & r->perm);
		err = err ? err : e;
	}
	return err;
}

/* Check and normalise an attach request's window into a dataspace (ds)
 * or a managed dataspace (sub: only as a whole). */
static int rm_window(struct dataspace *ds, struct region_map *sub, uint64_t off,
		     uint64_t *size, unsigned perm)
{
	uint64_t total = ds ? ds->size : sub->size;

	if (!perm || perm & ~(unsigned)(MEM_R | MEM_W | MEM_X))
		return -EINVAL;
	if (off % PAGE_SIZE || off >= total)
		return -EINVAL;
	if (!*size)
		*size = total - off;
	if (PAGE_ROUND(*size) < *size)
		return -EINVAL;
	*size = PAGE_ROUND(*size);
	if (*size > total - off)
		return -EINVAL;
	if (sub && (off || *size != total))
		return -EINVAL;
	if (ds && (perm & MEM_W) && !ds->writable)
		return -EPERM;
	return 0;
}

int rm_attach(struct region_map *m, struct dataspace *ds, struct region_map *sub,
	      uint64_t addr, int fixed, uint64_t off, uint64_t size, unsigned perm,
	      uint64_t *at)
{
	struct region *r;
	uint64_t where;
	int err;

	if (!ds == !sub)
		return -EINVAL;
	err = rm_window(ds, sub, off, &size, perm);
	if (err)
		return err;
	if (m->count >= RM_MAX_REGIONS)
		return -ENOSPC;
	if (sub && (rm_contains(sub, m) || (m->pd && m->pd->native)))
		return -EINVAL; /* a cycle, or a native PD (no task memory) */
	err =
	    fixed ? rm_place_fixed(m, addr, size, &where) : rm_place(m, 0, size, &where);
	if (err)
		return err;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	*r = (struct region){
	    .addr = where, .size = size, .ds = ds, .sub = sub, .off = off, .perm = perm};
	if (ds)
		err = rm_tasks_map_ds(m, where, ds, off, size, perm);
	else
		err = rm_tasks_map_sub(m, where, sub, perm);
	if (err) {
		rm_tasks_unmap(m, where, size);
		free(r);
		return err;
	}
	rm_link(m, r);
	if (ds)
		ds_ref(ds);
	*at = where;
	return 0;
}

void rm_region_drop(struct region *r)
{
	struct region_map *m = r->in;

	rm_tasks_unmap(m, r->addr, r->size);
	rm_unlink(m, r);
	if (r->ds)
		ds_unref(r->ds);
	free(r);
}

void ds_detach_all(struct dataspace *ds)
{
	/* the owner's reference keeps ds alive through the loop */
	while (ds->uses)
		rm_region_drop(ds->uses);
}

int rm_detach(struct region_map *m, uint64_t addr)
{
	struct region *r = rm_find(m, addr);

	if (!r)
		return -ENOENT;
	rm_region_drop(r);
	return 0;
}

void rm_release(struct region_map *m)
{
	while (m->uses)
		rm_region_drop(m->uses);
	while (m->head)
		rm_region_drop(m->head);
}

void rm_forget(struct region_map *m)
{
	for (struct region *r = m->head, *n; r; r = n) {
		n = r->next;
		rm_ds_unlink(r);
		if (r->ds)
			ds_unref(r->ds);
		free(r);
	}
	m->head = NULL;
	m->uses = NULL;
}
