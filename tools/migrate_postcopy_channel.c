/*
 * The destination's page channel (migrate_postcopy_dst.h).  It holds
 * every dataspace a region of the target attaches that the source
 * serves, and is made from the pre-skeleton, before the freeze: its
 * mappings and bitmaps are then not made in the pause (16 of each for a
 * 256 MiB bench_wset), and the pages of its buffers that the restore
 * reads first are touched then too (a first touch in the restore's
 * fix-ups, 40 faults for the cap map's zero pages, was 80-150 us of the
 * pause).  The skeleton only confirms it.
 */
#include <stdio.h>
#include <string.h>
#include <capsule/abi.h>
#include <capsule/checkpoint_abi.h>
#include "image/image.h"
#include "monitor/page_channel.h"
#include "tools/migrate_postcopy.h"
#include "tools/migrate_postcopy_dst.h"

/* Does ch have exactly these dataspaces, in this order? */
static int channel_fits(const struct page_channel *ch, uint32_t n, const uint64_t *ids,
			const uint64_t *pages)
{
	if (!ch || page_channel_nds(ch) != n)
		return 0;
	for (uint32_t k = 0; k < n; k++)
		if (page_channel_id(ch, k) != ids[k] ||
		    page_channel_pages(ch, k) != pages[k])
			return 0;
	return 1;
}

/* The dataspaces of im whose pages the source serves: as its list_ds,
 * every one a region attaches that is not a managed region map's (the
 * freeze attaches exactly those), in im's order.  Their ids and pages
 * into ids and pages; how many, or -1 if there are too many. */
static int served_ds(const struct image_model *im, uint64_t *ids, uint64_t *pages)
{
	int n = 0;

	for (uint32_t i = 0; i < im->ndataspaces; i++) {
		const struct image_dataspace *d = &im->dataspaces[i];
		int attached = 0;

		if (d->kind == IMAGE_DS_MANAGED || d->kind == IMAGE_DS_MEMBER)
			continue;
		for (uint32_t k = 0; k < im->nregions && !attached; k++)
			attached = im->regions[k].ds_id == d->id;
		if (!attached)
			continue;
		if (n == PAGE_CHANNEL_MAX_DS)
			return -1;
		ids[n] = d->id;
		pages[n++] = d->size / POSTCOPY_PAGE;
	}
	return n;
}

/* Touch the channel's pages of target addresses [g, g + size): none has
 * arrived, so writing a zero into a zero page changes nothing. */
static void touch(struct page_channel *ch, const struct image_model *im, uint64_t g,
		  uint64_t size)
{
	for (uint64_t a = g - g % POSTCOPY_PAGE; size && a < g + size; a += POSTCOPY_PAGE)
		for (uint32_t i = 0; i < im->nregions; i++) {
			const struct image_region *r = &im->regions[i];
			int c = page_channel_index(ch, r->ds_id);
			uint64_t off = r->offset + (a - r->addr);
			if (r->rm_kind == IMAGE_RM_MANAGED || a < r->addr ||
			    a - r->addr >= r->size || c < 0 ||
			    off >= page_channel_pages(ch, (unsigned)c) * POSTCOPY_PAGE)
				continue;
			((volatile uint8_t *)page_channel_buf(ch, (unsigned)c))[off] = 0;
			break;
		}
}

struct page_channel *postcopy_early_channel(const char *path)
{
	uint64_t ids[PAGE_CHANNEL_MAX_DS], pages[PAGE_CHANNEL_MAX_DS];
	struct page_channel *ch = NULL;
	struct image_model *im;
	char err[256];
	int n;

	if (image_read_flags(path, IMAGE_READ_STREAM, &im, err, sizeof err))
		return NULL;
	if ((n = served_ds(im, ids, pages)) > 0 &&
	    (ch = page_channel_new((uint32_t)n, ids, pages))) {
		touch(ch, im, im->component.cap_map_addr,
		      sizeof(struct cr_cap_map) +
			  CAP_SLOTS * sizeof(struct cr_cap_entry));
		touch(ch, im, im->component.cr_report_addr, sizeof(struct cr_report));
	}
	image_model_free(im);
	return ch;
}

struct page_channel *postcopy_skeleton_channel(struct page_channel *early,
					       const char *path,
					       struct image_model **skel, char *err,
					       size_t size)
{
	uint64_t ids[PAGE_CHANNEL_MAX_DS], pages[PAGE_CHANNEL_MAX_DS];
	struct page_channel *ch = NULL;
	struct image_model *im;
	int n;

	if (image_read_flags(path, IMAGE_READ_STREAM, &im, err, size))
		return NULL;
	/* no memory records: its pages came before it, as page messages */
	if (!(im->flags & IMAGE_F_PARTIAL) || im->nmemory ||
	    (n = served_ds(im, ids, pages)) <= 0)
		snprintf(err, size, "skeleton.img: not a post-copy skeleton");
	else if (channel_fits(early, (uint32_t)n, ids, pages))
		ch = early;
	else if (!(ch = page_channel_new((uint32_t)n, ids, pages)))
		snprintf(err, size, "skeleton.img: no page channel for its dataspaces");
	*skel = ch ? im : NULL;
	if (!ch)
		image_model_free(im);
	return ch;
}

int postcopy_put_pages(struct page_channel *ch, const uint8_t *msg, size_t len)
{
	struct postcopy_pages h;
	const uint8_t *data = msg + sizeof h;
	int ds;

	if (len < sizeof h)
		return -1;
	memcpy(&h, msg, sizeof h);
	ds = page_channel_index(ch, h.ds_id);
	if (ds < 0 || !h.count || h.count > POSTCOPY_RUN || (h.zero >> h.count) ||
	    len != sizeof h +
		       (size_t)(h.count - __builtin_popcountll(h.zero)) * POSTCOPY_PAGE ||
	    h.first >= page_channel_pages(ch, (unsigned)ds) ||
	    h.count > page_channel_pages(ch, (unsigned)ds) - h.first)
		return -1;
	for (unsigned i = 0; i < h.count; i++) {
		int zero = h.zero >> i & 1;
		page_channel_put(ch, (unsigned)ds, h.first + i, 1, zero ? NULL : data,
				 h.how == POSTCOPY_DEMAND  ? PAGE_DEMAND
				 : h.how == POSTCOPY_EAGER ? PAGE_EAGER
							   : PAGE_PUSHED);
		data += zero ? 0 : POSTCOPY_PAGE;
	}
	return 0;
}
