/*
 * The stage of an incremental checkpoint (monitor/dirty_state.h): the
 * pages its pause selects from core's dirty bitmaps, packed into a
 * buffer kept from one checkpoint to the next, settled into the image
 * model by the writer with the target running, and kept afterwards as
 * the base of the next image's page differences (incr_delta).  The
 * tracking itself is monitor/dirty_pages.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/dirty_state.h"

#define PAGE INCR_PAGE

/* Room for `pages` pages in the stage (NULL: no stage); 0 or -ENOMEM.
 * New room is written here, so that a copy into it faults nothing, and
 * it is made of huge pages where the host gives them: the pause's copy
 * then misses the TLB on its source pages only. */
int incr_stage_room(struct mon_incr *in, uint64_t pages)
{
	struct incr_stage *s = in->stage;
	uint64_t cap, huge = 2ull << 20;
	void *p;

	if (!s && !(s = in->stage = calloc(1, sizeof *s)))
		return -ENOMEM;
	if (pages <= s->cap)
		return 0;
	cap = pages > 2 * s->cap ? pages : 2 * s->cap;
	cap = (cap * PAGE + huge - 1) / huge * (huge / PAGE);
	if (posix_memalign(&p, huge, cap * PAGE))
		return -ENOMEM;
	mon_buf_prefault(p, cap * PAGE);
	if (s->cap) /* the pages of a next image's differences (incr_delta) */
		memcpy(p, s->buf, s->cap * PAGE);
	free(s->buf);
	s->buf = p;
	s->cap = cap;
	return 0;
}

/* Bits [b, b + 64) of a bitmap of `pages` bits (zero past its end). */
static uint64_t bits_at(const uint64_t *bits, uint64_t pages, uint64_t b)
{
	uint64_t w = b / 64, lo = bits[w] >> (b % 64);

	return b % 64 && w + 1 < (pages + 63) / 64 ? lo | bits[w + 1] << (64 - b % 64)
						   : lo;
}

uint64_t incr_select_bits(const uint64_t *bits, uint64_t pages, uint64_t first,
			  uint64_t n, uint8_t *present)
{
	uint64_t k = 0;

	if (first >= pages)
		return 0;
	if (n > pages - first)
		n = pages - first;
	for (uint64_t w = 0; w * 64 < n; w++) {
		uint64_t x = bits_at(bits, pages, first + 64 * w);

		if (n - w * 64 < 64)
			x &= (1ull << (n - w * 64)) - 1;
		for (unsigned j = 0; j < 8; j++) /* bit p % 8 of byte p / 8 */
			present[w * 8 + j] = (uint8_t)(x >> (8 * j));
		k += (uint64_t)__builtin_popcountll(x);
	}
	return k;
}

/* mr->present: the pages of region g that d's bitmap has (a bitmap of
 * the region's pages); their count.  A word at a time: 65536 pages bit
 * by bit were some 50 us of the pause. */
int64_t incr_select_dirty(const struct incr_ds *d, const struct mon_region *g,
			  struct mon_model_region *mr)
{
	uint64_t n = g->size / PAGE;

	if (!(mr->present = calloc(n / 8 + 8, 1)))
		return -ENOMEM;
	return (int64_t)incr_select_bits(d->bits, d->pages, g->off / PAGE, n,
					 mr->present);
}

uint64_t incr_present_pages(const struct mon_model_region *r)
{
	uint64_t n = r->size / PAGE, k = 0, x;

	for (uint64_t w = 0; r->present && w * 64 < n; w++) {
		memcpy(&x, r->present + w * 8, 8);	/* bits past n are clear */
		k += (uint64_t)__builtin_popcountll(x); /* in any byte order */
	}
	return k;
}

/* The pages written, in the pause: packed into the stage (see struct
 * incr_stage); mr->data and mr->packed are made by incr_stage_settle,
 * with the target running (a page fault here costs ~130 us under load,
 * 655 of them were ~90 ms of a 1% checkpoint's pause when the pages went
 * straight to their place in a fresh region-sized copy). */
int incr_copy_dirty(struct mon_incr *in, struct incr_ds *d, const struct mon_region *g,
		    struct mon_model_region *mr, const uint8_t *host)
{
	int64_t sel = incr_select_dirty(d, g, mr);
	uint64_t n = g->size / PAGE, k = (uint64_t)sel;
	struct incr_stage *s;
	uint8_t *to;
	int rc;

	if (sel < 0)
		return (int)sel;
	if ((rc = incr_stage_room(in, (in->stage ? in->stage->used : 0) + k)))
		return rc;
	if (in->sent_fresh) { /* the stage is overwritten from here on */
		sent_pages_reset(&in->sent);
		in->sent_fresh = 0;
	}
	s = in->stage;
	s->e[s->n].mr = mr;
	s->e[s->n].off = s->used;
	s->e[s->n++].k = k;
	to = k ? s->buf + s->used * PAGE : NULL;
	s->used += k;
	for (uint64_t p = 0, at = s->used - k; p < n; p++)
		if (!mr->present[p / 8])
			p |= 7; /* the next byte's */
		else if ((mr->present[p / 8] >> (p % 8)) & 1) {
			memcpy(to, host + p * PAGE, PAGE);
			to += PAGE;
			sent_pages_add(&in->sent, d->badge, g->off / PAGE + p, at++);
		}
	in->pages_copied += k;
	return 0;
}

struct incr_stage *incr_stage_take(struct monitor *mon)
{
	struct incr_stage *s = mon->incr ? mon->incr->stage : NULL;

	if (s && !s->n)
		return NULL; /* nothing staged: stays */
	if (s)
		mon->incr->stage = NULL;
	return s;
}

int incr_stage_settle(struct incr_stage *s)
{
	for (unsigned i = 0; s && i < s->n; i++) {
		struct mon_model_region *mr = s->e[i].mr;
		uint64_t bytes = s->e[i].k * PAGE;

		if (!(mr->data = calloc(1, mr->size)) ||
		    (bytes && !(mr->packed = malloc(bytes))))
			return -ENOMEM;
		if (bytes)
			memcpy(mr->packed, s->buf + s->e[i].off * PAGE, bytes);
	}
	if (s)
		s->n = s->used = 0;
	return 0;
}

void incr_stage_give(struct monitor *mon, struct incr_stage *s)
{
	if (!s)
		return;
	s->n = s->used = 0;
	if (mon->incr && !mon->incr->stage) {
		mon->incr->stage = s;
		return;
	}
	if (mon->incr) /* the pages it indexes go with this buffer */
		sent_pages_reset(&mon->incr->sent);
	free(s->buf);
	free(s);
}

void incr_unpack_region(struct mon_model_region *r)
{
	const uint8_t *from = r->packed;

	for (uint64_t p = 0; from && r->data && p < r->size / PAGE; p++)
		if ((r->present[p / 8] >> (p % 8)) & 1) {
			memcpy(r->data + p * PAGE, from, PAGE);
			from += PAGE;
		}
	free(r->packed);
	r->packed = NULL;
}

void incr_unpack(struct mon_model *m)
{
	for (unsigned i = 0; i < m->nregions; i++)
		incr_unpack_region(&m->region[i]);
}

/* image_model.delta_base: the page as the parent carried it, from the
 * stage, or NULL. */
static const uint8_t *delta_base(void *arg, uint64_t ds, uint64_t page)
{
	struct mon_incr *in = arg;
	int64_t at = sent_pages_find(&in->sent, in->base_id, ds, page);

	return at < 0 || !in->stage || (uint64_t)at >= in->stage->cap
		   ? NULL
		   : in->stage->buf + (uint64_t)at * PAGE;
}

int incr_delta(struct monitor *mon, struct image_model *im)
{
	struct mon_incr *in = mon->incr;

	if (!in || !in->incremental || !in->stage || !in->sent_fresh || !in->sent.n ||
	    in->sent.image_id != in->base_id)
		return 0;
	im->delta_base = delta_base;
	im->delta_arg = in;
	return 1;
}
