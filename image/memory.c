/*
 * The memory subsystem: dataspace contents, one section per chunk of
 * IMAGE_CHUNK_PAGES pages (so a section stays small and a writer streams),
 * zero pages elided through the chunk's `nonzero` bitmap, the rest zstd-
 * compressed (stored raw when that does not shrink them); with a parent,
 * only the pages written since, a page the parent carried as its
 * differences to it.  This file writes; memory_read.c reads.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "image/memory_chunk.h"
#include "image/memory_plan.h"

/* chunks stored raw without trying zstd after one that did not shrink:
 * 7, then 15 and 31 (8 MiB) after each further try that did not, 7
 * again after one that did (each try of 256 MiB of noise was some 11 ms
 * of a first round's writer at 7) */
#define IMAGE_LIVE_RAW_SKIP	7
#define IMAGE_LIVE_RAW_SKIP_MAX 31

static bool page_zero(const uint8_t *p)
{
	const uint64_t *q = (const uint64_t *)p;
	uint64_t acc = 0;
	for (unsigned i = 0; i < IMAGE_PAGE_SIZE / 8; i += 8) {
		acc |= q[i] | q[i + 1] | q[i + 2] | q[i + 3] | q[i + 4] | q[i + 5] |
		       q[i + 6] | q[i + 7];
		if (acc)
			return false;
	}
	return true;
}

/* put_chunk of live memory stored raw (a first round's memory that zstd
 * did not shrink, between its tries): each page copied once, straight
 * into the section, where it is looked at (zero or not) as put_chunk
 * looks at its copy; a zero page's copy is overwritten by the next page.
 * put_chunk's copy into the snapshot and then into the section were
 * some 40 ms of a 256 MiB round's writer, of 140. */
static int put_raw_live(struct image_writer *w, const struct image_memory *e,
			uint64_t first, uint32_t np, uint64_t present, uint64_t carry,
			const uint8_t *run)
{
	struct image_mem_chunk c = {
	    .ds_id = e->ds_id, .first_page = first, .present = carry, .npages = np};
	size_t at, len = 0, room = (size_t)np * IMAGE_PAGE_SIZE;
	unsigned n = (unsigned)__builtin_popcountll(carry);
	uint8_t *dst;
	int rc = image_writer_begin(w, IMAGE_SEC_memory);

	if (rc < 0)
		return rc;
	at = w->len;
	if (!image_writer_reserve(w, sizeof(c) + room))
		return -ENOMEM;
	dst = w->buf + at + sizeof(c);
	for (uint32_t i = 0; i < np; i++) {
		if (!((carry >> i) & 1))
			continue;
		memcpy(dst + len, chunk_page(e, first, i, run, present), IMAGE_PAGE_SIZE);
		/* any alignment (the section's header is before it): a
		 * zero page is one whose bytes all equal the next one's */
		if (dst[len] || memcmp(dst + len, dst + len + 1, IMAGE_PAGE_SIZE - 1)) {
			c.nonzero |= 1ull << i;
			len += IMAGE_PAGE_SIZE;
		}
	}
	image_writer_unreserve(w, room - len);
	c.raw_len = c.data_len = (uint32_t)len;
	if (len) {
		c.flags = IMAGE_MEM_RAW;
		if (w->raw_skip > 0)
			w->raw_skip--;
	}
	w->stats.pages_written += n;
	w->stats.zero_pages += n - (unsigned)__builtin_popcountll(c.nonzero);
	w->stats.bytes_raw += len;
	w->stats.bytes_compressed += len;
	memcpy(w->buf + at, &c, sizeof(c));
	return image_writer_end(w);
}

/* One section of the chunk at first: the pages of `carry` (a subset of
 * the chunk's `present`, which places them in e->packed). */
static int put_chunk(struct image_writer *w, const struct image_memory *e, uint64_t first,
		     uint32_t np, uint64_t present, uint64_t carry, const uint8_t *run)
{
	struct image_mem_chunk c = {
	    .ds_id = e->ds_id, .first_page = first, .present = carry, .npages = np};
	const uint8_t *pg[IMAGE_CHUNK_PAGES];

	if (w->live && (w->raw || w->raw_skip > 0))
		return put_raw_live(w, e, first, np, present, carry, run);
	for (uint32_t i = 0; i < np; i++) {
		if (!((carry >> i) & 1))
			continue;
		pg[i] = chunk_page(e, first, i, run, present);
		if (w->live) { /* memory that may change: one copy of it */
			memcpy(w->snap + (size_t)i * IMAGE_PAGE_SIZE, pg[i],
			       IMAGE_PAGE_SIZE);
			pg[i] = w->snap + (size_t)i * IMAGE_PAGE_SIZE;
		}
		if (!page_zero(pg[i]))
			c.nonzero |= 1ull << i;
	}
	unsigned nz = (unsigned)__builtin_popcountll(c.nonzero);
	c.raw_len = nz * IMAGE_PAGE_SIZE;
	w->stats.pages_written += (unsigned)__builtin_popcountll(carry);
	w->stats.zero_pages += (unsigned)__builtin_popcountll(carry) - nz;
	w->stats.bytes_raw += c.raw_len;

	/* one run of pages: consecutive in data and in packed alike */
	const uint8_t *src = NULL;
	int one = one_run(c.nonzero);
	if (one >= 0) {
		src = pg[one];
	} else if (c.nonzero) {
		uint8_t *d = w->scratch;
		for (uint32_t i = 0; i < np; i++)
			if ((c.nonzero >> i) & 1) {
				memcpy(d, pg[i], IMAGE_PAGE_SIZE);
				d += IMAGE_PAGE_SIZE;
			}
		src = w->scratch;
	}
	int rc = image_writer_begin(w, IMAGE_SEC_memory);
	if (rc < 0)
		return rc;
	size_t at = w->len;
	size_t bound = c.raw_len ? ZSTD_compressBound(c.raw_len) : 0;
	if (!image_writer_reserve(w, sizeof(c) + bound))
		return -ENOMEM;
	uint8_t *dst = w->buf + at + sizeof(c);
	if (c.raw_len) {
		int raw = w->raw || w->raw_skip > 0;
		size_t n = raw ? c.raw_len
			       : ZSTD_compressCCtx(w->cctx, dst, bound, src, c.raw_len,
						   IMAGE_ZSTD_LEVEL);
		if (w->raw_skip > 0)
			w->raw_skip--;
		if (ZSTD_isError(n) || n >= c.raw_len) {
			/* live (a migration's first round): memory that did
			 * not shrink is not offered to zstd again for the
			 * next chunks, whose time goes into the round */
			if (!raw && w->live) { /* 7, 15, 31, 31 ... chunks */
				int skip =
				    ((IMAGE_LIVE_RAW_SKIP + 1) << w->raw_fails) - 1;
				w->raw_skip = skip < IMAGE_LIVE_RAW_SKIP_MAX
						  ? skip
						  : IMAGE_LIVE_RAW_SKIP_MAX;
				w->raw_fails += w->raw_fails < 4;
			}
			memcpy(dst, src, c.raw_len);
			n = c.raw_len;
			c.flags = IMAGE_MEM_RAW;
		} else if (!raw) {
			w->raw_fails = 0;
		}
		c.data_len = (uint32_t)n;
		image_writer_unreserve(w, bound - n);
	}
	w->stats.bytes_compressed += c.data_len;
	memcpy(w->buf + at, &c, sizeof(c));
	return image_writer_end(w);
}

/* The pages of `carry` of the chunk at first as their differences to
 * base[i] (IMAGE_MEM_XOR, image/xor_runs.c): a page without a
 * difference has no bytes.  With w->plan, the first is the plan's page
 * at, and the pages a little further on in it are read ahead. */
static int put_xor_chunk(struct image_writer *w, const struct image_memory *e,
			 uint64_t first, uint32_t np, uint64_t present, uint64_t carry,
			 const uint8_t *run, const uint8_t *const *base, uint32_t at)
{
	struct image_mem_chunk c = {.ds_id = e->ds_id,
				    .first_page = first,
				    .present = carry,
				    .npages = np,
				    .flags = IMAGE_MEM_XOR};
	unsigned n = (unsigned)__builtin_popcountll(carry);
	int rc = image_writer_begin(w, IMAGE_SEC_memory);

	if (rc < 0)
		return rc;
	size_t to = w->len, bound = image_xor_bound(n), len = 0;
	if (!image_writer_reserve(w, sizeof(c) + bound))
		return -ENOMEM;
	for (uint64_t left = carry; left; left &= left - 1, at++) {
		uint32_t i = (uint32_t)__builtin_ctzll(left);
		size_t k;
		if (w->plan)
			image_mem_plan_ahead(w->plan, at + image_mem_plan_distance());
		k = image_xor_put(w->buf + to + sizeof(c) + len,
				  chunk_page(e, first, i, run, present), base[i]);
		c.nonzero |= (uint64_t) !!k << i;
		len += k;
	}
	c.raw_len = (uint32_t)__builtin_popcountll(c.nonzero) * IMAGE_PAGE_SIZE;
	c.data_len = (uint32_t)len;
	image_writer_unreserve(w, bound - len);
	w->stats.pages_written += n;
	w->stats.zero_pages += n - (unsigned)__builtin_popcountll(c.nonzero);
	w->stats.bytes_raw += c.raw_len;
	w->stats.bytes_compressed += c.data_len;
	memcpy(w->buf + to, &c, sizeof(c));
	return image_writer_end(w);
}

/* The pages of the chunk at first whose base delta_base knows. */
static uint64_t based_bits(const struct image_model *m, const struct image_memory *e,
			   uint64_t first, uint32_t np, uint64_t present,
			   const uint8_t **base)
{
	uint64_t based = 0;

	for (uint64_t left = m->delta_base ? present : 0; left; left &= left - 1) {
		uint32_t i = (uint32_t)__builtin_ctzll(left);
		if ((base[i] = m->delta_base(m->delta_arg, e->ds_id, first + i)))
			based |= 1ull << i;
	}
	return based;
}

/* The chunk at first of memory k: the pages whose base the model's
 * delta_base knows (the plan's, if the writer made one) as their
 * differences, in a section of their own, the others whole. */
static int put_pages(struct image_writer *w, const struct image_model *m, uint32_t k,
		     uint64_t first, uint32_t np, uint64_t present, const uint8_t *run)
{
	const struct image_memory *e = &m->memory[k];
	const uint8_t *base[IMAGE_CHUNK_PAGES];
	uint32_t at = 0;
	uint64_t based = w->plan ? image_mem_plan_take(w->plan, k, first, np, base, &at)
				 : based_bits(m, e, first, np, present, base);
	int rc;

	w->stats.pages_scanned += np;
	if (present & ~based &&
	    (rc = put_chunk(w, e, first, np, present, present & ~based, run)) < 0)
		return rc;
	return based ? put_xor_chunk(w, e, first, np, present, based, run, base, at) : 0;
}

int image_memory_checkpoint(struct image_writer *w, const struct image_model *m)
{
	/* a state image (a post-copy freeze's): no compression context or
	 * scratch (their making and freeing were a quarter of the CPU time
	 * of such a 10 KB image's write, in a migration's pause) */
	if (!m->nmemory)
		return 0;
	if (!w->cctx && !(w->cctx = ZSTD_createCCtx()))
		return image_writer_fail(w, -ENOMEM, "image write: out of memory");
	if (!w->scratch && !(w->scratch = malloc(CHUNK_BYTES)))
		return image_writer_fail(w, -ENOMEM, "image write: out of memory");
	if (w->live && !w->snap && !(w->snap = malloc(CHUNK_BYTES)))
		return image_writer_fail(w, -ENOMEM, "image write: out of memory");
	if (m->delta_base && !(m->flags & IMAGE_F_INCREMENTAL))
		return image_writer_fail(w, -EINVAL,
					 "image write: page differences in a full image");
	for (uint32_t k = 0; k < m->nmemory; k++) {
		const struct image_memory *e = &m->memory[k];
		const uint8_t *run = e->packed; /* e->packed: this chunk's pages */
		for (uint64_t first = 0; first < e->size / IMAGE_PAGE_SIZE;
		     first += IMAGE_CHUNK_PAGES) {
			uint32_t np = chunk_pages(e->size, first);
			uint64_t present = present_bits(e, first, np);
			if (m->progress)
				m->progress(m->progress_arg, np * IMAGE_PAGE_SIZE);
			if (!present) {
				w->stats.pages_scanned += np;
				continue;
			}
			int rc = put_pages(w, m, k, first, np, present, run);
			if (rc < 0)
				return rc;
			if (run)
				run += (size_t)__builtin_popcountll(present) *
				       IMAGE_PAGE_SIZE;
		}
	}
	return 0;
}

/* A chunk whose pages are partly differences is two sections. */
uint64_t image_memory_sections(const struct image_model *m)
{
	const uint8_t *base[IMAGE_CHUNK_PAGES];
	uint64_t n = 0;

	for (uint32_t k = 0; k < m->nmemory; k++) {
		const struct image_memory *e = &m->memory[k];
		for (uint64_t f = 0; f < e->size / IMAGE_PAGE_SIZE;
		     f += IMAGE_CHUNK_PAGES) {
			uint32_t np = chunk_pages(e->size, f);
			uint64_t present = present_bits(e, f, np),
				 based = based_bits(m, e, f, np, present, base);
			n += (present & ~based) != 0;
			n += based != 0;
		}
	}
	return n;
}
