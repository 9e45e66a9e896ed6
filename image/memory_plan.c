/*
 * The based pages of an image of differences (image_model.delta_base):
 * a migration's final image.  Before the image is counted, each present
 * page's base is asked for once, and the pages that have one are listed
 * in the order the writer takes them, with their bytes and their base's.
 * The count of the memory sections is made from that list, and the
 * writer takes each chunk's based pages from it (they were asked for
 * twice, once to count and once to write, each a pass over every page of
 * every chunk: some 80 us of bench_migrate's stop for 655 pages in a
 * 256 MiB target).
 *
 * The list also lets the writer read ahead: comparing a page with its
 * base reads 8 KiB that are mostly not in the caches (the guest wrote a
 * word of the page; its base was copied a round before), and the
 * processor's own prefetch stops at each 4 KiB page, while the based
 * pages of bench_migrate's final image are each in a chunk of its own.
 * So while a page is compared, the one PLAN_AHEAD further on and its
 * base are asked into the caches.
 */
#include <errno.h>
#include <stdlib.h>

#include "image/memory_chunk.h"
#include "image/memory_plan.h"

/* pages read ahead while one is compared: one was some 30% faster than
 * none for 655 cold pages, two a little more, three no better */
#define PLAN_AHEAD 2

static int plan_add(struct image_mem_plan *p, uint32_t k, uint64_t page,
		    const uint8_t *data, const uint8_t *base)
{
	if (p->n == p->cap) {
		uint32_t cap = p->cap ? 2 * p->cap : 1024;
		struct image_based_page *e = realloc(p->e, cap * sizeof *e);
		if (!e)
			return -ENOMEM;
		p->e = e;
		p->cap = cap;
	}
	p->e[p->n++] =
	    (struct image_based_page){.k = k, .page = page, .data = data, .base = base};
	return 0;
}

/* The chunk at first of memory k: its based pages into the plan, its
 * sections counted. */
static int plan_chunk(struct image_mem_plan *p, const struct image_model *m, uint32_t k,
		      uint64_t first, uint64_t present, const uint8_t *run)
{
	const struct image_memory *e = &m->memory[k];
	uint64_t based = 0;

	for (uint64_t left = present; left; left &= left - 1) {
		uint32_t i = (uint32_t)__builtin_ctzll(left);
		const uint8_t *base = m->delta_base(m->delta_arg, e->ds_id, first + i);
		if (!base)
			continue;
		if (plan_add(p, k, first + i, chunk_page(e, first, i, run, present),
			     base))
			return -ENOMEM;
		based |= 1ull << i;
	}
	p->sections += (present & ~based) != 0;
	p->sections += based != 0;
	return 0;
}

int image_mem_plan_make(struct image_mem_plan *p, const struct image_model *m)
{
	*p = (struct image_mem_plan){0};
	for (uint32_t k = 0; k < m->nmemory; k++) {
		const struct image_memory *e = &m->memory[k];
		const uint8_t *run = e->packed;
		for (uint64_t first = 0; first < e->size / IMAGE_PAGE_SIZE;
		     first += IMAGE_CHUNK_PAGES) {
			uint64_t present =
			    present_bits(e, first, chunk_pages(e->size, first));
			if (!present)
				continue;
			if (plan_chunk(p, m, k, first, present, run)) {
				image_mem_plan_free(p);
				return -ENOMEM;
			}
			if (run)
				run += (size_t)__builtin_popcountll(present) *
				       IMAGE_PAGE_SIZE;
		}
	}
	for (uint32_t j = 0; j < PLAN_AHEAD; j++)
		image_mem_plan_ahead(p, j);
	return 0;
}

void image_mem_plan_free(struct image_mem_plan *p)
{
	free(p->e);
	*p = (struct image_mem_plan){0};
}

uint64_t image_mem_plan_take(struct image_mem_plan *p, uint32_t k, uint64_t first,
			     uint32_t np, const uint8_t **base, uint32_t *at)
{
	uint64_t based = 0;

	*at = p->at;
	for (; p->at < p->n && p->e[p->at].k == k && p->e[p->at].page < first + np;
	     p->at++) {
		uint32_t i = (uint32_t)(p->e[p->at].page - first);
		base[i] = p->e[p->at].base;
		based |= 1ull << i;
	}
	return based;
}

static void prefetch_page(const uint8_t *page)
{
	for (unsigned off = 0; off < IMAGE_PAGE_SIZE; off += 64)
		__builtin_prefetch(page + off);
}

void image_mem_plan_ahead(const struct image_mem_plan *p, uint32_t j)
{
	if (j >= p->n)
		return;
	prefetch_page(p->e[j].data);
	prefetch_page(p->e[j].base);
}

uint32_t image_mem_plan_distance(void)
{
	return PLAN_AHEAD;
}
