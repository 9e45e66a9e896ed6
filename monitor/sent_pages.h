/*
 * The pages the last pre-copy round carried, as it carried them
 * (monitor/sent_pages.c): the base of the next image's page differences
 * (image_model.delta_base, IMAGE_MEM_XOR), so that a migration's final
 * image carries what changed in each page of the working set, not the
 * page.  An index only: the bytes are those the round copied in its
 * pause (the incremental stage, monitor/dirty_pages.c), which stay as
 * they are until the next checkpoint that copies pages.
 */
#ifndef MONITOR_SENT_PAGES_H
#define MONITOR_SENT_PAGES_H

#include <stdint.h>

/* at most this many pages (64 MiB of stage, as QEMU's default XBZRLE
 * cache): a round with more is not a base, its next image whole */
#define SENT_PAGES_MAX 16384u

struct sent_pages {
	struct sent_page {
		uint64_t ds, page; /* dataspace badge, page in it */
		uint64_t at;	   /* page index in the stage */
	} * e;
	uint32_t n, cap;
	uint32_t next;	   /* sent_pages_find's guess: the entry after its last */
	int over;	   /* more than SENT_PAGES_MAX: no base */
	uint64_t image_id; /* the image that carried them; 0: none */
};

/* A checkpoint starts copying pages into the stage: the old index goes. */
void sent_pages_reset(struct sent_pages *s);
/* Page `page` of dataspace ds is at stage index at. */
void sent_pages_add(struct sent_pages *s, uint64_t ds, uint64_t page, uint64_t at);
/* The pages added since the reset were written as image image_id (0:
 * the write failed, they are no base). */
void sent_pages_seal(struct sent_pages *s, uint64_t image_id);
/* The stage index of the page as image image_id carried it, or -1. */
int64_t sent_pages_find(struct sent_pages *s, uint64_t image_id, uint64_t ds,
			uint64_t page);
void sent_pages_free(struct sent_pages *s);

#endif
