/*
 * Reading the memory subsystem (written by memory.c): each chunk's
 * section checked, its pages written into the dataspace's memory (mapped
 * lazily: untouched pages cost nothing), each page accepted at most once,
 * zstd-compressed chunks decompressed into a bounded buffer; a chunk of
 * differences to the parent XORed onto what the chain restored so far.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "image/memory_chunk.h"

/* first memory section: the dataspaces it refers to must be valid now */
static int reader_setup(struct image_reader *r, struct image_model *m)
{
	uint32_t idx = r->sec_index, type = r->sec_type;
	uint64_t off = r->sec_off, dup;
	image_reader_at(r, IMAGE_SEC_dataspace);
	int rc = image_dataspace_check(r, m);
	r->sec_index = idx;
	r->sec_type = type;
	r->sec_off = off;
	if (rc < 0)
		return rc;
	rc = image_ids_build(&r->ds_ids, m->dataspaces, m->ndataspaces,
			     sizeof(*m->dataspaces), offsetof(struct image_dataspace, id),
			     &dup);
	if (rc < 0)
		return rc;
	/* streamed: nothing is decompressed here (a migration's final
	 * image: the context and 256 KiB of scratch were some tens of us
	 * of its restore in the stop) */
	if (!(r->flags & IMAGE_READ_STREAM) &&
	    (!(r->dctx = ZSTD_createDCtx()) || !(r->scratch = malloc(CHUNK_BYTES))))
		return -ENOMEM;
	r->ds_mem = malloc(((size_t)m->ndataspaces + 1) * sizeof(*r->ds_mem));
	m->memory = calloc((size_t)m->ndataspaces + 1, sizeof(*m->memory));
	if (!r->ds_mem || !m->memory)
		return -ENOMEM;
	for (uint32_t i = 0; i < m->ndataspaces; i++)
		r->ds_mem[i] = -1;
	return 0;
}

static int entry_for(struct image_reader *r, struct image_model *m, uint64_t ds_id,
		     struct image_memory **out)
{
	int64_t i = image_ids_find(&r->ds_ids, ds_id);
	if (i < 0)
		return image_reader_fail(r, "memory of dataspace %llu, not in image",
					 (unsigned long long)ds_id);
	const struct image_dataspace *d = &m->dataspaces[i];
	if (d->kind == IMAGE_DS_MANAGED || d->kind == IMAGE_DS_MEMBER)
		return image_reader_fail(r, "memory of %s dataspace %llu",
					 image_ds_kind_name(d->kind),
					 (unsigned long long)ds_id);
	if (r->ds_mem[i] < 0) {
		struct image_memory *e = &m->memory[m->nmemory];
		/* streamed: the bytes stay in the file (memory_stream.c) */
		void *p = r->flags & IMAGE_READ_STREAM ? NULL
			  : r->dest
			      ? r->dest(r->dest_arg, ds_id, d->size)
			      : mmap(NULL, d->size, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (r->dest && !p)
			return image_reader_fail(r, "no memory for dataspace %llu",
						 (unsigned long long)ds_id);
		if (p == MAP_FAILED)
			return image_reader_fail(
			    r, "cannot map %llu bytes for dataspace %llu",
			    (unsigned long long)d->size, (unsigned long long)ds_id);
		/* no huge-page advice: a page with data would cost 2 MiB, and a
		 * small image may describe a huge, sparse dataspace */
		e->present = calloc(d->size / IMAGE_PAGE_SIZE / 8 + 8, 1);
		if (!e->present) {
			if (p && !r->dest)
				munmap(p, d->size);
			return -ENOMEM;
		}
		e->ds_id = ds_id;
		e->size = d->size;
		e->data = p;
		e->borrowed = r->dest != NULL;
		r->ds_mem[i] = (int32_t)m->nmemory++;
	}
	*out = &m->memory[r->ds_mem[i]];
	return 0;
}

static int chunk_ok(struct image_reader *r, const struct image_model *m,
		    const struct image_memory *e, const struct image_mem_chunk *c,
		    const uint8_t *data, uint64_t len)
{
	unsigned long long ds = c->ds_id, pg = c->first_page;
	if (c->first_page % IMAGE_CHUNK_PAGES ||
	    c->first_page >= e->size / IMAGE_PAGE_SIZE ||
	    c->npages != chunk_pages(e->size, c->first_page))
		return image_reader_fail(
		    r, "dataspace %llu page %llu: bad chunk position", ds, pg);
	uint64_t mask = chunk_mask(c->npages);
	if (!c->present || (c->present & ~mask) || (c->nonzero & ~c->present))
		return image_reader_fail(r, "dataspace %llu page %llu: bad page bitmaps",
					 ds, pg);
	if (!(m->flags & (IMAGE_F_INCREMENTAL | IMAGE_F_PARTIAL)) && c->present != mask)
		return image_reader_fail(
		    r, "dataspace %llu page %llu: full image lacks pages", ds, pg);
	if (present_bits(e, c->first_page, c->npages) & c->present)
		return image_reader_fail(r, "dataspace %llu page %llu: pages given twice",
					 ds, pg);
	if (c->flags & ~(uint32_t)(IMAGE_MEM_RAW | IMAGE_MEM_XOR) ||
	    c->flags == (IMAGE_MEM_RAW | IMAGE_MEM_XOR))
		return image_reader_fail(r, "unknown memory flags 0x%x", c->flags);
	if ((c->flags & IMAGE_MEM_XOR) && !(m->flags & IMAGE_F_INCREMENTAL))
		return image_reader_fail(r,
					 "dataspace %llu page %llu: page differences in "
					 "an image without a parent",
					 ds, pg);
	if (c->raw_len != (uint64_t)__builtin_popcountll(c->nonzero) * IMAGE_PAGE_SIZE ||
	    c->data_len != len - sizeof(*c) || (!c->raw_len && c->data_len) ||
	    ((c->flags & IMAGE_MEM_RAW) && c->data_len != c->raw_len))
		return image_reader_fail(
		    r, "dataspace %llu page %llu: inconsistent lengths", ds, pg);
	if ((c->flags & IMAGE_MEM_XOR) &&
	    image_xor_apply(data, c->data_len, c->nonzero, c->npages, NULL))
		return image_reader_fail(
		    r, "dataspace %llu page %llu: page differences not as runs of words",
		    ds, pg);
	return 0;
}

/* The chunk's bits (a chunk begins at a multiple of 64 pages, its bit
 * at a byte) ORed into a page bitmap at once, as present_bits reads
 * them: bit by bit was most of the read of a migration's final image. */
static void or_bits(uint8_t *map, uint64_t first, uint64_t bits, uint32_t np)
{
	uint64_t v = 0;

	memcpy(&v, map + first / 8, (np + 7) / 8);
	v |= bits;
	memcpy(map + first / 8, &v, (np + 7) / 8);
}

/* The chunk's pages are differences (IMAGE_MEM_XOR): noted in e->xor. */
static int mark_xor(struct image_memory *e, const struct image_mem_chunk *c)
{
	if (!e->xor &&!(e->xor = calloc(e->size / IMAGE_PAGE_SIZE / 8 + 8, 1)))
		return -ENOMEM;
	or_bits(e->xor, c->first_page, c->present, c->npages);
	e->delta_pages += (unsigned)__builtin_popcountll(c->present);
	return 0;
}

#define POPULATE_BYTES (2ULL << 20)

/* The caller's memory (a migration's copy, written as its round 1
 * arrives): where a chunk with no zero page begins a block of 2 MiB,
 * the block is populated in one call, before the chunks write it page
 * by page (a fault per 4 KiB page cost more: 256 MiB copied into fresh
 * memory in 130-150 ms of CPU against 110-115 ms so, on the benchmark's
 * host).  A sparse block is left to its faults: populating it would
 * give memory to its zero pages. */
static void dest_populate(const struct image_memory *e, const struct image_mem_chunk *c,
			  uint8_t *base)
{
#ifdef MADV_POPULATE_WRITE
	uint64_t off = c->first_page * IMAGE_PAGE_SIZE, n = e->size - off;

	if (off % POPULATE_BYTES || (uintptr_t)base % IMAGE_PAGE_SIZE ||
	    c->nonzero != chunk_mask(c->npages))
		return;
	madvise(base, n < POPULATE_BYTES ? n : POPULATE_BYTES, MADV_POPULATE_WRITE);
#else
	(void)e;
	(void)c;
	(void)base;
#endif
}

int image_memory_restore(struct image_reader *r, struct image_model *m,
			 const void *payload, uint64_t len)
{
	struct image_mem_chunk c;
	struct image_memory *e = NULL;
	int rc;
	if (len < sizeof(c))
		return image_reader_fail(r, "length %llu below the chunk header",
					 (unsigned long long)len);
	memcpy(&c, payload, sizeof(c));
	if (!r->ds_mem && (rc = reader_setup(r, m)) < 0)
		return rc;
	if ((rc = entry_for(r, m, c.ds_id, &e)) < 0 ||
	    (rc = chunk_ok(r, m, e, &c, (const uint8_t *)payload + sizeof(c), len)) < 0)
		return rc;
	e->pages += (unsigned)__builtin_popcountll(c.present);
	e->nonzero_pages += (unsigned)__builtin_popcountll(c.nonzero);
	if ((c.flags & IMAGE_MEM_XOR) && (rc = mark_xor(e, &c)))
		return rc;
	if (r->flags & IMAGE_READ_STREAM) {
		if ((rc = image_stream_note(r, e, &c,
					    (const uint8_t *)payload + sizeof(c))))
			return rc;
		goto mark;
	}
	uint8_t *base = e->data + c.first_page * IMAGE_PAGE_SIZE;
	const uint8_t *src = (const uint8_t *)payload + sizeof(c);
	if (r->dest)
		dest_populate(e, &c, base);
	if (c.flags & IMAGE_MEM_XOR) { /* checked: into the fresh (zero) pages */
		image_xor_apply(src, c.data_len, c.nonzero, c.npages, base);
		goto mark;
	}
	int run = one_run(c.nonzero);
	uint8_t *dst = run >= 0 ? base + (size_t)run * IMAGE_PAGE_SIZE : r->scratch;
	if (c.flags & IMAGE_MEM_RAW) {
		memcpy(dst, src, c.raw_len);
	} else if (c.raw_len) {
		size_t n = ZSTD_decompressDCtx(r->dctx, dst, c.raw_len, src, c.data_len);
		if (ZSTD_isError(n) || n != c.raw_len)
			return image_reader_fail(
			    r, "dataspace %llu page %llu: zstd: %s",
			    (unsigned long long)c.ds_id, (unsigned long long)c.first_page,
			    ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short data");
	}
	if (run < 0 && c.nonzero) {
		const uint8_t *s = r->scratch;
		for (uint32_t i = 0; i < c.npages; i++)
			if ((c.nonzero >> i) & 1) {
				memcpy(base + (size_t)i * IMAGE_PAGE_SIZE, s,
				       IMAGE_PAGE_SIZE);
				s += IMAGE_PAGE_SIZE;
			}
	}
mark:
	or_bits(e->present, c.first_page, c.present, c.npages);
	return 0;
}

void image_memory_undo(struct image_model *m)
{
	for (uint32_t k = 0; k < m->nmemory; k++) {
		if (m->memory[k].data && !m->memory[k].borrowed)
			munmap(m->memory[k].data, m->memory[k].size);
		free(m->memory[k].present);
		free(m->memory[k].xor);
		free(m->memory[k].chunk);
	}
	image_stream_free(m);
	free(m->memory);
	m->memory = NULL;
	m->nmemory = 0;
}

int image_memory_check(struct image_reader *r, const struct image_model *m)
{
	struct image_ids ds, mem;
	uint64_t dup;
	int rc =
	    image_ids_build(&ds, m->dataspaces, m->ndataspaces, sizeof(*m->dataspaces),
			    offsetof(struct image_dataspace, id), &dup);
	if (rc < 0)
		goto out_ds;
	rc = image_ids_build(&mem, m->memory, m->nmemory, sizeof(*m->memory),
			     offsetof(struct image_memory, ds_id), &dup);
	if (rc == -EEXIST)
		rc = image_reader_fail(r, "memory of dataspace %llu given twice",
				       (unsigned long long)dup);
	for (uint32_t k = 0; k < m->nmemory && rc == 0; k++) {
		const struct image_memory *e = &m->memory[k];
		int64_t i = image_ids_find(&ds, e->ds_id);
		if (i < 0 || m->dataspaces[i].kind == IMAGE_DS_MANAGED ||
		    m->dataspaces[i].kind == IMAGE_DS_MEMBER ||
		    m->dataspaces[i].size != e->size || (!e->data && !m->stream))
			rc = image_reader_fail(
			    r,
			    "memory of dataspace %llu: no such RAM/ROM "
			    "dataspace of %llu bytes",
			    (unsigned long long)e->ds_id, (unsigned long long)e->size);
		/* the reader counted its pages, each accepted once: all there
		 * when the count is the dataspace's (no scan of huge bitmaps) */
		if (e->pages == e->size / IMAGE_PAGE_SIZE ||
		    (m->flags & (IMAGE_F_INCREMENTAL | IMAGE_F_PARTIAL)))
			continue;
		for (uint64_t f = 0; rc == 0 && f < e->size / IMAGE_PAGE_SIZE;
		     f += IMAGE_CHUNK_PAGES) {
			uint32_t np = chunk_pages(e->size, f);
			if (!(m->flags & IMAGE_F_INCREMENTAL) &&
			    present_bits(e, f, np) != chunk_mask(np))
				rc = image_reader_fail(
				    r,
				    "dataspace %llu page %llu: full image "
				    "lacks pages",
				    (unsigned long long)e->ds_id, (unsigned long long)f);
		}
	}
	image_ids_free(&mem);
out_ds:
	image_ids_free(&ds);
	return rc;
}
