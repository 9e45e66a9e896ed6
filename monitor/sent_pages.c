/*
 * The index of the pages the last pre-copy round carried
 * (monitor/sent_pages.h): filled in the round's pause as its pages are
 * copied, sorted once the round is written (with the target running),
 * looked up by the final image's writer for each page it carries.
 */
#include <stdlib.h>

#include "monitor/sent_pages.h"

void sent_pages_reset(struct sent_pages *s)
{
	s->n = 0;
	s->next = 0;
	s->over = 0;
	s->image_id = 0;
}

void sent_pages_add(struct sent_pages *s, uint64_t ds, uint64_t page, uint64_t at)
{
	if (s->over)
		return;
	if (s->n == SENT_PAGES_MAX) {
		s->over = 1;
		return;
	}
	if (s->n == s->cap) { /* grown once or twice, then kept: no malloc in a pause */
		uint32_t cap = s->cap ? 2 * s->cap : 1024;
		struct sent_page *p = realloc(s->e, cap * sizeof *p);
		if (!p) {
			s->over = 1;
			return;
		}
		s->e = p;
		s->cap = cap;
	}
	s->e[s->n++] = (struct sent_page){.ds = ds, .page = page, .at = at};
}

static int cmp(const void *a, const void *b)
{
	const struct sent_page *x = a, *y = b;

	if (x->ds != y->ds)
		return x->ds < y->ds ? -1 : 1;
	return x->page < y->page ? -1 : x->page > y->page;
}

void sent_pages_seal(struct sent_pages *s, uint64_t image_id)
{
	s->image_id = s->over ? 0 : image_id;
	s->next = 0;
	if (s->image_id && s->n) /* none staged: no array yet */
		qsort(s->e, s->n, sizeof *s->e, cmp);
}

int64_t sent_pages_find(struct sent_pages *s, uint64_t image_id, uint64_t ds,
			uint64_t page)
{
	uint32_t lo = 0, hi = s->n;

	if (!image_id || s->image_id != image_id)
		return -1;
	/* the writer asks page after page, in the order of the index: the
	 * entry after the last found is mostly the one (a search for each
	 * was some 60 us of the final image's write, in the stop) */
	if (s->next < s->n && s->e[s->next].ds == ds && s->e[s->next].page == page)
		return (int64_t)s->e[s->next++].at;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct sent_page *e = &s->e[mid];
		if (e->ds == ds && e->page == page) {
			s->next = mid + 1;
			return (int64_t)e->at;
		}
		if (e->ds < ds || (e->ds == ds && e->page < page))
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

void sent_pages_free(struct sent_pages *s)
{
	free(s->e);
	*s = (struct sent_pages){0};
}
