/*
 * Region map: the attachments of one address range, a list sorted by
 * address.  A region holds either a dataspace or another region map (a
 * managed dataspace); every map knows the regions that attach it
 * (`uses`), and a PD's address space knows its PD, so an attachment can
 * be followed up to every task where it appears.  Pure bookkeeping:
 * core/rm_session.c and core/pd_ram.c map what it records.
 */
#ifndef CORE_REGION_MAP_H
#define CORE_REGION_MAP_H

#include <stdint.h>

struct dataspace;
struct pd_session;
struct region_map;

/* Invariants: exactly one of ds / sub is set; `in` is the map holding the
 * region; a region with sub is on sub->uses (linked through use_next), a
 * linked region with ds is on ds->uses (linked through ds_next). */
struct region {
	struct region *next;
	uint64_t addr, size;
	struct dataspace *ds;
	struct region_map *sub; /* managed dataspace attached here */
	struct region_map *in;
	struct region *use_next;
	struct region *ds_next;
	uint64_t off;
	unsigned perm;
};

/* Invariants: regions sorted by addr; unless `overlap` is set they are
 * pairwise disjoint and within [0, limit). [base, base+size) is where
 * "anywhere" attachments go.  pd is set for a PD's address space (the
 * root of a tree of maps); uses lists the regions attaching this map. */
struct region_map {
	struct region *head;
	uint64_t base, size, limit;
	int overlap;
	struct pd_session *pd;
	struct region *uses;
	unsigned count; /* regions linked */
};
#define RM_MAX_REGIONS 4096 /* per map: a guest's attachments cost core memory */

void rm_init(struct region_map *rm, uint64_t base, uint64_t size, uint64_t limit,
	     int overlap);
/* Choose [at, at+size): addr if non-zero (must be page aligned, within
 * limit, free), else the lowest free page-aligned range in the anywhere
 * area.  size must be a non-zero multiple of the page size.
 * 0, -EINVAL (alignment, range), -EEXIST (overlap) or -ENOMEM (no room). */
int rm_place(const struct region_map *rm, uint64_t addr, uint64_t size, uint64_t *at);
/* Like rm_place, but addr 0 is the address 0, never "anywhere". */
int rm_place_fixed(const struct region_map *rm, uint64_t addr, uint64_t size,
		   uint64_t *at);
/* Link r (r->addr, r->size already chosen by rm_place) in order; sets
 * r->in and, for a managed region, puts r on r->sub->uses. */
void rm_link(struct region_map *rm, struct region *r);
void rm_unlink(struct region_map *rm, struct region *r);
/* Take r off its dataspace's list of attachments (rm_unlink does it). */
void rm_ds_unlink(struct region *r);
/* The region starting at addr, or NULL. */
struct region *rm_find(const struct region_map *rm, uint64_t addr);
/* The region containing addr, or NULL. */
struct region *rm_lookup(const struct region_map *rm, uint64_t addr);
/* 1 if `inner` is `outer` or attached somewhere inside it (recursively):
 * attaching outer into inner would make a cycle. */
int rm_contains(const struct region_map *outer, const struct region_map *inner);

#endif
