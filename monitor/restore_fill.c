/*
 * Writing a checkpointed region into a fresh dataspace (restore_memory.c's
 * rs_fill_memory), in 2 MiB chunks.  The dataspace is new, so it reads as
 * zeros: a chunk that is all zeros in the checkpoint is neither faulted
 * in nor written (the target faults it when it touches it, as a freshly
 * started component would).  Each other chunk is populated with one
 * madvise, as a huge page where the kernel gives one (on this host one
 * 4 KiB fault costs about 1.4 us, 65536 of them for 256 MiB), and copied
 * right after, while the freshly zeroed chunk is still in the cache: the
 * destination is walked once instead of twice (bench_cr: populate 11 ms +
 * copy 13.6 ms as two passes, 20.4 ms chunk by chunk, 256 MiB).
 * Skipping single zero pages inside a dense chunk did not pay: finding
 * them reads as much as copying writes.  A sparse chunk (fewer than half
 * of its pages hold data) is different: populating it, or advising it
 * into a huge page, would make every page cost memory (a 72 KB image of
 * a 1 GiB dataspace with one page every 2 MiB grew a node by 1 GB), so
 * only its pages with data are written, and memory follows the bytes
 * present.
 *
 * restore_fill_move is the same for a source the caller gives up (a
 * same-node restore's checkpoint copy, freed right after): the dense
 * chunks' pages are not copied but moved into the destination
 * (mremap(MREMAP_DONTUNMAP); the source reads as zeros afterwards).  The
 * destination then costs no first touch at all: on this project's test
 * machines (guests of a hypervisor that takes back free memory) the
 * first touch of fresh memory, not the copy, was most of a restore
 * (256 MiB: populate and copy 1.2-3.7 s under load, against 30-50 ms
 * for memcpy between touched buffers; moving the touched pages 11-15 ms).
 * A dataspace attached in the monitor is the dataspace's own host memory
 * (core maps the same memory into every task that attaches it), so what
 * is moved there is what the target sees.
 */
#define _GNU_SOURCE /* mremap */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "monitor/restore.h"

#define FILL_PAGE  4096ULL
#define FILL_CHUNK (2ULL << 20) /* a huge page */
/* the most one move takes at once: mremap holds the process's mmap lock
 * for writing meanwhile (it runs on the host worker, beside the node's
 * thread) */
#define FILL_RUN_MAX (32ULL << 20)

/* Is the page at w (FILL_PAGE bytes, 8-byte aligned) all zeros?  A
 * page with data usually shows it in its first word; the full check is
 * a branch-free reduction the compiler can vectorise. */
static int page_zero(const uint64_t *w)
{
	uint64_t acc = 0;

	if (w[0])
		return 0;
	for (unsigned i = 0; i < FILL_PAGE / 8; i++)
		acc |= w[i];
	return !acc;
}

/* Is [p, p + n) all zeros (n <= FILL_PAGE, any alignment)? */
static int bytes_zero(const uint8_t *p, uint64_t n)
{
	if (n == FILL_PAGE && !((uintptr_t)p % 8))
		return page_zero((const uint64_t *)p);
	for (uint64_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* Populate [p, p + n) for writing; best effort (memcpy faults the rest). */
static void populate(uint8_t *p, uint64_t n)
{
#ifdef MADV_POPULATE_WRITE
	uintptr_t lo = (uintptr_t)p & ~(uintptr_t)(FILL_PAGE - 1);
	uintptr_t hi = ((uintptr_t)p + n + FILL_PAGE - 1) & ~(uintptr_t)(FILL_PAGE - 1);

	madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE);
#else
	(void)p;
	(void)n;
#endif
}

static uint64_t page_len(uint64_t off, uint64_t n)
{
	return n - off < FILL_PAGE ? n - off : FILL_PAGE;
}

/* Only the pages of [0, n) that hold data.  Bytes written. */
static uint64_t fill_sparse(uint8_t *dst, const uint8_t *src, uint64_t n, uint64_t off)
{
	uint64_t copied = 0;

	for (; off < n; off += FILL_PAGE)
		if (!bytes_zero(src + off, page_len(off, n))) {
			memcpy(dst + off, src + off, page_len(off, n));
			copied += page_len(off, n);
		}
	return copied;
}

/* How a chunk is written: not at all (zeros), page by page (sparse),
 * or whole from its first page with data on (dense). */
enum chunk_kind { CHUNK_ZERO, CHUNK_SPARSE, CHUNK_DENSE };

/* The kind of chunk [0, n) of src; *first: its first page with data. */
static enum chunk_kind chunk_kind(const uint8_t *src, uint64_t n, uint64_t *first)
{
	uint64_t off, pages = (n + FILL_PAGE - 1) / FILL_PAGE, full = 0;

	*first = n;
	/* count pages with data until the chunk is known to be dense */
	for (off = 0; off < n && 2 * full < pages; off += FILL_PAGE)
		if (!bytes_zero(src + off, page_len(off, n))) {
			*first = *first < off ? *first : off;
			full++;
		}
	return !full ? CHUNK_ZERO : 2 * full < pages ? CHUNK_SPARSE : CHUNK_DENSE;
}

/* One chunk [0, n) (huge: a whole huge page of the destination):
 * nothing if it is all zeros; sparse, page by page; else populated (as
 * a huge page) and copied from its first non-zero page on.  Bytes
 * written. */
static uint64_t fill_chunk(uint8_t *dst, const uint8_t *src, uint64_t n, int huge)
{
	uint64_t first;

	switch (chunk_kind(src, n, &first)) {
	case CHUNK_ZERO:
		return 0;
	case CHUNK_SPARSE:
		return fill_sparse(dst, src, n, first);
	case CHUNK_DENSE:
		break;
	}
	if (huge) /* best effort: fewer, larger faults */
		madvise(dst, n, MADV_HUGEPAGE);
	populate(dst + first, n - first);
	memcpy(dst + first, src + first, n - first);
	return n - first;
}

/* The chunks of [0, size) (each ends on a huge-page boundary of dst):
 * *n bytes at off. */
static uint64_t chunk_len(uintptr_t d, uint64_t off, uint64_t size)
{
	uint64_t n = FILL_CHUNK - ((d + off) & (uintptr_t)(FILL_CHUNK - 1));

	return n < size - off ? n : size - off;
}

uint64_t restore_fill(void *dst, const void *src, uint64_t size)
{
	uint64_t copied = 0, n;

	for (uint64_t off = 0; off < size; off += n) {
		n = chunk_len((uintptr_t)dst, off, size);
		copied += fill_chunk((uint8_t *)dst + off, (const uint8_t *)src + off, n,
				     n == FILL_CHUNK);
	}
	return copied;
}

/* Move the pages of [src, src + n) to [dst, dst + n) (page-aligned, dst
 * fresh); src reads as zeros afterwards.  If the kernel refuses, dst is
 * mapped afresh (a refused MREMAP_FIXED may have unmapped it) and copied
 * into.  0, or -errno if dst cannot be mapped again. */
static int move_run(uint8_t *dst, uint8_t *src, uint64_t n)
{
#ifdef MREMAP_DONTUNMAP
	if (mremap(src, n, n, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, dst) ==
	    dst)
		return 0;
#endif
	if (mmap(dst, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		 -1, 0) != dst)
		return -ENOMEM;
	restore_fill(dst, src, n);
	return 0;
}

int restore_fill_move(void *dst, void *src, uint64_t size, uint64_t *written)
{
	uint8_t *d = dst, *s = src;
	uint64_t run = 0, at = 0, n, first;
	int rc = 0;

	*written = 0;
	if (((uintptr_t)d | (uintptr_t)s) % FILL_PAGE) {
		*written = restore_fill(dst, src, size);
		return 0;
	}
	/* runs of dense whole-page chunks go in one move each */
	for (uint64_t off = 0; off < size && !rc; off += n) {
		n = chunk_len((uintptr_t)d, off, size);
		if (n % FILL_PAGE == 0 && chunk_kind(s + off, n, &first) == CHUNK_DENSE) {
			if (run + n > FILL_RUN_MAX &&
			    !(rc = move_run(d + at, s + at, run))) {
				*written += run;
				run = 0;
			}
			at = run ? at : off;
			run += n;
			continue;
		}
		if (run && !(rc = move_run(d + at, s + at, run)))
			*written += run;
		run = 0;
		*written += fill_chunk(d + off, s + off, n, n == FILL_CHUNK);
	}
	if (run && !rc && !(rc = move_run(d + at, s + at, run)))
		*written += run;
	return rc;
}
