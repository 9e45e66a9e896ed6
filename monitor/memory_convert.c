/*
 * The memory half of the monitor's model -> image conversion
 * (monitor/image_convert.h): per dataspace its bytes, from the region
 * copies a checkpoint took, the pages an incremental one selected, or
 * the target's memory read in place by a streamed write.  The records
 * are image_convert.c's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "monitor/dirty_pages.h"
#include "monitor/image_convert.h"

/* A region's bytes into mem: all of them, or (an incremental checkpoint)
 * the pages its present bitmap names, noted in mem->present. */
static void region_to_memory(const struct mon_model_region *r, struct image_memory *mem)
{
	const uint64_t pg = IMAGE_PAGE_SIZE, first = r->off / pg;

	if (!r->present && !mem->present) {
		memcpy(mem->data + r->off, r->data, r->size);
		return;
	}
	for (uint64_t p = 0; p < r->size / pg; p++) {
		if (r->present && !((r->present[p / 8] >> (p % 8)) & 1))
			continue;
		memcpy(mem->data + r->off + p * pg, r->data + p * pg, pg);
		mem->present[(first + p) / 8] |= (uint8_t)(1u << ((first + p) % 8));
	}
}

/* The region of ds id whose copy is the whole dataspace (size bytes) and
 * can become its memory entry as it is (partial: only with its present
 * bitmap), or NULL. */
static struct mon_model_region *whole_region(struct mon_model *m, uint64_t id,
					     uint64_t size, int partial)
{
	for (unsigned i = 0; i < m->nregions; i++) {
		struct mon_model_region *r = &m->region[i];
		if (r->ds_badge == id && r->data && !r->off && r->size == size &&
		    (!partial || r->present))
			return r;
	}
	return NULL;
}

/* The pages of a streamed incremental region (r->present, the region's
 * pages) into present, a bitmap of its dataspace's pages. */
static void stream_present(const struct mon_model_region *r, uint8_t *present)
{
	uint64_t first = r->off / IMAGE_PAGE_SIZE;

	for (uint64_t p = 0; p < r->size / IMAGE_PAGE_SIZE; p++)
		if ((r->present[p / 8] >> (p % 8)) & 1)
			present[(first + p) / 8] |= (uint8_t)(1u << ((first + p) % 8));
}

/* A streamed checkpoint's dataspace: its memory entry is the monitor's
 * attachment of it, read in place (the target stays paused until the
 * image is written): all of it, or, if every region of it is an
 * incremental one (mr->present), only their pages.  1 if d is one, 0
 * if not, -ENOMEM. */
static int stream_memory(const struct mon_model *m, struct image_model *im,
			 const struct image_dataspace *d)
{
	uint8_t *at = NULL, *present = NULL;
	int whole = 0;

	for (unsigned i = 0; i < m->nregions; i++) {
		const struct mon_model_region *r = &m->region[i];
		if (r->ds_badge != d->id || !r->stream)
			continue;
		at = r->stream;
		whole |= !r->present;
	}
	if (!at)
		return 0;
	if (!whole && !(present = calloc(d->size / IMAGE_PAGE_SIZE / 8 + 8, 1)))
		return -ENOMEM;
	for (unsigned i = 0; present && i < m->nregions; i++)
		if (m->region[i].ds_badge == d->id && m->region[i].stream)
			stream_present(&m->region[i], present);
	im->memory[im->nmemory++] = (struct image_memory){.ds_id = d->id,
							  .size = d->size,
							  .data = at,
							  .present = present,
							  .borrowed = 1};
	return 1;
}

/* Memory: per dataspace its contents, from the regions (incremental:
 * only the pages written since the parent).  take: a region copy that
 * is its whole dataspace becomes the entry's memory (taken from m)
 * instead of being copied into a second buffer of the same size; if it
 * is an incremental copy, its packed pages go as they are (the writer
 * reads them there: no page of the region-sized data is touched, each
 * first touch a page fault, 655 of them 25-95 ms of a migration's
 * freeze). */
static int memory_to_image(struct mon_model *m, struct image_model *im, int take)
{
	if (!take)
		incr_unpack(m);
	for (uint32_t d = 0; d < im->ndataspaces; d++) {
		struct image_memory *mem = NULL;
		struct mon_model_region *whole;
		int partial = 0;
		int streamed = stream_memory(m, im, &im->dataspaces[d]);

		if (streamed < 0)
			return streamed;
		if (streamed)
			continue;
		for (unsigned i = 0; i < m->nregions; i++)
			partial |= m->region[i].ds_badge == im->dataspaces[d].id &&
				   m->region[i].data && m->region[i].present;
		whole = take ? whole_region(m, im->dataspaces[d].id,
					    im->dataspaces[d].size, partial)
			     : NULL;
		if (whole) {
			mem = &im->memory[im->nmemory++];
			mem->ds_id = im->dataspaces[d].id;
			mem->size = im->dataspaces[d].size;
			mem->data = whole->data;
			mem->present = partial ? whole->present : NULL;
			mem->packed = partial ? whole->packed : NULL;
			whole->data = NULL;
			whole->packed = NULL;
			if (partial)
				whole->present = NULL;
		}
		for (unsigned i = 0; i < m->nregions; i++) {
			struct mon_model_region *r = &m->region[i];
			if (r->ds_badge != im->dataspaces[d].id || !r->data)
				continue;
			incr_unpack_region(r);
			if (!mem) {
				mem = &im->memory[im->nmemory++];
				mem->ds_id = im->dataspaces[d].id;
				mem->size = im->dataspaces[d].size;
				mem->data = calloc(1, mem->size);
				mem->present =
				    partial
					? calloc(mem->size / IMAGE_PAGE_SIZE / 8 + 8, 1)
					: NULL;
				if (!mem->data || (partial && !mem->present))
					return -ENOMEM;
			}
			if (r->off > mem->size || r->size > mem->size - r->off ||
			    (mem->present && (r->off | r->size) % IMAGE_PAGE_SIZE))
				return -EINVAL;
			if (mem->packed) { /* a second region: all at their place */
				incr_unpack_region(
				    &(struct mon_model_region){.data = mem->data,
							       .present = mem->present,
							       .packed = mem->packed,
							       .size = mem->size});
				mem->packed = NULL;
			}
			region_to_memory(r, mem);
		}
	}
	return 0;
}

int model_to_image(const struct monitor *mon, const struct mon_model *m,
		   struct image_model *im)
{
	int rc = model_to_image_records(mon, m, im);

	/* take 0: m's bytes stay (an incremental's packed pages are put
	 * at their place) */
	if (!rc && (rc = memory_to_image((struct mon_model *)m, im, 0)))
		image_model_release(im);
	return rc;
}

int model_memory_to_image(struct mon_model *m, struct image_model *im)
{
	return memory_to_image(m, im, 1);
}
