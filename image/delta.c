/*
 * An incremental image applied to memory that holds its parent chain's
 * pages (a migration's destination builds the target while the rounds
 * arrive, monitor/restore_prebuild.c): every page the image carries is
 * written, a zero page as zeros, a page carried as its difference to the
 * parent's (IMAGE_MEM_XOR) XORed onto it, and every other page is left
 * as it is.
 * Applied in order from the full image on, the memory is what
 * image_read_chain's merge gives (each page from the newest image that
 * carries it), which tests/unit/test_image_delta.c checks.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "image/internal.h"

static const struct image_memory *memory_of(const struct image_model *m, uint64_t ds_id)
{
	for (uint32_t k = 0; k < m->nmemory; k++)
		if (m->memory[k].ds_id == ds_id)
			return &m->memory[k];
	return NULL;
}

static int carried(const struct image_memory *e, uint64_t pg)
{
	return !e->present || ((e->present[pg / 8] >> (pg % 8)) & 1);
}

static int delta(const struct image_memory *e, uint64_t pg)
{
	return e->xor &&((e->xor [pg / 8] >> (pg % 8)) & 1);
}

/* A page's bytes onto to: the page, or its difference (IMAGE_MEM_XOR)
 * to the page to holds. */
static void put_page(uint8_t *to, const uint8_t *src, int xor)
{
	uint64_t *o = (uint64_t *)to;
	const uint64_t *d = (const uint64_t *)src;

	if (!xor) {
		memcpy(to, src, IMAGE_PAGE_SIZE);
		return;
	}
	for (unsigned i = 0; i < IMAGE_PAGE_SIZE / 8; i++)
		o[i] ^= d[i];
}

/* The pages with data of each chunk of e, from the file into to: raw
 * ones copied, compressed ones through one chunk of scratch.  Unlike
 * image_memory_fill (a restore's whole dataspaces), no madvise per
 * chunk: a round's chunks are mostly single pages, and two system calls
 * for each made the stop's fill 30 times slower than the copy. */
/* One decompression context and chunk of scratch kept for the next
 * apply (one caller at a time takes it; another makes its own): a
 * post-copy skeleton applies one compressed page to each of the
 * target's dataspaces in the pause, and making both for each took 2.7
 * ms of it for the 70 of a 1 GiB bench_wset. */
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static ZSTD_DCtx *kept_dctx;
static uint8_t *kept_scratch;

static void take_kept(ZSTD_DCtx **dctx, uint8_t **scratch)
{
	pthread_mutex_lock(&kept_lock);
	*dctx = kept_dctx;
	*scratch = kept_scratch;
	kept_dctx = NULL;
	kept_scratch = NULL;
	pthread_mutex_unlock(&kept_lock);
}

static void keep(ZSTD_DCtx *dctx, uint8_t *scratch)
{
	pthread_mutex_lock(&kept_lock);
	if (!kept_dctx && dctx && scratch) {
		kept_dctx = dctx;
		kept_scratch = scratch;
		dctx = NULL;
		scratch = NULL;
	}
	pthread_mutex_unlock(&kept_lock);
	ZSTD_freeDCtx(dctx);
	free(scratch);
}

static int apply_chunks(const struct image_model *m, const struct image_memory *e,
			uint8_t *to, char *err, size_t errlen)
{
	/* taken at the first compressed chunk: a post-copy skeleton applies
	 * one or two raw pages to each of 16 dataspaces in the pause, and
	 * making both for each took 0.55 ms of it */
	uint8_t *scratch = NULL;
	ZSTD_DCtx *dctx = NULL;
	int rc = 0;

	for (uint32_t i = 0; i < e->nchunks && !rc; i++) {
		const struct image_chunk_ref *k = &e->chunk[i];
		const uint8_t *src = m->stream->base + k->data_off;
		uint8_t *base = to + k->first_page * IMAGE_PAGE_SIZE;

		if (k->flags & IMAGE_MEM_XOR) { /* checked by the reader */
			image_xor_apply(src, k->data_len, k->nonzero, k->npages, base);
			continue;
		}
		if (!(k->flags & IMAGE_MEM_RAW) && !dctx)
			take_kept(&dctx, &scratch);
		if (!(k->flags & IMAGE_MEM_RAW) && !dctx &&
		    (!(scratch = malloc((size_t)IMAGE_CHUNK_PAGES * IMAGE_PAGE_SIZE)) ||
		     !(dctx = ZSTD_createDCtx()))) {
			rc = -ENOMEM;
			break;
		}
		if (!(k->flags & IMAGE_MEM_RAW)) {
			size_t n = ZSTD_decompressDCtx(dctx, scratch, k->raw_len, src,
						       k->data_len);
			if (ZSTD_isError(n) || n != k->raw_len) {
				snprintf(err, errlen,
					 "image %s: dataspace %llu page %llu: zstd: %s",
					 m->stream->name, (unsigned long long)e->ds_id,
					 (unsigned long long)k->first_page,
					 ZSTD_isError(n) ? ZSTD_getErrorName(n)
							 : "short data");
				rc = -EINVAL;
				break;
			}
			src = scratch;
		}
		for (uint32_t p = 0; p < k->npages; p++)
			if ((k->nonzero >> p) & 1) {
				memcpy(base + (size_t)p * IMAGE_PAGE_SIZE, src,
				       IMAGE_PAGE_SIZE);
				src += IMAGE_PAGE_SIZE;
			}
	}
	keep(dctx, scratch);
	return rc;
}

/* A model read with IMAGE_READ_STREAM: the carried pages without data
 * (zero pages) are zeroed, then those with data written straight from
 * the file's chunks: no dataspace-sized copy of the image's memory is
 * made (reading a 2.7 MB round of a 256 MiB target into one took 55 ms
 * of a migration's stop), and no page is written twice (zeroing every
 * carried page first wrote a full round's 256 MiB twice). */
static int apply_streamed(const struct image_model *m, const struct image_memory *e,
			  uint8_t *to, uint64_t *pages, char *err, size_t errlen)
{
	uint64_t n = e->size / IMAGE_PAGE_SIZE;
	uint64_t *data = calloc((n + 63) / 64 + 1, sizeof *data);

	if (!data) {
		snprintf(err, errlen, "image: out of memory");
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < e->nchunks; i++) {
		const struct image_chunk_ref *k = &e->chunk[i];
		for (uint32_t p = 0; p < k->npages; p++)
			if ((k->nonzero >> p) & 1 && k->first_page + p < n)
				data[(k->first_page + p) / 64] |=
				    1ull << ((k->first_page + p) % 64);
	}
	for (uint64_t pg = 0; pg < n; pg++) {
		if (!e->present[pg / 8]) {
			pg |= 7; /* none of these 8 */
			continue;
		}
		if (carried(e, pg)) {
			/* a difference without bytes: the page is unchanged */
			if (!((data[pg / 64] >> (pg % 64)) & 1) && !delta(e, pg))
				memset(to + pg * IMAGE_PAGE_SIZE, 0, IMAGE_PAGE_SIZE);
			(*pages)++;
		}
	}
	free(data);
	return apply_chunks(m, e, to, err, errlen);
}

int image_memory_apply(const struct image_model *m, uint64_t ds_id, void *dst,
		       uint64_t size, uint64_t *pages, char *err, size_t errlen)
{
	const struct image_memory *e = memory_of(m, ds_id);
	uint8_t *to = dst;

	*pages = 0;
	if (!e)
		return 0; /* none of its pages were written since */
	if (e->size == size && !e->data && m->stream && e->present)
		return apply_streamed(m, e, to, pages, err, errlen);
	if (e->size != size || (!e->data && e->pages)) {
		snprintf(err, errlen,
			 "image: dataspace %llu: %llu bytes in the image, %llu here%s",
			 (unsigned long long)ds_id, (unsigned long long)e->size,
			 (unsigned long long)size,
			 e->data ? "" : " (its pages were not read)");
		return -EINVAL;
	}
	for (uint64_t pg = 0; e->data && pg < size / IMAGE_PAGE_SIZE; pg++)
		if (carried(e, pg)) {
			/* the reader's copy reads as zeros where a zero page was
			 * elided: written all the same, the page may hold data */
			put_page(to + pg * IMAGE_PAGE_SIZE,
				 e->data + pg * IMAGE_PAGE_SIZE, delta(e, pg));
			(*pages)++;
		}
	return 0;
}

int image_memory_whole(const struct image_model *m, uint64_t ds_id)
{
	const struct image_memory *e = memory_of(m, ds_id);

	if (!e || (!e->data && !(m->stream && e->present)) || e->delta_pages)
		return 0; /* differences need the pages before them */
	for (uint64_t pg = 0; pg < e->size / IMAGE_PAGE_SIZE; pg++)
		if (!carried(e, pg))
			return 0;
	return 1;
}
