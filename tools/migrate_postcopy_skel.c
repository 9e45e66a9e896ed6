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
 *
 * The skeleton is final.img itself, sent as the monitor wrote it; these
 * pages go just before it as page messages (POSTCOPY_EAGER), into the
 * destination's page channel as they come (until session 13 a
 * skeleton.img with the pages in was written here, 0.15-0.3 ms of the
 * pause, and read again into the channel at the destination).
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

/* The marked pages of each dataspace, in runs of consecutive ones. */
static int send_marked(struct psrc *s, const struct image_memory *mem)
{
	for (unsigned k = 0; k < s->nds; k++) {
		const uint8_t *bits = mem[k].present;
		uint64_t p = 0, n;

		while (p < s->ds[k].pages) {
			if (!bits[p / 8]) { /* a byte at a time: 8 pages */
				p = (p | 7) + 1;
				continue;
			}
			if (!(bits[p / 8] >> (p % 8) & 1)) {
				p++;
				continue;
			}
			for (n = 1; p + n < s->ds[k].pages && n < POSTCOPY_RUN &&
				    bits[(p + n) / 8] >> ((p + n) % 8) & 1;
			     n++)
				;
			if (postcopy_send_run(s, &s->ds[k], p, (unsigned)n,
					      POSTCOPY_EAGER))
				return -1;
			p += n;
		}
	}
	return 0;
}

int postcopy_send_restore_pages(struct psrc *s)
{
	struct image_memory *mem = calloc(s->nds ? s->nds : 1, sizeof *mem);
	int rc = -1;

	for (unsigned k = 0; mem && k < s->nds; k++)
		if (!(mem[k].present = calloc(s->ds[k].pages / 8 + 8, 1)))
			goto out;
	if (!mem)
		goto out;
	if (frozen_mem_hold(s->fm)) {
		snprintf(s->err, sizeof s->err, "%s: its frozen memory is gone", s->name);
		goto out;
	}
	carry_restore_reads(s, mem); /* reads the frozen memory */
	frozen_mem_release(s->fm);
	rc = send_marked(s, mem);
out:
	if (rc && !s->err[0])
		snprintf(s->err, sizeof s->err, "out of memory");
	for (unsigned k = 0; mem && k < s->nds; k++)
		free(mem[k].present);
	free(mem);
	return rc;
}
