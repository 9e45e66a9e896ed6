/*
 * Region map: the attachments of one address space, a list sorted by
 * address.  Pure bookkeeping; the PD session maps what it records.
 */
#ifndef CORE_REGION_MAP_H
#define CORE_REGION_MAP_H

#include <stdint.h>

struct dataspace;

struct region {
	struct region *next;
	uint64_t addr, size;
	struct dataspace *ds;
	uint64_t off;
	unsigned perm;
};

/* Invariants: regions sorted by addr; unless `overlap` is set they are
 * pairwise disjoint and within [0, limit). [base, base+size) is where
 * "anywhere" attachments go. */
struct region_map {
	struct region *head;
	uint64_t base, size, limit;
	int overlap;
};

void rm_init(struct region_map *rm, uint64_t base, uint64_t size, uint64_t limit,
	     int overlap);
/* Choose [at, at+size): addr if non-zero (must be page aligned, within
 * limit, free), else the lowest free page-aligned range in the anywhere
 * area.  size must be a non-zero multiple of the page size.
 * 0, -EINVAL (alignment, range), -EEXIST (overlap) or -ENOMEM (no room). */
int rm_place(const struct region_map *rm, uint64_t addr, uint64_t size, uint64_t *at);
/* Link r (r->addr, r->size already chosen by rm_place) in order. */
void rm_link(struct region_map *rm, struct region *r);
void rm_unlink(struct region_map *rm, struct region *r);
/* The region starting at addr, or NULL. */
struct region *rm_find(const struct region_map *rm, uint64_t addr);

#endif
