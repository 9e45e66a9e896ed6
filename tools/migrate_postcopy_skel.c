/*
 * The skeleton of a post-copy migration (migrate_postcopy_src.h,
 * docs/migration.md "Post-copy"): the frozen target's state with of its
 * memory only the pages the destination's restore reads before the
 * target runs there.  Each page it reads that the skeleton does not
 * carry is a want and a round trip to the source in the pause (at a
 * load of 5-10 on two cores, 1-2 ms each: a 256 MiB bench_wset's
 * restore waited 1.3-45 ms for the 23 pages of its cap map past the
 * 16th), so the skeleton carries all of them: the cap map whole, the
 * checkpoint report, every entrypoint and the objects of its pool,
 * found and read in the frozen target's memory (frozen_memory.h): what
 * the skeleton carries is the memory as it is at the freeze.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <capsule/abi.h>
#include <capsule/checkpoint_abi.h>
#include "tools/migrate_postcopy_src.h"

#define SKEL_MAX_OBJECTS 4096 /* a pool's objects walked at most */

const uint8_t *postcopy_data(struct psrc *s, const struct src_ds *d)
{
	uint64_t size;

	return frozen_mem_at(s->fm, d->id, &size);
}

/* The source's dataspace and page offset of target address g, or NULL. */
static struct src_ds *ds_at(struct psrc *s, uint64_t g, uint64_t *off)
{
	const struct image_model *m = s->fin;

	for (uint32_t i = 0; i < m->nregions; i++) {
		const struct image_region *r = &m->regions[i];
		if (r->rm_kind == IMAGE_RM_MANAGED || g < r->addr ||
		    g - r->addr >= r->size)
			continue;
		for (unsigned k = 0; k < s->nds; k++)
			if (s->ds[k].id == r->ds_id &&
			    r->offset + (g - r->addr) < s->ds[k].pages * POSTCOPY_PAGE) {
				*off = r->offset + (g - r->addr);
				return &s->ds[k];
			}
	}
	return NULL;
}

/* Carry the pages holding [g, g + size) of the target. */
static void carry(struct psrc *s, struct image_memory *mem, uint64_t g, uint64_t size)
{
	for (uint64_t a = g - g % POSTCOPY_PAGE; size && a < g + size;
	     a += POSTCOPY_PAGE) {
		uint64_t off;
		struct src_ds *d = ds_at(s, a, &off);
		if (d) {
			uint64_t p = off / POSTCOPY_PAGE;
			mem[d - s->ds].present[p / 8] |= (uint8_t)(1u << (p % 8));
		}
	}
}

/* size bytes at target address g from the source's copy: 0, or -1 if
 * they are not in one dataspace's memory. */
static int peek(struct psrc *s, uint64_t g, void *out, uint64_t size)
{
	uint64_t off;
	struct src_ds *d = ds_at(s, g, &off);

	if (!d || size > d->pages * POSTCOPY_PAGE - off)
		return -1;
	memcpy(out, postcopy_data(s, d) + off, size);
	return 0;
}

/* An entrypoint's pool: every object of its tree. */
static void carry_pool(struct psrc *s, struct image_memory *mem, uint64_t root)
{
	uint64_t *stack = malloc(SKEL_MAX_OBJECTS * sizeof *stack);
	unsigned n = 0, seen = 0;

	if (stack && root)
		stack[n++] = root;
	while (n && seen++ < SKEL_MAX_OBJECTS) {
		struct cr_object o;
		uint64_t a = stack[--n];
		if (peek(s, a, &o, sizeof o))
			continue;
		carry(s, mem, a, sizeof o);
		if (o.left && n < SKEL_MAX_OBJECTS)
			stack[n++] = o.left;
		if (o.right && n < SKEL_MAX_OBJECTS)
			stack[n++] = o.right;
	}
	free(stack);
}

/* What the restore reads: the report, the cap map, the entrypoints and
 * their pools. */
static void carry_restore_reads(struct psrc *s, struct image_memory *mem)
{
	uint64_t rep = s->fin->component.cr_report_addr, ep;
	struct cr_report r;

	carry(s, mem, s->fin->component.cap_map_addr,
	      sizeof(struct cr_cap_map) + CAP_SLOTS * sizeof(struct cr_cap_entry));
	carry(s, mem, rep, sizeof r);
	if (!rep || peek(s, rep, &r, sizeof r) || r.magic != CR_REPORT_MAGIC)
		return;
	ep = r.entrypoints;
	for (unsigned i = 0; ep && i < CR_MAX_EPS; i++) {
		struct cr_entrypoint e;
		if (peek(s, ep, &e, sizeof e) || e.magic != CR_EP_MAGIC)
			return;
		carry(s, mem, ep, sizeof e);
		carry_pool(s, mem, e.pool);
		ep = e.next;
	}
}

/* skeleton.img: fin's state and the pages above.  0, or -1 with s->err. */
int postcopy_write_skeleton(struct psrc *s, char *path, size_t size)
{
	struct image_memory *mem = calloc(s->nds, sizeof *mem), *keep = s->fin->memory;
	uint32_t nkeep = s->fin->nmemory, flags = s->fin->flags;
	uint64_t parent = s->fin->parent_id;
	struct image_parent pr = s->fin->parent;
	int rc = -1;

	snprintf(path, size, "%s/skeleton.img", s->dir);
	for (unsigned k = 0; mem && k < s->nds; k++) {
		mem[k].ds_id = s->ds[k].id;
		mem[k].size = s->ds[k].pages * POSTCOPY_PAGE;
		/* read only (image_write), s->fm held by the caller */
		mem[k].data = (uint8_t *)postcopy_data(s, &s->ds[k]);
		if (!(mem[k].present = calloc(s->ds[k].pages / 8 + 8, 1)))
			goto out;
	}
	if (!mem)
		goto out;
	/* no page of the other dataspaces: the destination's channel is
	 * made from the dataspaces the regions attach (as list_ds), so the
	 * skeleton's bytes do not grow with the target (until version 3 of
	 * the protocol it carried one page of each: 70 at 1 GiB, about 1 ms
	 * of the pause written, sent, received and applied) */
	carry_restore_reads(s, mem);
	s->fin->memory = mem;
	s->fin->nmemory = s->nds;
	s->fin->flags = IMAGE_F_PARTIAL;
	s->fin->parent_id = 0;
	memset(&s->fin->parent, 0, sizeof s->fin->parent);
	s->fin->no_sync = 1; /* a spool file, sent right after: no fsync */
	/* raw: its 40-50 pages (the cap map most) compressed cost more of
	 * the pause than their bytes encrypted and sent on (written in
	 * 0.43-0.52 ms compressed, 0.19-0.34 raw, at 16 MiB) */
	s->fin->no_compress = 1;
	rc = image_write(path, s->fin, NULL, s->err, sizeof s->err);
	s->fin->memory = keep;
	s->fin->nmemory = nkeep;
	s->fin->flags = flags;
	s->fin->parent_id = parent;
	s->fin->parent = pr;
out:
	for (unsigned k = 0; mem && k < s->nds; k++)
		free(mem[k].present);
	free(mem);
	return rc ? -1 : 0;
}
