/*
 * Dirty-page tracking of host memory ranges: a fixed table of ranges and
 * one process-wide SIGSEGV handler (see core/dirty.h for the model).
 *
 * The handler may run on any thread, at any point of the interrupted
 * code, so it takes no lock and allocates nothing: it scans the static
 * table, and a range's bitmaps are only freed after the range has left
 * the table and no handler is still looking at it.  Table slot protocol:
 * FREE -> SETUP (claimed, fields being written; the handler ignores it)
 * -> LIVE -> DYING (memory already writable again, so a handler finding
 * its address there just lets the access retry) -> FREE once inflight,
 * the number of handlers inside the slot, is 0.  All of that is sequential
 * consistent atomics: a handler raises inflight before it reads state, a
 * stopper sets DYING before it waits for inflight to drop.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include "core/dirty.h"

enum { SLOT_FREE, SLOT_SETUP, SLOT_LIVE, SLOT_DYING };

struct dirty_range {
	_Atomic int state;
	_Atomic unsigned inflight;
	const void *key;
	uintptr_t base;
	uint64_t pages, words;
	_Atomic uint64_t *bits;	  /* written since the last fetch */
	_Atomic uint64_t *island; /* unprotected one page at a time */
	/* taken by dirty_take and so reported again by the next fetch: their
	 * re-arm came after the take (a write between is not seen); read by
	 * the re-armer, written by the owner only once it is joined */
	uint64_t *carry;
	_Atomic uint64_t islands; /* bits set in island */
	_Atomic uint64_t fallbacks;
	/* dirty_start_background, dirty_take: the host thread that protects
	 * the range or re-arms the pages taken, joined (by the range's owner)
	 * before a fetch or a stop */
	pthread_t protector;
	int protecting, protect_err;
	int rearm_due; /* taken since the last re-arm or fetch (dirty_rearm) */
	int rearming;  /* the protector is dirty_rearm's, not the start's */
};

/* Process-wide on purpose, not per node: a SIGSEGV handler is one per
 * process, and it must find a faulting address without locks or node
 * state, so the ranges of every node that runs in this process share this
 * table (a range is keyed by its own memory, so nodes cannot mix them).
 * islands_total is bounded by DIRTY_ISLAND_BUDGET because the VMAs the
 * islands cost come out of the process's map count limit. */
static struct dirty_range table[DIRTY_MAX_RANGES];
static _Atomic unsigned table_used; /* slots at or above are FREE */
static _Atomic uint64_t islands_total;
static struct sigaction segv_prev; /* the handler ours chains to */

static uint64_t last_word_mask(const struct dirty_range *r)
{
	unsigned tail = r->pages % 64;

	return tail ? (1ULL << tail) - 1 : ~0ULL;
}

static void island_drop(struct dirty_range *r, uint64_t n)
{
	atomic_fetch_sub(&r->islands, n);
	atomic_fetch_sub(&islands_total, n);
}

/* Whole range writable and dirty: bounded VMAs whatever gets written. */
static int range_fallback(struct dirty_range *r)
{
	if (mprotect((void *)r->base, r->pages * DIRTY_PAGE, PROT_READ | PROT_WRITE))
		return 0;
	for (uint64_t w = 0; w < r->words; w++) {
		atomic_store(&r->bits[w], w + 1 < r->words ? ~0ULL : last_word_mask(r));
		atomic_store(&r->island[w], 0);
	}
	island_drop(r, atomic_load(&r->islands));
	atomic_fetch_add(&r->fallbacks, 1);
	return 1;
}

/* Signal context: a write fault on page p of the live range r.  The page
 * is made writable before its bit is set (dirty_fetch relies on it). */
static int range_mark(struct dirty_range *r, uint64_t p)
{
	uint64_t w = p / 64, b = 1ULL << (p % 64);

	if (atomic_load(&islands_total) >= DIRTY_ISLAND_BUDGET)
		return range_fallback(r);
	if (mprotect((void *)(r->base + p * DIRTY_PAGE), DIRTY_PAGE,
		     PROT_READ | PROT_WRITE))
		return range_fallback(r); /* ENOMEM: out of VMAs */
	atomic_fetch_or(&r->bits[w], b);
	if (!(atomic_fetch_or(&r->island[w], b) & b)) {
		atomic_fetch_add(&r->islands, 1);
		atomic_fetch_add(&islands_total, 1);
	}
	return 1;
}

/* Signal context: 1 if addr lies in a tracked range (the access may be
 * retried), 0 if it is none of ours (or the fallback failed). */
static int dirty_fault(uintptr_t addr)
{
	unsigned used = atomic_load(&table_used);

	for (unsigned i = 0; i < used; i++) {
		struct dirty_range *r = &table[i];
		int st, res = -1;

		if (atomic_load_explicit(&r->state, memory_order_relaxed) == SLOT_FREE)
			continue;
		atomic_fetch_add(&r->inflight, 1);
		st = atomic_load(&r->state);
		if ((st == SLOT_LIVE || st == SLOT_DYING) && addr >= r->base &&
		    (addr - r->base) / DIRTY_PAGE < r->pages)
			res = st == SLOT_DYING
				  ? 1
				  : range_mark(r, (addr - r->base) / DIRTY_PAGE);
		atomic_fetch_sub(&r->inflight, 1);
		if (res >= 0)
			return res;
	}
	return 0;
}

/* Not ours: behave as if our handler had never been installed. */
static void segv_chain(int sig, siginfo_t *si, void *uc)
{
	struct sigaction dfl;

	if (segv_prev.sa_flags & SA_SIGINFO) {
		segv_prev.sa_sigaction(sig, si, uc);
		return;
	}
	if (segv_prev.sa_handler != SIG_DFL && segv_prev.sa_handler != SIG_IGN) {
		segv_prev.sa_handler(sig);
		return;
	}
	/* default action: a faulting access faults again on return and
	 * kills; a sent signal is sent again (it is blocked until then) */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGSEGV, &dfl, NULL);
	if (si->si_code <= 0)
		raise(sig);
}

static void dirty_segv(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	int ours = si->si_code == SEGV_ACCERR && dirty_fault((uintptr_t)si->si_addr);

	errno = saved;
	if (!ours)
		segv_chain(sig, si, uc);
}

/* Nodes on several host threads may start tracking at once: one of them
 * installs the handler, and segv_prev is written once. */
static pthread_mutex_t handler_lock = PTHREAD_MUTEX_INITIALIZER;

static int handler_ensure(void)
{
	struct sigaction cur, sa;
	int rc = 0;

	pthread_mutex_lock(&handler_lock);
	if (sigaction(SIGSEGV, NULL, &cur)) {
		rc = -errno;
	} else if (!(cur.sa_flags & SA_SIGINFO) || cur.sa_sigaction != dirty_segv) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = dirty_segv;
		sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
		sigemptyset(&sa.sa_mask);
		segv_prev = cur;
		rc = sigaction(SIGSEGV, &sa, NULL) ? -errno : 0;
	}
	pthread_mutex_unlock(&handler_lock);
	return rc;
}

uint64_t dirty_bitmap_bytes(uint64_t pages)
{
	return 3 * ((pages + 63) / 64) * sizeof(uint64_t);
}

struct dirty_range *dirty_find(const void *key)
{
	unsigned used = atomic_load(&table_used);

	for (unsigned i = 0; i < used; i++)
		if (atomic_load(&table[i].state) == SLOT_LIVE && table[i].key == key)
			return &table[i];
	return NULL;
}

static struct dirty_range *slot_claim(void)
{
	for (unsigned i = 0; i < DIRTY_MAX_RANGES; i++) {
		int st = SLOT_FREE;
		unsigned used = atomic_load(&table_used);

		if (!atomic_compare_exchange_strong(&table[i].state, &st, SLOT_SETUP))
			continue;
		while (used < i + 1 &&
		       !atomic_compare_exchange_weak(&table_used, &used, i + 1))
			;
		return &table[i];
	}
	return NULL;
}

/* Read-only in steps of this many bytes: each mprotect holds the
 * process's mmap lock for writing, so the node's thread, whose page faults
 * need it, waits at most one step (a 256 MiB range at once took 107 ms on
 * a loaded host, all of it in the node's thread). */
#define PROTECT_STEP (2ULL << 20)

static void *protect_main(void *p)
{
	struct dirty_range *r = p;
	uint64_t len = r->pages * DIRTY_PAGE;

	for (uint64_t off = 0; off < len; off += PROTECT_STEP)
		if (mprotect((void *)(r->base + off),
			     len - off < PROTECT_STEP ? len - off : PROTECT_STEP,
			     PROT_READ)) {
			r->protect_err = -errno;
			break;
		}
	return NULL;
}

/* The protector (fn: protect_main or rearm_main) on a small stack: the
 * node's thread creates and joins one per range, and default 8 MiB stacks
 * beyond glibc's stack cache were unmapped in the join, on the node's
 * thread (8 ms seen). */
static int protect_spawn(struct dirty_range *r, void *(*fn)(void *))
{
	pthread_attr_t a;
	int rc;

	if (pthread_attr_init(&a))
		return -1;
	pthread_attr_setstacksize(&a, 64 << 10);
	rc = pthread_create(&r->protector, &a, fn, r);
	pthread_attr_destroy(&a);
	return rc;
}

/* The background protection has ended; if it failed, the range is
 * tracked as all written (writable again, its fallback). */
static void protect_join(struct dirty_range *r)
{
	if (!r->protecting)
		return;
	pthread_join(r->protector, NULL);
	r->protecting = r->rearming = 0;
	if (r->protect_err)
		range_fallback(r);
	r->protect_err = 0;
}

/* dirty_start, its protection on a host thread if background. */
static int range_start(void *base, uint64_t pages, const void *key, int background,
		       struct dirty_range **out)
{
	uint64_t words = (pages + 63) / 64;
	struct dirty_range *r;
	int err;

	if (!pages || (uintptr_t)base % DIRTY_PAGE || pages > UINT64_MAX / DIRTY_PAGE)
		return -EINVAL;
	if (key && dirty_find(key))
		return -EBUSY;
	if ((err = handler_ensure()))
		return err;
	r = slot_claim();
	if (!r)
		return -ENOSPC;
	r->bits = calloc(words, sizeof(*r->bits));
	r->island = calloc(words, sizeof(*r->island));
	r->carry = calloc(words, sizeof(*r->carry));
	if (!r->bits || !r->island || !r->carry) {
		err = -ENOMEM;
		goto undo;
	}
	r->key = key;
	r->base = (uintptr_t)base;
	r->pages = pages;
	r->words = words;
	atomic_store(&r->islands, 0);
	atomic_store(&r->fallbacks, 0);
	/* An atomic add of 0 to the first byte, before any split: the range
	 * gets its anon_vma now (a write fault, contents unchanged even with
	 * a writer racing), and every piece mprotect splits off inherits it.
	 * Without it, pages of a never-written range first written while
	 * tracked each got an anon_vma of their own, and the fallback's
	 * mprotect could not merge those VMAs back (test_dirty fallback). */
	__atomic_fetch_add((uint8_t *)base, 0, __ATOMIC_RELAXED);
	/* live before read-only: every fault must find the range */
	atomic_store(&r->state, SLOT_LIVE);
	r->protect_err = 0;
	r->rearm_due = r->rearming = 0;
	r->protecting = background && pages * DIRTY_PAGE > PROTECT_STEP &&
			!protect_spawn(r, protect_main);
	if (r->protecting || !mprotect(base, pages * DIRTY_PAGE, PROT_READ)) {
		*out = r;
		return 0;
	}
	err = -errno;
	atomic_store(&r->state, SLOT_SETUP);
	while (atomic_load(&r->inflight))
		sched_yield();
undo:
	free(r->bits);
	free(r->island);
	free(r->carry);
	r->bits = r->island = NULL;
	r->carry = NULL;
	atomic_store(&r->state, SLOT_FREE);
	return err;
}

int dirty_start(void *base, uint64_t pages, const void *key, struct dirty_range **out)
{
	return range_start(base, pages, key, 0, out);
}

int dirty_start_background(void *base, uint64_t pages, const void *key,
			   struct dirty_range **out)
{
	return range_start(base, pages, key, 1, out);
}

/* The first page from p on (below end) whose bit in words (bitmap words
 * from w0) is `set`; end if none. */
static uint64_t next_page(const uint64_t *words, uint64_t w0, uint64_t p, uint64_t end,
			  int set)
{
	while (p < end) {
		uint64_t w = words[p / 64 - w0];

		w = (set ? w : ~w) >> (p % 64);
		if (w) {
			p += (uint64_t)__builtin_ctzll(w);
			return p < end ? p : end;
		}
		p = (p / 64 + 1) * 64;
	}
	return end;
}

/* Isolated pages a fetch re-arms one mprotect each: each is its own VMA,
 * and the call that merges it back costs some 24 us (bench_dirty), 16-44
 * ms for the 1% of a 256 MiB target that an incremental checkpoint
 * re-arms in its pause.  With more runs than this in the words fetched,
 * one mprotect from the first set page to the last re-arms them all (the
 * clean pages between are read-only already; a page whose fault handler
 * is between making it writable and setting its bit faults again and is
 * reported next time): 2-5x faster for 656 pages spread over 256 MiB on
 * a loaded host (one call walks the span's page table, but merges the
 * VMAs once). */
#define PROTECT_SPAN_RUNS 8

/* The runs of set bits of words[0..n) (bitmap words from w0), and the
 * first and last set page (*lo = *hi = end if none). */
static unsigned count_runs(const uint64_t *words, uint64_t w0, unsigned n, uint64_t *lo,
			   uint64_t *hi)
{
	uint64_t end = (w0 + n) * 64, p = next_page(words, w0, w0 * 64, end, 1);
	unsigned runs = 0;

	*lo = *hi = p;
	while (p < end) {
		uint64_t q = next_page(words, w0, p, end, 0);

		runs++;
		*hi = q;
		p = next_page(words, w0, q, end, 1);
	}
	return runs;
}

/* mprotect every run of set bits of words[0..n) (bitmap words from w0),
 * or the span of them all at once if they are many. */
static int protect_runs(struct dirty_range *r, uint64_t w0, const uint64_t *words,
			unsigned n, int prot)
{
	uint64_t end = (w0 + n) * 64, p = next_page(words, w0, w0 * 64, end, 1);
	uint64_t lo, hi;

	if (prot == PROT_READ && count_runs(words, w0, n, &lo, &hi) > PROTECT_SPAN_RUNS)
		return mprotect((void *)(r->base + lo * DIRTY_PAGE),
				(hi - lo) * DIRTY_PAGE, prot)
			   ? -errno
			   : 0;
	while (p < end) {
		uint64_t q = next_page(words, w0, p, end, 0);

		if (mprotect((void *)(r->base + p * DIRTY_PAGE), (q - p) * DIRTY_PAGE,
			     prot))
			return -errno;
		p = next_page(words, w0, q, end, 1);
	}
	return 0;
}

/*
 * Take the bits, then protect what was taken.  A write between the two
 * lands in a page reported now (the caller copies it after the fetch);
 * from the protect on, every write faults again.  The handler makes a
 * page writable before it sets its bit, so a page with its bit clear is
 * never left writable, except a page taken by dirty_take whose re-arm is
 * still to come: that one is in carry and reported again.
 */
/* The bits of words [word, word + *n) into out (clamped), with the pages
 * carried from a dirty_take, counted; the bits taken (cleared) if take,
 * else only read. */
static int bits_read(struct dirty_range *r, uint64_t word, unsigned *n, uint64_t *out,
		     uint64_t *ndirty, int take)
{
	uint64_t count = 0;
	unsigned k;

	if (!*n || word >= r->words)
		return -EINVAL;
	/* a peek need not wait for a re-arm: the pages it re-arms are in
	 * carry, reported with the bits whether re-armed yet or not (a
	 * migration's freeze peeks right after a round's re-arm began) */
	if (take || !r->rearming)
		protect_join(r);
	k = r->words - word < *n ? (unsigned)(r->words - word) : *n;
	for (unsigned i = 0; i < k; i++) {
		out[i] = (take ? atomic_exchange(&r->bits[word + i], 0)
			       : atomic_load(&r->bits[word + i])) |
			 r->carry[word + i];
		count += (uint64_t)__builtin_popcountll(out[i]);
	}
	*n = k;
	*ndirty = count;
	return 0;
}

int dirty_fetch(struct dirty_range *r, uint64_t word, unsigned *n, uint64_t *out,
		uint64_t *ndirty)
{
	int err = bits_read(r, word, n, out, ndirty, 1);

	if (err)
		return err;
	if ((err = protect_runs(r, word, out, *n, PROT_READ))) {
		for (unsigned i = 0; i < *n; i++) /* still writable: still dirty */
			atomic_fetch_or(&r->bits[word + i], out[i]);
		return err;
	}
	for (unsigned i = 0; i < *n; i++) {
		uint64_t isl = atomic_fetch_and(&r->island[word + i], ~out[i]) & out[i];

		island_drop(r, (uint64_t)__builtin_popcountll(isl));
		r->carry[word + i] = 0; /* re-armed now */
	}
	return 0;
}

/* Host thread of dirty_take: re-arm the pages in carry, one protection
 * step at a time (each mprotect holds the mmap lock for writing: the
 * node's page faults wait at most one step). */
static void *rearm_main(void *p)
{
	struct dirty_range *r = p;
	const uint64_t step = PROTECT_STEP / DIRTY_PAGE / 64; /* words */

	for (uint64_t w = 0; w < r->words; w += step) {
		unsigned n = (unsigned)(r->words - w < step ? r->words - w : step);

		if ((r->protect_err = protect_runs(r, w, r->carry + w, n, PROT_READ)))
			break;
		for (unsigned i = 0; i < n; i++) {
			uint64_t c = r->carry[w + i];
			uint64_t isl = atomic_fetch_and(&r->island[w + i], ~c) & c;

			island_drop(r, (uint64_t)__builtin_popcountll(isl));
		}
	}
	return NULL;
}

int dirty_take(struct dirty_range *r, uint64_t word, unsigned *n, uint64_t *out,
	       uint64_t *ndirty)
{
	int err = bits_read(r, word, n, out, ndirty, 1);

	if (err)
		return err;
	for (unsigned i = 0; i < *n; i++)
		r->carry[word + i] = out[i];
	r->rearm_due = 1;
	return 0;
}

int dirty_rearm(struct dirty_range *r)
{
	protect_join(r);
	if (!r->rearm_due)
		return 0;
	r->rearm_due = 0;
	r->protect_err = 0;
	if (!protect_spawn(r, rearm_main)) {
		r->protecting = r->rearming = 1;
		return 0;
	}
	rearm_main(r); /* no thread: re-armed here */
	if (r->protect_err)
		range_fallback(r);
	r->protect_err = 0;
	return 0;
}

int dirty_peek(struct dirty_range *r, uint64_t word, unsigned *n, uint64_t *out,
	       uint64_t *ndirty)
{
	return bits_read(r, word, n, out, ndirty, 0);
}

/* The range's slot free again (its protector joined). */
static void range_free(struct dirty_range *r)
{
	atomic_store(&r->state, SLOT_DYING);
	while (atomic_load(&r->inflight))
		sched_yield();
	island_drop(r, atomic_load(&r->islands));
	free(r->bits);
	free(r->island);
	free(r->carry);
	r->bits = r->island = NULL;
	r->carry = NULL;
	r->key = NULL;
	atomic_store(&r->state, SLOT_FREE);
}

int dirty_stop(struct dirty_range *r)
{
	protect_join(r);
	if (mprotect((void *)r->base, r->pages * DIRTY_PAGE, PROT_READ | PROT_WRITE))
		return -errno;
	range_free(r);
	return 0;
}

int dirty_stop_unmapping(struct dirty_range *r)
{
	protect_join(r);
	range_free(r);
	return 0;
}

uint64_t dirty_pages(const struct dirty_range *r)
{
	return r->pages;
}

uint64_t dirty_fallbacks(const struct dirty_range *r)
{
	return atomic_load(&r->fallbacks);
}

uint64_t dirty_islands(void)
{
	return atomic_load(&islands_total);
}
