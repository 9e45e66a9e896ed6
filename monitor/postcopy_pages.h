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

#endif
