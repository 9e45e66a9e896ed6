/*
 * An incremental image applied to memory that holds its parent chain's
 * pages (a migration's destination builds the target while the rounds
 * arrive, monitor/restore_prebuild.c): every page the image carries is
 * written, a zero page as zeros, and every other page is left as it is.
 * Applied in order from the full image on, the memory is what
 * image_read_chain's merge gives (each page from the newest image that
 * carries it), which tests/unit/test_image_delta.c checks.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "image/internal.h"

static const struct image_memory *memory_of(const struct image_model *m, uint64_t ds_id)
{
	for (uint32_t k = 0; k < m->nmemory; k++)
		if (m->memory[k].ds_id == ds_id)
			return &m->memory[k];
	return NULL;
}

static int carried(const struct image_memory *e, uint64_t pg)
{
	return !e->present || ((e->present[pg / 8] >> (pg % 8)) & 1);
}

int image_memory_apply(const struct image_model *m, uint64_t ds_id, void *dst,
		       uint64_t size, uint64_t *pages, char *err, size_t errlen)
{
	const struct image_memory *e = memory_of(m, ds_id);
	uint8_t *to = dst;

	*pages = 0;
	if (!e)
		return 0; /* none of its pages were written since */
	if (e->size != size || (!e->data && e->pages)) {
		snprintf(err, errlen,
			 "image: dataspace %llu: %llu bytes in the image, %llu here%s",
			 (unsigned long long)ds_id, (unsigned long long)e->size,
			 (unsigned long long)size,
			 e->data ? "" : " (its pages were not read)");
		return -EINVAL;
	}
	for (uint64_t pg = 0; e->data && pg < size / IMAGE_PAGE_SIZE; pg++)
		if (carried(e, pg)) {
			/* the reader's copy reads as zeros where a zero page was
			 * elided: written all the same, the page may hold data */
			memcpy(to + pg * IMAGE_PAGE_SIZE, e->data + pg * IMAGE_PAGE_SIZE,
			       IMAGE_PAGE_SIZE);
			(*pages)++;
		}
	return 0;
}

int image_memory_whole(const struct image_model *m, uint64_t ds_id)
{
	const struct image_memory *e = memory_of(m, ds_id);

	if (!e || !e->data)
		return 0;
	for (uint64_t pg = 0; pg < e->size / IMAGE_PAGE_SIZE; pg++)
		if (!carried(e, pg))
			return 0;
	return 1;
}
