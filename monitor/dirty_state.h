/*
 * What the incremental checkpoint's two halves share (monitor/
 * dirty_pages.c: tracking and the pause's selection; monitor/
 * dirty_stage.c: the stage the pause copies into, and the pages it keeps
 * as the base of the next image's differences).  Private to them: the
 * rest of the monitor sees monitor/dirty_pages.h.
 */
#ifndef MONITOR_DIRTY_STATE_H
#define MONITOR_DIRTY_STATE_H

#include "monitor/checkpoint.h"
#include "monitor/dirty_pages.h"
#include "monitor/sent_pages.h"

#define INCR_PAGE 4096ull

struct incr_ds {
	uint64_t badge; /* the dataspace's record */
	cap_t cap;
	uint64_t pages;
	uint64_t *bits; /* this checkpoint's fetch (NULL: not fetched yet) */
	int fresh;	/* started by this checkpoint's incr_prestart: copied whole */
	int taken;	/* fetched with TAKE: to re-arm (incr_rearm) */
	/* the whole dataspace attached by incr_warm (0: none), the pause's
	 * live views then are in it; detached by incr_end, with the target
	 * running (32 attach and detach calls were ~50 us of the pause) */
	uint64_t view;
};

/* The pages an incremental checkpoint copies in its pause, packed, in a
 * buffer kept from one checkpoint to the next: on this host the first
 * write to fresh memory costs ~6-8 us a page even after MADV_POPULATE_
 * WRITE (655 of them, with the region-sized copies' callocs, were ~9 ms
 * of CPU in a 1% checkpoint's pause); memory written before is not.  The
 * writer (incr_stage_settle, on the host worker, the target running)
 * moves them into the regions' own buffers. */
struct incr_stage {
	uint8_t *buf;
	uint64_t cap, used; /* pages */
	unsigned n;
	struct {
		struct mon_model_region *mr;
		uint64_t off, k; /* pages of buf */
	} e[MON_MAX_REGIONS];
};

/* Kept in the monitor between checkpoints. */
struct mon_incr {
	/* the base: the last image written with tracking on */
	uint64_t base_id;
	uint8_t base_hash[IMAGE_HASH_SIZE];
	uint32_t base_depth; /* 0: the base is a full image */
	char base_path[IMAGE_PARENT_PATH];
	/* the checkpoint under way */
	int track, incremental;
	uint64_t image_id, pages_copied, fetch_us, copy_us, fetch_cpu_us, copy_cpu_us;
	struct incr_ds ds[MON_MAX_REGIONS];
	unsigned nds;
	/* host views lent to the model (native attachments) */
	uint64_t live[MON_MAX_REGIONS];
	unsigned nlive;
	cap_t payer; /* the monitor's PD: core's bitmaps cost the target nothing */
	struct incr_stage *stage; /* NULL while a writer has it */
	uint64_t last_copied;	  /* pages, the last checkpoint's */
	/* the stage's pages by dataspace page, once written: the base of a
	 * next image's differences (incr_delta) */
	struct sent_pages sent;
	int sent_fresh; /* no page staged by this checkpoint yet */
};

/* Room for `pages` pages in the stage; 0 or -ENOMEM. */
int incr_stage_room(struct mon_incr *in, uint64_t pages);

/* mr->present from d's bitmap over region g; the count, or -ENOMEM. */
int64_t incr_select_dirty(const struct incr_ds *d, const struct mon_region *g,
			  struct mon_model_region *mr);

/* The dirty pages of region g (its host view at host) packed into the
 * stage; 0 or -errno. */
int incr_copy_dirty(struct mon_incr *in, struct incr_ds *d, const struct mon_region *g,
		    struct mon_model_region *mr, const uint8_t *host);

#endif
