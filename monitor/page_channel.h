/*
 * The page channel of a post-copy migration's destination
 * (docs/migration.md "Post-copy"): the pages of the target's RAM
 * dataspaces as they arrive from the source over the network, between
 * the thread that receives them (the migration's host thread) and the
 * monitor's lazy fill (monitor/lazy_fill.c), which must never block on
 * the network.
 *
 *  - the receiver puts pages (page_channel_put): each page is written
 *    once, into the channel's buffer of its dataspace, before it is
 *    marked arrived; a page that arrived already is not written again
 *    (the source's push and its answer to a demand may cross, and the
 *    skeleton's pages, fixed up by the restore, must stay as fixed);
 *  - the fill asks whether a page arrived (page_channel_arrived) and
 *    reads it from the buffer; a page a target thread waits for and that
 *    has not arrived is wanted (page_channel_want): the sender thread
 *    takes the wants in order (page_channel_next_want) and asks the
 *    source for them first;
 *  - if the source is lost, the receiver marks the channel failed
 *    (page_channel_fail): the fill then stops the target, naming how many
 *    pages never arrived.  It must not run on with pages that are not
 *    there.
 *
 * Thread-safe between one receiver, one sender and one fill.
 */
#ifndef MONITOR_PAGE_CHANNEL_H
#define MONITOR_PAGE_CHANNEL_H

#include <stddef.h>
#include <stdint.h>
#include "monitor/limits.h"

#define PAGE_CHANNEL_PAGE     4096ULL
#define PAGE_CHANNEL_MAX_DS   MON_MAX_REGIONS /* dataspaces of one target at most */
#define PAGE_CHANNEL_WANT_MAX 1024 /* wants queued at most (more wait for room) */

/* How a page arrived (the figures of a post-copy migration). */
enum page_how {
	PAGE_EAGER,  /* with the skeleton, before the target ran */
	PAGE_DEMAND, /* the source's answer to a want */
	PAGE_PUSHED, /* the source's background push */
};

struct page_channel;
struct image_model;

/* A channel for nds dataspaces (image ids ids[i], or NULL: 1..nds) of
 * pages[i] pages each, none arrived; one reference.  NULL if nds or a
 * size is out of range, or out of memory. */
struct page_channel *page_channel_new(unsigned nds, const uint64_t *ids,
				      const uint64_t *pages);
/* Drop a reference: the last one frees the channel. */
void page_channel_free(struct page_channel *ch);

/* The hand-over between the migration's host thread and the monitor
 * that restores the skeleton (one post-copy restore at a time per node):
 * offer adds a reference and publishes ch (-1 if one is published
 * already); claim takes it (NULL if none); withdraw unpublishes ch if
 * nobody claimed it. */
int page_channel_offer(struct page_channel *ch);
struct page_channel *page_channel_claim(void);
void page_channel_withdraw(struct page_channel *ch);
/* The skeleton as the migration's host thread read it (to check ch
 * against it), published with ch so that the restore reads it once
 * (each read was 40-70 us of the pause): set gives ch im, read from path
 * with IMAGE_READ_STREAM (before the offer; freed with ch if never
 * taken); take hands it over from the published channel if it was read
 * from path, else NULL (the restore then reads the file). */
void page_channel_set_skeleton(struct page_channel *ch, const char *path,
			       struct image_model *im);
struct image_model *page_channel_take_skeleton(const char *path);
/* The index of the dataspace with image id id, or -1. */
int page_channel_index(const struct page_channel *ch, uint64_t id);
uint64_t page_channel_id(const struct page_channel *ch, unsigned ds);

unsigned page_channel_nds(const struct page_channel *ch);
uint64_t page_channel_pages(const struct page_channel *ch, unsigned ds);
/* The bytes of dataspace ds: a page's bytes are valid once it arrived
 * (the fill reads them, the restore may fix up eager pages in place). */
uint8_t *page_channel_buf(struct page_channel *ch, unsigned ds);

/* Receiver: count pages from page on of dataspace ds, bytes in data
 * (count pages).  Pages that arrived already are left as they are.  The
 * number of pages that arrived now, or -1 if ds or the range is out of
 * range.  data NULL: zero pages. */
long page_channel_put(struct page_channel *ch, unsigned ds, uint64_t page, uint64_t count,
		      const void *data, enum page_how how);
/* Receiver: the source is lost (why: one line).  The first reason stays;
 * the sender's page_channel_next_want returns -1 from now on.  Once
 * every page arrived, nothing is lost: ignored. */
void page_channel_fail(struct page_channel *ch, const char *why);
/* Sender: the next wanted page not yet arrived, waiting up to
 * timeout_ms: 1 (*ds, *page set), 0 (none in time), -1 (failed or every
 * page arrived: nothing more will be wanted). */
int page_channel_next_want(struct page_channel *ch, unsigned *ds, uint64_t *page,
			   int timeout_ms);

/* Fill: 1 if the page arrived (its bytes are in the buffer). */
int page_channel_arrived(const struct page_channel *ch, unsigned ds, uint64_t page);
/* Fill: a target thread waits for this page.  0 (queued, or it arrived
 * or was wanted already), -1 if out of range. */
int page_channel_want(struct page_channel *ch, unsigned ds, uint64_t page);
/* Fill: 1 and the reason in why if the source was lost, else 0. */
int page_channel_failed(struct page_channel *ch, char *why, size_t size);
/* Fill (a host thread, never the node's): wait up to timeout_ms until
 * pages arrived beyond seen (a count of page_channel_stats' arrived), the
 * channel failed or was woken (page_channel_wake).  1 if one of those
 * happened, 0 on the timeout. */
int page_channel_wait(struct page_channel *ch, uint64_t seen, int timeout_ms);
/* End a page_channel_wait now (the fill stops). */
void page_channel_wake(struct page_channel *ch);

struct page_channel_stats {
	uint64_t total, arrived, eager, demand, pushed, wants;
};
void page_channel_stats(struct page_channel *ch, struct page_channel_stats *st);

#endif
