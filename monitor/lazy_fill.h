/*
 * Lazy restore (monitor/lazy_fill.c, docs/cr.md "Lazy restore"): the
 * target runs as soon as its threads, UTCBs and caps are restored; its
 * RAM dataspaces are lazy at core (DS_LAZY_*), and the monitor fills
 * their pages from the restored model's copy of its memory: the pages a
 * thread waits for first, the rest in the background.
 */
#ifndef MONITOR_LAZY_FILL_H
#define MONITOR_LAZY_FILL_H

#include <stdint.h>
#include <base/capability.h>

struct monitor;
struct mon_model;
struct badge_map;
struct lazy_fill;

/* A fill for a restore about to be built: its fault handler (a signal
 * context) exists from here on.  0 or -errno; mon->lazy is set. */
int lazy_fill_new(struct monitor *mon);
/* A new RAM dataspace of the restore (size bytes): lazy at core from now
 * on, every page absent.  0 or -errno. */
int lazy_fill_add(struct monitor *mon, cap_t ds, uint64_t size);
/* Attach every dataspace added so far in the monitor (a post-copy
 * destination's prebuilt copy, before the pause; else the first fault
 * or step does).  0 or -errno. */
int lazy_fill_attach(struct monitor *mon);
/* Before lazy_fill_run: forget dataspace ds (a prebuilt copy's that the
 * restore does not take; the caller frees it). */
void lazy_fill_drop(struct monitor *mon, cap_t ds);
/* A post-copy restore: the pages come from ch, not from the model; the
 * fill takes the caller's reference.  Before lazy_fill_run. */
struct page_channel;
void lazy_fill_channel(struct monitor *mon, struct page_channel *ch);
/* After the restore: the fill takes model (its regions' bytes are the
 * pages to fill, the cap map and pools already fixed in them; bm maps
 * their old dataspace badges to the new ones) and, with start, starts
 * (the target may run from here on); else it waits for lazy_fill_start
 * (a post-copy restore held until the commit: no step of the fill in the
 * pause).  0 or -errno (logged; the target must be stopped: it cannot
 * run without its memory). */
int lazy_fill_run(struct monitor *mon, struct mon_model *model,
		  const struct badge_map *bm, int start);
/* The commit of a held fill: its background steps begin.  0 or -errno. */
int lazy_fill_start(struct monitor *mon);
/* 1 while pages are still to come (a checkpoint must wait: what the
 * monitor would read of them is not the target's memory). */
int lazy_fill_busy(const struct monitor *mon);
/* Pages filled so far and in all (for a status line). */
void lazy_fill_progress(const struct monitor *mon, uint64_t *done, uint64_t *total);
/* Stop filling and free everything (the target ended, or a failed
 * restore before its commit).  No-op without a fill. */
void lazy_fill_free(struct monitor *mon);

#endif
