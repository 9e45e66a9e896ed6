/*
 * The based pages of an image of differences, looked up once before it
 * is counted and written, in the writer's order (image/memory_plan.c).
 */
#ifndef IMAGE_MEMORY_PLAN_H
#define IMAGE_MEMORY_PLAN_H

#include <stdint.h>

/* A present page of memory k whose base image_model.delta_base gave. */
struct image_based_page {
	uint32_t k;
	uint64_t page;
	const uint8_t *data, *base;
};

struct image_mem_plan {
	struct image_based_page *e; /* by memory, then page */
	uint32_t n, cap;
	uint32_t at;	   /* the next one the writer takes */
	uint64_t sections; /* the memory sections the image will have */
};

struct image_model;

/* Ask m->delta_base for each present page's base, once; the first pages
 * asked into the caches.  0, or -ENOMEM (nothing kept). */
int image_mem_plan_make(struct image_mem_plan *p, const struct image_model *m);
void image_mem_plan_free(struct image_mem_plan *p);
/* The based pages of the chunk of np pages at first of memory k, which
 * the writer takes after the chunks before it: their bits, their bases
 * into base[i], the first one's index in the plan into *at. */
uint64_t image_mem_plan_take(struct image_mem_plan *p, uint32_t k, uint64_t first,
			     uint32_t np, const uint8_t **base, uint32_t *at);
/* Ask the plan's page j and its base into the caches (none past the
 * end). */
void image_mem_plan_ahead(const struct image_mem_plan *p, uint32_t j);
/* How far ahead of the page compared the writer reads. */
uint32_t image_mem_plan_distance(void);

#endif
