/*
 * Incremental checkpoints (monitor/dirty_pages.c): which pages of the
 * target's RAM a checkpoint copies.  After a checkpoint asked to track
 * (a plain `capsule checkpoint`, a pre-copy round), core tracks the
 * writes to every RAM dataspace the target has attached (DS_DIRTY_*);
 * the next checkpoint with a parent copies, while the target is paused,
 * only the pages written since, and names the parent image by id and
 * hash.  The parent must be the last image this monitor wrote with
 * tracking: the tracking runs from that snapshot on, not from any other.
 */
#ifndef MONITOR_DIRTY_PAGES_H
#define MONITOR_DIRTY_PAGES_H

#include <stdint.h>

#include "image/image.h"
#include "monitor/model.h"

struct monitor;
struct mon_region;

/* What the checkpoint about to be taken does with dirty tracking. */
struct incr_request {
	const char *parent; /* the parent image file, or NULL: a full image */
	int track;	    /* start (or re-arm) tracking at this snapshot */
	/* parent is a migration's spool file this monitor wrote (a pre-copy
	 * round): its hash is the one taken as it was written, not read
	 * again (a 256 MiB first round re-read before round 2); the
	 * destination checks the chain it received */
	int spool;
};

/* Before the pause: check that parent is the last tracked image of this
 * monitor and set up the next checkpoint per req.  0, or -errno with one
 * line in err (nothing changed). */
int incr_begin(struct monitor *mon, const struct incr_request *req, char *err,
	       size_t errlen);
/* Before the pause, the target running: start tracking each RAM
 * dataspace of a region not tracked yet, core protecting its memory in
 * the background (DS_DIRTY_BACKGROUND) rather than in the pause on the
 * node's thread; incr_region's fetch in the pause then arms it from the
 * snapshot on. */
void incr_prestart(struct monitor *mon);
/* Right before a pause that copies the pages written (not a streamed
 * one): read the pages written by now, and the stage's room for them,
 * once, so that the pause's copy finds them in the caches, not in
 * memory (a target that writes a word a page leaves the rest of each
 * page there: the copy of 655 such pages was 410-620 us of a 1%
 * checkpoint's ~700-950 us pause).  Most are still the ones written by
 * the pause; a page written after is copied all the same. */
void incr_warm(struct monitor *mon);
/* The same for a migration's final freeze, which reads the pages in
 * place and compares each with the last round's copy (incr_delta): asked
 * for on its own right before the freeze (CONTROL_F_WARM), the target
 * running, since the freeze's pause is counted from its request.  Reads
 * the last round's staged pages and the pages written by now; keeps no
 * attachment.  Nothing if the last round left no base. */
void incr_warm_freeze(struct monitor *mon);
/* Before the pause: 1 if incr_region will copy only the pages written
 * of region g (so the caller needs no region-sized buffer for it). */
int incr_partial(struct monitor *mon, const struct mon_region *g);
/* In the pause, for region g of dataspace cap ds (model region mr): with
 * a parent, copy only the pages written since into mr (mr->present says
 * which; mr->live gives the rest to the checkpoint's cap-map reading
 * while the target is paused) and answer 1; else arm tracking if asked
 * and answer 0 (the caller copies the region).  in_place (a target kept
 * paused until its image is written, read there): with a parent, only
 * mr->present, from the bitmaps read without re-arming them (no
 * mprotect in the pause; the pages stay dirty for a next fetch), no
 * copy, and answer 2: the caller attaches the region for the writer.
 * -errno on failure. */
int incr_region(struct monitor *mon, cap_t ds, const struct mon_region *g,
		struct mon_model_region *mr, int in_place);
/* The pages this checkpoint staged in its pause (monitor/dirty_pages.c,
 * struct incr_stage), taken from the monitor for the image's writer, or
 * NULL if none; the writer settles them into the model's regions (data,
 * packed, on the host worker: any thread, the target running) before it
 * converts the model, then gives the stage back (or frees it if the
 * target is gone).  A model whose stage is not settled lacks those
 * pages' data (its regions' data stay NULL). */
struct incr_stage;
struct incr_stage *incr_stage_take(struct monitor *mon);
int incr_stage_settle(struct incr_stage *s);
void incr_stage_give(struct monitor *mon, struct incr_stage *s);
/* An image that stays paused while it is written (a migration's final
 * image, read in place, nothing staged): its pages that the parent
 * carried from the stage are written as differences to them
 * (im->delta_base, monitor/sent_pages.h).  1 if so, 0 if it has no such
 * base (the parent was round 1, read in place; a round too big). */
struct image_model;
int incr_delta(struct monitor *mon, struct image_model *im);
/* present (n / 8 + 8 bytes): bits [first, first + n) of bits, a bitmap
 * of `pages` pages, as a bitmap of n pages (bit p % 8 of byte p / 8);
 * their count.  A word at a time (the pause's selection of the pages
 * written: 65536 pages bit by bit were some 50 us of it). */
uint64_t incr_select_bits(const uint64_t *bits, uint64_t pages, uint64_t first,
			  uint64_t n, uint8_t *present);
/* The pages region r's present bitmap has (select_dirty made it). */
uint64_t incr_present_pages(const struct mon_model_region *r);
/* Put the pages an incremental checkpoint copied in the pause (packed)
 * at their place in their regions' data; any thread, the target running
 * (the image conversion does it first). */
void incr_unpack(struct mon_model *m);
/* The same for one region. */
void incr_unpack_region(struct mon_model_region *r);
/* Stop lending the target's memory to model (the snapshot is taken:
 * before the target resumes). */
void incr_drop_live(struct monitor *mon, struct mon_model *model);
/* The pages the pause's fetches took made read-only again by core, on a
 * host thread of its own: call once the target runs again (each of them
 * is reported by the next checkpoint anyway; incr_end re-arms what is
 * still due). */
void incr_rearm(struct monitor *mon);
/* incr_rearm if the target runs (resumed after its snapshot). */
void incr_rearm_resumed(struct monitor *mon);
/* After model_to_image: mark im incremental (parent id, hash, path,
 * depth) if this checkpoint has a parent, and give it its id. */
void incr_image(struct monitor *mon, struct image_model *im);
/* The image was written to path (rc 0) or not: remember it as the base
 * of the next incremental checkpoint, drop the live views.  hash: the
 * file's (image_file_hash, computed by the writer off the node's thread),
 * or NULL to compute it here.  Call with the target still paused or
 * resumed alike. */
void incr_end(struct monitor *mon, struct mon_model *model, const char *path,
	      const uint8_t *hash, int rc);
/* The target ends (it is destroyed next): forget the base; core ends the
 * tracking with each dataspace. */
void incr_forget(struct monitor *mon);
/* Pages written in the last incremental checkpoint (for the log). */
uint64_t incr_last_pages(const struct monitor *mon);

#endif
