/*
 * Region map: a sorted list.  A component has tens of attachments, not
 * thousands, so a list is the simplest correct structure here.
 */
#include <errno.h>
#include <stddef.h>
#include "core/core_internal.h"

#define RM_PAGE 0x1000ULL

void rm_init(struct region_map *rm, uint64_t base, uint64_t size, uint64_t limit,
	     int overlap)
{
	rm->head = NULL;
	rm->base = base;
	rm->size = size;
	rm->limit = limit;
	rm->overlap = overlap;
	rm->pd = NULL;
	rm->uses = NULL;
	rm->count = 0;
}

/* 1 if [addr, addr+size) meets no region */
static int rm_free(const struct region_map *rm, uint64_t addr, uint64_t size)
{
	for (const struct region *r = rm->head; r; r = r->next)
		if (addr < r->addr + r->size && r->addr < addr + size)
			return 0;
	return 1;
}

int rm_place_fixed(const struct region_map *rm, uint64_t addr, uint64_t size,
		   uint64_t *at)
{
	if (!size || size % RM_PAGE || addr % RM_PAGE)
		return -EINVAL;
	if (addr + size < addr || addr + size > rm->limit)
		return -EINVAL;
	if (!rm->overlap && !rm_free(rm, addr, size))
		return -EEXIST;
	*at = addr;
	return 0;
}

int rm_place(const struct region_map *rm, uint64_t addr, uint64_t size, uint64_t *at)
{
	uint64_t cand, end;

	if (!size || size % RM_PAGE || addr % RM_PAGE)
		return -EINVAL;
	if (addr)
		return rm_place_fixed(rm, addr, size, at);
	cand = rm->base;
	end = rm->base + rm->size;
	if (size > rm->size)
		return -ENOMEM;
	/* walk the sorted list: each region may push the candidate past it */
	for (const struct region *r = rm->head; r; r = r->next) {
		if (r->addr + r->size <= cand)
			continue;
		if (cand + size <= r->addr)
			break;
		cand = r->addr + r->size;
	}
	if (cand + size > end || cand + size < cand)
		return -ENOMEM;
	*at = cand;
	return 0;
}

void rm_link(struct region_map *rm, struct region *r)
{
	struct region **pp = &rm->head;

	while (*pp && (*pp)->addr <= r->addr)
		pp = &(*pp)->next;
	r->next = *pp;
	*pp = r;
	rm->count++;
	r->in = rm;
	if (r->sub) {
		r->use_next = r->sub->uses;
		r->sub->uses = r;
	}
	if (r->ds) {
		r->ds_next = r->ds->uses;
		r->ds->uses = r;
	}
}

void rm_ds_unlink(struct region *r)
{
	if (!r->ds)
		return;
	for (struct region **pp = &r->ds->uses; *pp; pp = &(*pp)->ds_next) {
		if (*pp == r) {
			*pp = r->ds_next;
			r->ds_next = NULL;
			return;
		}
	}
}

void rm_unlink(struct region_map *rm, struct region *r)
{
	for (struct region **pp = &rm->head; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			r->next = NULL;
			rm->count--;
			break;
		}
	}
	rm_ds_unlink(r);
	if (!r->sub)
		return;
	for (struct region **pp = &r->sub->uses; *pp; pp = &(*pp)->use_next) {
		if (*pp == r) {
			*pp = r->use_next;
			r->use_next = NULL;
			return;
		}
	}
}

struct region *rm_find(const struct region_map *rm, uint64_t addr)
{
	for (struct region *r = rm->head; r; r = r->next)
		if (r->addr == addr)
			return r;
	return NULL;
}

struct region *rm_lookup(const struct region_map *rm, uint64_t addr)
{
	for (struct region *r = rm->head; r && r->addr <= addr; r = r->next)
		if (addr - r->addr < r->size)
			return r;
	return NULL;
}

int rm_contains(const struct region_map *outer, const struct region_map *inner)
{
	if (outer == inner)
		return 1;
	for (const struct region *r = outer->head; r; r = r->next)
		if (r->sub && rm_contains(r->sub, inner))
			return 1;
	return 0;
}
