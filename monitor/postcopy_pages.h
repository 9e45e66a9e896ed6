/*
 * A post-copy restore's memory (docs/migration.md "Post-copy"): the
 * skeleton image names the target's dataspaces and regions but carries
 * none of their pages; they arrive from the migration's source into a
 * page channel (monitor/page_channel.h) that the migration's host thread
 * offered before it asked for the restore.  The model's regions are
 * bound to the channel's buffers, so the restore's fix-ups and its verify
 * step read and write the pages they need as they arrive (asked for
 * first, waited for before the commit), and the lazy fill takes every
 * page from there after the commit.
 */
#ifndef MONITOR_POSTCOPY_PAGES_H
#define MONITOR_POSTCOPY_PAGES_H

#include <stdint.h>

struct monitor;
struct mon_model;
struct page_channel;
struct image_model;

/* How long a read of the model waits for a page before the commit. */
#define POSTCOPY_PAGE_WAIT_MS 10000

/* Claim the offered channel and bind model's regions (read from the
 * skeleton) to its buffers.  0 with *out (one reference, the caller's),
 * or -errno with the reason logged (no channel offered, a region whose
 * dataspace the channel lacks). */
int postcopy_bind(struct monitor *mon, struct mon_model *model,
		  struct page_channel **out);
/* Log how many pages the restore of model (bound) asked the source for:
 * called before its start, so the target's own faults are not counted
 * (the restore starts it itself since session 13). */
void postcopy_restore_wants(struct monitor *mon, const struct mon_model *model);

/* The skeleton as the migration's host thread read it (to check its
 * channel against it), handed to the restore so that it is read once:
 * each read was 40-70 us of the pause.  offer gives im, read from path
 * with IMAGE_READ_STREAM, to the slot (one at a time: else it is freed);
 * take hands it over if it was read from path (else NULL); withdraw
 * frees what was not taken. */
void postcopy_skeleton_offer(const char *path, struct image_model *im);
struct image_model *postcopy_skeleton_take(const char *path);
void postcopy_skeleton_withdraw(void);

#endif
