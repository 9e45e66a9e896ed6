/*
 * Dirty-page tracking of host memory ranges (core/dirty.c), the mechanism
 * under DS_DIRTY_START/FETCH/STOP (core/dataspace.c).
 *
 * A tracked range is made read-only at host level; the first write to a
 * page faults, the process-wide SIGSEGV handler marks the page in the
 * range's bitmap and makes that page writable again, and the write
 * completes.  Because dataspaces are mapped into Unicorn engines with
 * uc_mem_map_ptr, this sees guest stores from TCG code and writes by the
 * node itself alike, without splitting Unicorn regions.
 *
 * Every page unprotected on its own may split a host VMA (the kernel's
 * limit is about 65 530 per process): once DIRTY_ISLAND_BUDGET such pages
 * exist across all ranges, the range that faults next is unprotected as a
 * whole and marked dirty as a whole (its "fallback").
 *
 * Writes by a system call (read(2) into tracked memory) do not fault into
 * the handler: they fail with EFAULT.  Track memory only while nothing
 * fills it that way.
 */
#ifndef CORE_DIRTY_H
#define CORE_DIRTY_H

#include <stdint.h>

#define DIRTY_PAGE	    4096ULL
#define DIRTY_MAX_RANGES    1024 /* tracked ranges per process */
#define DIRTY_ISLAND_BUDGET 8192 /* pages unprotected one by one, all ranges */

struct dirty_range;

/* Bytes of bookkeeping (three bitmaps) for a range of pages pages: what a
 * caller charges to someone's quota. */
uint64_t dirty_bitmap_bytes(uint64_t pages);

/* Track [base, base + pages * DIRTY_PAGE) (page aligned, readable and
 * writable), all pages clean, under `key` (dirty_find).  Installs the
 * SIGSEGV handler if it is not installed (again: a test framework may have
 * replaced it).  0 or -EINVAL, -EBUSY (key already tracked), -ENOSPC (no
 * free range), -ENOMEM, or mprotect's -errno. */
int dirty_start(void *base, uint64_t pages, const void *key, struct dirty_range **out);

/* dirty_start, but the range is made read-only by a host thread, 2 MiB
 * at a time, while the caller goes on (the protection of a large range
 * costs the mmap lock for long; see PROTECT_STEP).  Until then writes are
 * not reported: tracking as dirty_start's begins with the first
 * dirty_fetch, which waits for the protection to end (so does
 * dirty_stop).  For a checkpoint: start before the pause, fetch in it. */
int dirty_start_background(void *base, uint64_t pages, const void *key,
			   struct dirty_range **out);
/* The range tracked under key, or NULL. */
struct dirty_range *dirty_find(const void *key);

/* Bitmap words [word, word + *n) (clamped to the range; bit i of word j is
 * page 64 * (word + j) + i) into out, and re-arm those pages: clear their
 * bits and make them read-only again, so the next fetch reports only what
 * was written after this one.  A write racing with the fetch on another
 * thread lands in a page reported now (so copy reported pages after the
 * fetch) or is reported next time: an incremental copy loses nothing.
 * *n = words copied, *ndirty = pages set in them.  0, -EINVAL (word out
 * of range or *n == 0) or mprotect's -errno (bits kept). */
int dirty_fetch(struct dirty_range *r, uint64_t word, unsigned *n, uint64_t *out,
		uint64_t *ndirty);

/* dirty_fetch whose re-arm comes later: the same words and count (bits
 * cleared), but the pages reported stay writable until dirty_rearm has
 * had them made read-only again by a host thread, while the caller goes
 * on (for a checkpoint: take in the pause, copy, resume, re-arm; neither
 * the re-arm's mprotects nor its thread are in the pause, where 16 such
 * threads started by the takes of a 256 MiB target took the node's
 * thread's CPU).  A write between the take and the re-arm is not seen,
 * so every page taken is reported again by the next fetch, take or peek
 * (a superset: nothing is lost), re-armed or not.  0 or -EINVAL as
 * dirty_fetch. */
int dirty_take(struct dirty_range *r, uint64_t word, unsigned *n, uint64_t *out,
	       uint64_t *ndirty);

/* Re-arm the pages of r's takes since the last re-arm or fetch, on a
 * host thread (here if none can be made).  The next fetch, take or stop
 * waits for it (a peek does not: it reports those pages anyway, from
 * carry); if it failed the range falls back (all written).
 * Nothing to do (no take since): 0 at once.  Always 0. */
int dirty_rearm(struct dirty_range *r);

/* dirty_fetch without the re-arm: the same words and count, but the
 * bits stay set and the pages writable, so the next fetch reports them
 * again (a superset: nothing is lost).  No mprotect: for a snapshot
 * after which the pages need not be tracked from anew (a migration's
 * final copy, the target paused until its image is written).  0 or
 * -EINVAL as dirty_fetch. */
int dirty_peek(struct dirty_range *r, uint64_t word, unsigned *n, uint64_t *out,
	       uint64_t *ndirty);

/* Stop tracking: the memory is writable again, the bitmaps freed.  0 or
 * mprotect's -errno (still tracked). */
int dirty_stop(struct dirty_range *r);
/* Stop tracking of memory that is unmapped next, which nothing writes
 * any more: its pages are left as they are (making 256 MiB writable
 * again took the caller 3-11 ms for nothing).  Always 0. */
int dirty_stop_unmapping(struct dirty_range *r);

/* Pages of r: and how many times r fell back to whole-range tracking. */
uint64_t dirty_pages(const struct dirty_range *r);
uint64_t dirty_fallbacks(const struct dirty_range *r);

/* Pages unprotected one by one in all ranges now (at most the budget). */
uint64_t dirty_islands(void);

#endif
