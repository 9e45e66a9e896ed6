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
 * found with the frozen memory's regions and read in the frozen
 * target's memory (frozen_memory.h), before final.img is read: what the
 * skeleton carries is the memory as it is at the freeze.
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

/* A page to carry: the dataspace's image id and the page in it. */
struct carried {
	uint64_t ds_id, page;
};

/* The pages found so far, in a list as long as what is carried (some
 * 40-50 pages), not a bitmap of every dataspace's pages. */
struct carry_list {
	struct carried *p;
	size_t n, cap;
	int failed; /* out of memory */
};

/* Carry the pages holding [g, g + size) of the target: found with the
 * frozen memory's regions (frozen_mem_find), not final.img's, so that
 * they go before final.img is read (send_frozen). */
static void carry(struct psrc *s, struct carry_list *l, uint64_t g, uint64_t size)
{
	for (uint64_t a = g - g % POSTCOPY_PAGE; size && a < g + size;
	     a += POSTCOPY_PAGE) {
		uint64_t off;
		const struct frozen_region *r = frozen_mem_find(s->fm, a, &off);
		if (!r)
			continue;
		if (l->n == l->cap) {
			size_t cap = l->cap ? 2 * l->cap : 64;
			struct carried *p = realloc(l->p, cap * sizeof *p);
			if (!p) {
				l->failed = 1;
				return;
			}
			l->p = p;
			l->cap = cap;
		}
		l->p[l->n++] = (struct carried){r->ds_id, off / POSTCOPY_PAGE};
	}
}

/* size bytes at target address g from the frozen memory (held): 0, or
 * -1 if they are not in one dataspace's memory. */
static int peek(struct psrc *s, uint64_t g, void *out, uint64_t size)
{
	uint64_t off, ds_size;
	const struct frozen_region *r = frozen_mem_find(s->fm, g, &off);
	const uint8_t *data = r ? frozen_mem_at(s->fm, r->ds_id, &ds_size) : NULL;

	if (!data || size > ds_size - off)
		return -1;
	memcpy(out, data + off, size);
	return 0;
}

/* An entrypoint's pool: every object of its tree. */
static void carry_pool(struct psrc *s, struct carry_list *mem, uint64_t root)
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
static void carry_restore_reads(struct psrc *s, struct carry_list *mem)
{
	uint64_t cap_map, rep, ep;
	struct cr_report r;

	frozen_mem_addrs(s->fm, &cap_map, &rep);
	carry(s, mem, cap_map,
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

static int carried_cmp(const void *a, const void *b)
{
	const struct carried *x = a, *y = b;

	if (x->ds_id != y->ds_id)
		return x->ds_id < y->ds_id ? -1 : 1;
	return x->page < y->page ? -1 : x->page > y->page;
}

/* The carried pages, sorted, each once, in runs of consecutive ones of a
 * dataspace (at most POSTCOPY_RUN). */
static int send_carried(struct psrc *s, struct carry_list *l)
{
	size_t i, k = 0, n;

	qsort(l->p, l->n, sizeof *l->p, carried_cmp);
	for (i = 0; i < l->n; i++) /* each page once */
		if (!k || carried_cmp(&l->p[i], &l->p[k - 1]))
			l->p[k++] = l->p[i];
	for (i = 0; i < k; i += n) {
		uint64_t size = 0;
		struct src_ds d = {l->p[i].ds_id, 0, NULL}; /* not marked sent */
		frozen_mem_at(s->fm, d.id, &size);
		d.pages = size / POSTCOPY_PAGE;
		for (n = 1; i + n < k && n < POSTCOPY_RUN && l->p[i + n].ds_id == d.id &&
			    l->p[i + n].page == l->p[i].page + n;
		     n++)
			;
		if (postcopy_send_run(s, &d, l->p[i].page, (unsigned)n, POSTCOPY_EAGER))
			return -1;
	}
	return 0;
}

int postcopy_send_restore_pages(struct psrc *s)
{
	struct carry_list l = {0};
	int rc = -1;

	if (frozen_mem_hold(s->fm)) {
		snprintf(s->err, sizeof s->err, "%s: its frozen memory is gone", s->name);
		return -1;
	}
	carry_restore_reads(s, &l); /* reads the frozen memory */
	frozen_mem_release(s->fm);
	if (l.failed)
		snprintf(s->err, sizeof s->err, "out of memory");
	else
		rc = send_carried(s, &l);
	free(l.p);
	return rc;
}
