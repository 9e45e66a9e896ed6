/*
 * Streamed memory (IMAGE_READ_STREAM): the reader checks each memory
 * chunk and notes where its data lies in the file instead of
 * decompressing it; image_memory_fill later decompresses a dataspace's
 * chunks straight into their destination (a restore: the new dataspace,
 * mapped in the monitor).  Reading an image then costs memory in
 * proportion to the file, and a restore the target's pages with data plus
 * one chunk of scratch, with no intermediate copy of the memory.  The
 * file's pages are dropped from the mapping once their chunk is written.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "image/internal.h"

#define STREAM_PAGE 4096ULL

int image_stream_note(struct image_reader *r, struct image_memory *e,
		      const struct image_mem_chunk *c, const uint8_t *data)
{
	if (!c->nonzero)
		return 0; /* only zero pages: nothing to write */
	if (!(c->flags & (IMAGE_MEM_RAW | IMAGE_MEM_XOR))) {
		/* a frame must say what it holds: a restore decompresses it
		 * into exactly raw_len bytes of the destination */
		unsigned long long n = ZSTD_getFrameContentSize(data, c->data_len);
		size_t f = ZSTD_findFrameCompressedSize(data, c->data_len);
		if (n != c->raw_len || ZSTD_isError(f) || f != c->data_len)
			return image_reader_fail(
			    r,
			    "dataspace %llu page %llu: field data_len: not one zstd "
			    "frame of raw_len %u bytes",
			    (unsigned long long)c->ds_id,
			    (unsigned long long)c->first_page, c->raw_len);
	}
	if (e->nchunks == e->chunk_cap) {
		uint32_t cap = e->chunk_cap ? 2 * e->chunk_cap : 16;
		struct image_chunk_ref *p = realloc(e->chunk, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		e->chunk = p;
		e->chunk_cap = cap;
	}
	e->chunk[e->nchunks++] =
	    (struct image_chunk_ref){.first_page = c->first_page,
				     .nonzero = c->nonzero,
				     .data_off = (uint64_t)(data - r->base),
				     .sec_off = r->sec_off,
				     .sec_index = r->sec_index,
				     .npages = c->npages,
				     .flags = c->flags,
				     .data_len = c->data_len,
				     .raw_len = c->raw_len};
	return 0;
}

void image_stream_free(struct image_model *m)
{
	if (!m->stream)
		return;
	if (m->stream->base && m->stream->size)
		munmap((void *)m->stream->base, m->stream->size);
	free(m->stream);
	m->stream = NULL;
}

static int fill_fail(const struct image_stream *s, const struct image_chunk_ref *k,
		     uint64_t ds, char *err, size_t errlen, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (err && errlen)
		snprintf(err, errlen,
			 "image %s: section %u (memory) at offset %llu: dataspace %llu "
			 "page %llu: %s",
			 s->name, k->sec_index, (unsigned long long)k->sec_off,
			 (unsigned long long)ds, (unsigned long long)k->first_page, msg);
	return -EINVAL;
}

static int one_run(uint64_t bits)
{
	int s = __builtin_ctzll(bits);
	uint64_t run = bits >> s;

	return (run & (run + 1)) == 0 ? s : -1;
}

/* The file's pages that hold only [off, off + len): no longer needed
 * (a private, unwritten file mapping reads them again if need be). */
static void drop_file(const struct image_stream *s, uint64_t off, uint64_t len)
{
	uintptr_t lo = ((uintptr_t)s->base + off) & ~(uintptr_t)(STREAM_PAGE - 1);
	uintptr_t hi = ((uintptr_t)s->base + off + len + STREAM_PAGE - 1) &
		       ~(uintptr_t)(STREAM_PAGE - 1);

	madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* One chunk into the dataspace at dst. */
static int fill_chunk(const struct image_stream *s, const struct image_chunk_ref *k,
		      uint64_t ds, uint8_t *dst, uint8_t **scratch, ZSTD_DCtx *dctx,
		      int populated, char *err, size_t errlen)
{
	const uint8_t *src = s->base + k->data_off;
	uint8_t *base = dst + k->first_page * STREAM_PAGE, *to;
	int run = one_run(k->nonzero);

	if (run >= 0) {
		to = base + (size_t)run * STREAM_PAGE;
#ifdef MADV_POPULATE_WRITE
		if (!populated) /* fewer faults */
			madvise(to, k->raw_len, MADV_POPULATE_WRITE);
#endif
	} else if (!*scratch &&
		   !(*scratch = malloc((size_t)IMAGE_CHUNK_PAGES * IMAGE_PAGE_SIZE))) {
		return -ENOMEM;
	} else {
		to = *scratch;
	}
	if (k->flags & IMAGE_MEM_RAW) {
		memcpy(to, src, k->raw_len);
	} else {
		size_t n = ZSTD_decompressDCtx(dctx, to, k->raw_len, src, k->data_len);
		if (ZSTD_isError(n) || n != k->raw_len)
			return fill_fail(s, k, ds, err, errlen, "zstd: %s",
					 ZSTD_isError(n) ? ZSTD_getErrorName(n)
							 : "short data");
	}
	if (run < 0)
		for (uint32_t i = 0; i < k->npages; i++)
			if ((k->nonzero >> i) & 1) {
				memcpy(base + (size_t)i * STREAM_PAGE, to, STREAM_PAGE);
				to += STREAM_PAGE;
			}
	return 0;
}

#define FILL_HUGE (2ULL << 20)
#define DROP_STEP (8ULL << 20)

/* A dataspace nearly all with data (a migration's first round, a
 * restore of a full image of a target that touched its memory): asked
 * for huge pages and populated a huge page at a time before it is
 * written, a fault per 2 MiB instead of one per 4 KiB page (this page's
 * faults were most of a 256 MiB fill's time).  1 if so, 0 if the
 * chunks' own populate is left to do it. */
static int fill_prepare(const struct image_memory *e, uint8_t *dst, uint64_t size)
{
	uint64_t with_data = 0;

	for (uint32_t i = 0; i < e->nchunks; i++)
		with_data += e->chunk[i].raw_len;
	/* nearly all of it: a populate also gives memory to the pages an
	 * image leaves zero (restore_memory.sh: half of them) */
	if (size < FILL_HUGE || 8 * with_data < 7 * size || (uintptr_t)dst % FILL_HUGE)
		return 0;
	madvise(dst, size, MADV_HUGEPAGE); /* best effort */
#ifdef MADV_POPULATE_WRITE
	/* a huge page per call: the mmap lock is not held for all of it */
	for (uint64_t at = 0; at < size; at += FILL_HUGE)
		if (madvise(dst + at, size - at < FILL_HUGE ? size - at : FILL_HUGE,
			    MADV_POPULATE_WRITE))
			return 0;
	return 1;
#else
	return 0;
#endif
}

int image_memory_fill(const struct image_model *m, uint64_t ds_id, void *dst,
		      uint64_t size, uint64_t *written, char *err, size_t errlen)
{
	const struct image_memory *e = NULL;
	uint8_t *scratch = NULL;
	uint64_t drop_from = UINT64_MAX;
	ZSTD_DCtx *dctx;
	int rc = 0, populated;

	*written = 0;
	for (uint32_t i = 0; i < m->nmemory && !e; i++)
		if (m->memory[i].ds_id == ds_id)
			e = &m->memory[i];
	if (!m->stream || !e || e->size != size) {
		if (err && errlen)
			snprintf(err, errlen,
				 "image: no streamed memory of dataspace %llu (%llu "
				 "bytes)",
				 (unsigned long long)ds_id, (unsigned long long)size);
		return -EINVAL;
	}
	if (e->xor) { /* differences: only onto their parent's pages */
		if (err && errlen)
			snprintf(err, errlen,
				 "image %s: dataspace %llu: page differences, not pages: "
				 "restored with its chain",
				 m->stream->name, (unsigned long long)ds_id);
		return -EINVAL;
	}
	if (!(dctx = ZSTD_createDCtx()))
		return -ENOMEM;
	populated = fill_prepare(e, dst, size);
	for (uint32_t i = 0; i < e->nchunks && !rc; i++) {
		const struct image_chunk_ref *k = &e->chunk[i];

		rc = fill_chunk(m->stream, k, ds_id, dst, &scratch, dctx, populated, err,
				errlen);
		*written += rc ? 0 : k->raw_len;
		if (!rc && m->progress)
			m->progress(m->progress_arg, k->raw_len);
		/* the file's pages written from: dropped some MiB at a time,
		 * not a madvise call per chunk */
		if (k->data_off < drop_from)
			drop_from = k->data_off;
		if (k->data_off + k->data_len - drop_from >= DROP_STEP ||
		    i + 1 == e->nchunks) {
			drop_file(m->stream, drop_from,
				  k->data_off + k->data_len - drop_from);
			drop_from = UINT64_MAX;
		}
	}
	ZSTD_freeDCtx(dctx);
	free(scratch);
	return rc;
}
