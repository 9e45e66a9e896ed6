/*
 * A memory section's chunk, as the writer (memory.c) and the reader
 * (memory_read.c) both see it: IMAGE_CHUNK_PAGES pages of a dataspace,
 * its bitmaps one word of 64 bits.
 */
#ifndef IMAGE_MEMORY_CHUNK_H
#define IMAGE_MEMORY_CHUNK_H

#include <stdint.h>
#include <string.h>

#include "image/internal.h"

#define CHUNK_BYTES ((size_t)IMAGE_CHUNK_PAGES * IMAGE_PAGE_SIZE)

static inline uint64_t chunk_mask(uint32_t npages)
{
	return npages >= 64 ? ~0ull : (1ull << npages) - 1;
}

static inline uint32_t chunk_pages(uint64_t size, uint64_t first)
{
	uint64_t left = size / IMAGE_PAGE_SIZE - first;
	return left < IMAGE_CHUNK_PAGES ? (uint32_t)left : IMAGE_CHUNK_PAGES;
}

/* bits of `present` for the chunk at first (all if present is NULL) */
static inline uint64_t present_bits(const struct image_memory *e, uint64_t first,
				    uint32_t np)
{
	if (!e->present)
		return chunk_mask(np);
	uint64_t v = 0;
	memcpy(&v, e->present + first / 8, (np + 7) / 8);
	return v & chunk_mask(np);
}

/* Page i (present) of the chunk at first; run: e->packed's first page
 * of the chunk (e->packed only). */
static inline const uint8_t *chunk_page(const struct image_memory *e, uint64_t first,
					uint32_t i, const uint8_t *run, uint64_t present)
{
	if (!e->packed)
		return e->data + (first + i) * IMAGE_PAGE_SIZE;
	return run + (size_t)__builtin_popcountll(present & ((1ull << i) - 1)) *
			 IMAGE_PAGE_SIZE;
}

/* nonzero is one run of bits: its first bit, else -1 */
static inline int one_run(uint64_t bits)
{
	if (!bits)
		return -1;
	int s = __builtin_ctzll(bits);
	uint64_t run = bits >> s;
	return (run & (run + 1)) == 0 ? s : -1;
}

#endif
