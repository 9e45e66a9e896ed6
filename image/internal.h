/*
 * image/ internals: the buffered section writer, the validating reader
 * and the prototypes every subsystem of image/subsystems.def provides.
 */
#ifndef IMAGE_INTERNAL_H
#define IMAGE_INTERNAL_H

#include <stdbool.h>
#include <xxhash.h>
#include <zstd.h>

#include "image/image.h"

enum image_sub_flags {
	IMAGE_SUB_ONCE = 0x1,
	IMAGE_SUB_REQUIRED = 0x2,
};

#define IMAGE_MAX_TYPE 64 /* section types are below this */

/*
 * Sequential writer.  Sections are assembled in buf (a section is
 * complete in buf before any of it is written, so the header can carry
 * its length and checksum and fd need not be seekable); buf is flushed
 * whenever no section is open and it holds flush_at bytes.
 * Invariant: sec_open => sec_start + sizeof(struct image_section) <= len.
 */
struct image_writer {
	int fd;
	uint8_t *buf;
	size_t len, cap;
	bool sec_open;
	size_t sec_start;
	uint64_t written;   /* bytes flushed to fd */
	uint64_t nsections; /* sections completed */
	ZSTD_CCtx *cctx;
	uint8_t *scratch; /* one chunk of gathered pages */
	struct image_stats stats;
	char *err;
	size_t errlen;
	XXH3_state_t *hash; /* of the bytes flushed (image_model.hash_out) */
	int raw;	    /* image_model.no_compress */
	int live;	    /* image_model.live */
	uint8_t *snap;	    /* live: the chunk's pages, copied once */
	int raw_skip;	    /* live: chunks still stored without trying zstd */
	int raw_fails;	    /* live: tries in a row zstd did not shrink, less 1 */
	size_t flush_at;    /* image_model.flush_bytes, or IMAGE_FLUSH */
	/* an image of differences: its based pages, looked up once
	 * (image/memory_plan.h) */
	struct image_mem_plan *plan;
};
#define IMAGE_FLUSH (1u << 20)

int image_writer_begin(struct image_writer *w, uint32_t type);
/* n more payload bytes at the end of buf; NULL (and err) on ENOMEM.
 * The pointer is valid until the next reserve. */
void *image_writer_reserve(struct image_writer *w, size_t n);
void image_writer_unreserve(struct image_writer *w, size_t n);
int image_writer_end(struct image_writer *w);
/* one section holding n records of size `size` */
int image_put_records(struct image_writer *w, uint32_t type, const void *recs, uint64_t n,
		      size_t size);
/* stats: fill write_ns and image_bytes just before the stats section */
void image_writer_finish_stats(struct image_writer *w);
int image_writer_fail(struct image_writer *w, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Page differences (IMAGE_MEM_XOR, image/xor_runs.c).  The most bytes
 * `pages` pages' runs take. */
size_t image_xor_bound(unsigned pages);
/* page's difference to base as runs into out (image_xor_bound(1) bytes
 * of room); its length, 0 if the pages are equal. */
size_t image_xor_put(uint8_t *out, const uint8_t *page, const uint8_t *base);
/* Check a chunk's data (len bytes: the runs of each page of nonzero) and,
 * if base is not NULL, XOR each page's runs into its page there (page i
 * at base + i pages).  0, or -EINVAL if data is not exactly such runs
 * (base may then be partly written: check first). */
int image_xor_apply(const uint8_t *data, size_t len, uint64_t nonzero, uint32_t npages,
		    uint8_t *base);

/* Sorted (id, index) pairs for uniqueness and reference checks. */
struct image_ids {
	uint64_t *pair; /* id, index, id, index, ... sorted by id */
	uint32_t n;
};
/* Collect the u64 at field_off of n records of `size`; -EEXIST (and *dup
 * set) if an id occurs twice, -ENOMEM. */
int image_ids_build(struct image_ids *s, const void *recs, uint32_t n, size_t size,
		    size_t field_off, uint64_t *dup);
/* index of the record with this id, or -1 */
int64_t image_ids_find(const struct image_ids *s, uint64_t id);
void image_ids_free(struct image_ids *s);

/*
 * Validating reader over an image in memory.  sec_index/sec_off name the
 * section being looked at, for messages; sec_at[type] where each
 * subsystem's (first) section was, for the cross-section checks.
 */
struct image_reader {
	const char *name;
	const uint8_t *base;
	size_t size;
	uint32_t sec_index; /* UINT32_MAX: not in a section */
	uint64_t sec_off;
	uint32_t sec_type;
	uint32_t sec_at_index[IMAGE_MAX_TYPE];
	uint64_t sec_at_off[IMAGE_MAX_TYPE];
	ZSTD_DCtx *dctx;
	uint8_t *scratch;	 /* one chunk of pages */
	struct image_ids ds_ids; /* memory: dataspace id -> index */
	int32_t *ds_mem;	 /* memory: per dataspace index, its memory entry */
	unsigned flags;		 /* enum image_read_flags */
	/* if set, the memory a dataspace's pages are written into (size
	 * bytes, zero on entry, the caller's: image_memory_undo leaves it),
	 * or NULL if there is none for it; else an anonymous mapping */
	void *(*dest)(void *arg, uint64_t ds_id, uint64_t size);
	void *dest_arg;
	char *err;
	size_t errlen;
};

/* Format "image NAME: section I (TYPE) at offset O: MESSAGE" into err;
 * returns -EINVAL. */
int image_reader_fail(struct image_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Point messages at the section where subsystem `type` was read. */
void image_reader_at(struct image_reader *r, uint32_t type);
/* Split a payload into n records of `size` into a fresh array (NULL if
 * n is 0); -EINVAL if len is not a multiple. */
int image_get_records(struct image_reader *r, const void *payload, uint64_t len,
		      size_t size, void **out, uint32_t *n);
/* A fixed-size string field holds a NUL. */
bool image_str_ok(const char *s, size_t size);

#define IMAGE_SUBSYSTEM(name, type, record, flags)                                       \
	int image_##name##_checkpoint(struct image_writer *w,                            \
				      const struct image_model *m);                      \
	int image_##name##_restore(struct image_reader *r, struct image_model *m,        \
				   const void *payload, uint64_t len);                   \
	void image_##name##_undo(struct image_model *m);                                 \
	int image_##name##_check(struct image_reader *r, const struct image_model *m);   \
	uint64_t image_##name##_sections(const struct image_model *m);
#include "image/subsystems.def"
#undef IMAGE_SUBSYSTEM

/* The section table (glue.c, generated from the list). */
struct image_subsystem {
	uint32_t type;
	uint32_t flags; /* enum image_sub_flags */
	const char *name;
	size_t record_size;
	int (*checkpoint)(struct image_writer *, const struct image_model *);
	int (*restore)(struct image_reader *, struct image_model *, const void *,
		       uint64_t);
	void (*undo)(struct image_model *);
	int (*check)(struct image_reader *, const struct image_model *);
	uint64_t (*sections)(const struct image_model *);
};
extern const struct image_subsystem image_subsystems[];
extern const unsigned image_nsubsystems;
const struct image_subsystem *image_subsystem_of(uint32_t type);

/* Generated loops over the list. */
/* The sections image_checkpoint_all will write for m; the memory's from
 * w->plan if the writer made one. */
uint64_t image_count_sections(const struct image_writer *w, const struct image_model *m);
int image_checkpoint_all(struct image_writer *w, const struct image_model *m);
/* Where a reader is in the list: the last subsystem's position (-1
 * before the first section) and how many sections of each it read. */
struct image_order {
	int last;
	uint32_t seen[IMAGE_MAX_TYPE];
};
/* One section (header h, payload of h->length bytes): its checksum, type,
 * flags and place in the order, then its subsystem's _restore.  0 or the
 * reader's error (the caller undoes the model). */
int image_restore_section(struct image_reader *r, struct image_model *m,
			  const struct image_section *h, const uint8_t *payload,
			  struct image_order *o);
/* After the last section: every required subsystem had one.  0 or the
 * reader's error. */
int image_restore_required(struct image_reader *r, const struct image_order *o);
/* The header at r->base (r->size bytes): checked, into m; the section
 * count into *count.  0 or the reader's error. */
int image_read_header(struct image_reader *r, struct image_model *m, uint32_t *count);
/* Read `count` sections from off; on any failure every subsystem's undo
 * runs (the model is empty again) and the error is returned. */
int image_restore_all(struct image_reader *r, struct image_model *m, uint64_t off,
		      uint32_t count);
void image_undo_all(struct image_model *m);
int image_check_all(struct image_reader *r, const struct image_model *m);

/* A memory chunk left in the file (IMAGE_READ_STREAM), with where its
 * section is, for messages. */
struct image_chunk_ref {
	uint64_t first_page, nonzero;
	uint64_t data_off; /* its data in the file */
	uint64_t sec_off;
	uint32_t sec_index, npages, flags, data_len, raw_len;
};
/* The file a streamed model reads its memory from. */
struct image_stream {
	const uint8_t *base;
	size_t size;
	char name[256];
};
/* memory_stream.c: note chunk c (its data at `data`) of entry e; checks
 * that its zstd frame holds raw_len bytes.  0 or the reader's error. */
int image_stream_note(struct image_reader *r, struct image_memory *e,
		      const struct image_mem_chunk *c, const uint8_t *data);
void image_stream_free(struct image_model *m);
int image_read_mem_flags(const char *name, const void *buf, size_t len, unsigned flags,
			 struct image_model **out, char *err, size_t errlen);

/* XXH3-64 over the section header without its checksum, then payload. */
uint64_t image_section_checksum(const struct image_section *h, const void *payload);

#endif
