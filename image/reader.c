/*
 * Reading an image: header validation, the reader's helpers and
 * image_read().  Nothing is allocated from a length in the file beyond
 * what the file itself holds (records) or what the validated dataspaces
 * need (lazily mapped memory).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "image/internal.h"

int image_reader_fail(struct image_reader *r, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!r->err || !r->errlen)
		return -EINVAL;
	if (r->sec_index == UINT32_MAX && r->sec_type)
		snprintf(r->err, r->errlen, "image %s: %s: %s", r->name,
			 image_section_name(r->sec_type), msg);
	else if (r->sec_index == UINT32_MAX)
		snprintf(r->err, r->errlen, "image %s: %s", r->name, msg);
	else if (r->sec_type)
		snprintf(r->err, r->errlen,
			 "image %s: section %u (%s) at offset %llu: %s", r->name,
			 r->sec_index, image_section_name(r->sec_type),
			 (unsigned long long)r->sec_off, msg);
	else
		snprintf(r->err, r->errlen, "image %s: section %u at offset %llu: %s",
			 r->name, r->sec_index, (unsigned long long)r->sec_off, msg);
	return -EINVAL;
}

void image_reader_at(struct image_reader *r, uint32_t type)
{
	r->sec_type = type;
	r->sec_index = r->sec_at_index[type];
	r->sec_off = r->sec_at_off[type];
}

bool image_str_ok(const char *s, size_t size)
{
	return memchr(s, 0, size) != NULL;
}

int image_get_records(struct image_reader *r, const void *payload, uint64_t len,
		      size_t size, void **out, uint32_t *n)
{
	*out = NULL;
	*n = 0;
	if (len % size)
		return image_reader_fail(
		    r, "length %llu is not a multiple of the %zu-byte record",
		    (unsigned long long)len, size);
	if (len / size > UINT32_MAX)
		return image_reader_fail(r, "too many records");
	if (!len)
		return 0;
	void *p = malloc(len);
	if (!p)
		return -ENOMEM;
	memcpy(p, payload, len);
	*out = p;
	*n = (uint32_t)(len / size);
	return 0;
}

static int pair_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int image_ids_build(struct image_ids *s, const void *recs, uint32_t n, size_t size,
		    size_t field_off, uint64_t *dup)
{
	s->n = 0;
	s->pair = n ? malloc((size_t)n * 2 * sizeof(uint64_t)) : NULL;
	if (n && !s->pair)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		memcpy(&s->pair[2 * i], (const uint8_t *)recs + i * size + field_off, 8);
		s->pair[2 * i + 1] = i;
	}
	s->n = n;
	if (n > 1)
		qsort(s->pair, n, 2 * sizeof(uint64_t), pair_cmp);
	for (uint32_t i = 1; i < n; i++)
		if (s->pair[2 * i] == s->pair[2 * i - 2]) {
			*dup = s->pair[2 * i];
			return -EEXIST;
		}
	return 0;
}

int64_t image_ids_find(const struct image_ids *s, uint64_t id)
{
	uint32_t lo = 0, hi = s->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		uint64_t v = s->pair[2 * mid];
		if (v == id)
			return (int64_t)s->pair[2 * mid + 1];
		if (v < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

void image_ids_free(struct image_ids *s)
{
	free(s->pair);
	s->pair = NULL;
	s->n = 0;
}

int image_read_header(struct image_reader *r, struct image_model *m, uint32_t *count)
{
	struct image_header h;
	if (r->size < sizeof(h))
		return image_reader_fail(r, "truncated header (%zu of %zu bytes)",
					 r->size, sizeof(h));
	memcpy(&h, r->base, sizeof(h));
	if (h.magic != IMAGE_MAGIC)
		return image_reader_fail(r, "not a capsule image (bad magic)");
	if (h.version < IMAGE_VERSION)
		return image_reader_fail(
		    r,
		    "format version %u is older than this reader's %u (no timer, "
		    "signal or binary-hash records): checkpoint the component again",
		    h.version, IMAGE_VERSION);
	if (h.version != IMAGE_VERSION)
		return image_reader_fail(r,
					 "unsupported version %u (this reader knows %u)",
					 h.version, IMAGE_VERSION);
	if (h.checksum != XXH3_64bits(&h, offsetof(struct image_header, checksum)))
		return image_reader_fail(r, "header checksum mismatch");
	if (h.header_size != sizeof(h))
		return image_reader_fail(r, "header size %u, expected %zu", h.header_size,
					 sizeof(h));
	if (h.flags & ~(uint32_t)(IMAGE_F_INCREMENTAL | IMAGE_F_PARTIAL) ||
	    h.flags == (IMAGE_F_INCREMENTAL | IMAGE_F_PARTIAL))
		return image_reader_fail(r, "unknown header flags 0x%x", h.flags);
	if (!(h.flags & IMAGE_F_INCREMENTAL) != !h.parent_id)
		return image_reader_fail(r, "parent id %llu does not match flags 0x%x",
					 (unsigned long long)h.parent_id, h.flags);
	if (!h.image_id)
		return image_reader_fail(r, "image id 0");
	if (h.parent_id && h.parent_id == h.image_id)
		return image_reader_fail(r, "image %llu names itself as its parent",
					 (unsigned long long)h.image_id);
	if (!image_str_ok(h.node, sizeof(h.node)) ||
	    !image_str_ok(h.label, sizeof(h.label)))
		return image_reader_fail(r, "unterminated node or label in the header");
	/* every section takes at least its header */
	if (h.section_count > (r->size - sizeof(h)) / sizeof(struct image_section))
		return image_reader_fail(r, "%u sections cannot fit in %zu bytes",
					 h.section_count, r->size);
	m->flags = h.flags;
	m->image_id = h.image_id;
	m->parent_id = h.parent_id;
	m->created_ns = h.created_ns;
	memcpy(m->node, h.node, sizeof(m->node));
	*count = h.section_count;
	return 0;
}

int image_read_mem(const char *name, const void *buf, size_t len,
		   struct image_model **out, char *err, size_t errlen)
{
	return image_read_mem_flags(name, buf, len, 0, out, err, errlen);
}

/* IMAGE_READ_STREAM: buf must stay mapped while the model lives (the
 * caller hands it over to m->stream on success). */
int image_read_mem_flags(const char *name, const void *buf, size_t len, unsigned flags,
			 struct image_model **out, char *err, size_t errlen)
{
	struct image_reader r = {.name = name,
				 .base = buf,
				 .size = len,
				 .sec_index = UINT32_MAX,
				 .flags = flags,
				 .err = err,
				 .errlen = errlen};
	uint32_t count = 0;
	int rc;

	for (unsigned i = 0; i < IMAGE_MAX_TYPE; i++)
		r.sec_at_index[i] = UINT32_MAX;
	*out = NULL;
	if (err && errlen)
		err[0] = 0;
	struct image_model *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	if ((flags & IMAGE_READ_STREAM) && !(m->stream = calloc(1, sizeof(*m->stream)))) {
		free(m);
		return -ENOMEM;
	}
	rc = image_read_header(&r, m, &count);
	if (rc < 0)
		goto err;
	rc = image_restore_all(&r, m, sizeof(struct image_header), count);
	if (rc < 0)
		goto err;
	*out = m;
	goto out;
err:
	if (rc == -ENOMEM && err && errlen && !err[0])
		snprintf(err, errlen, "image %s: out of memory", name);
	free(m->stream);
	free(m);
out:
	ZSTD_freeDCtx(r.dctx);
	free(r.scratch);
	free(r.ds_mem);
	image_ids_free(&r.ds_ids);
	return rc;
}

int image_read(const char *path, struct image_model **out, char *err, size_t errlen)
{
	return image_read_flags(path, 0, out, err, errlen);
}

int image_read_flags(const char *path, unsigned flags, struct image_model **out,
		     char *err, size_t errlen)
{
	struct stat st;
	int rc;

	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		if (err && errlen)
			snprintf(err, errlen, "image %s: not a regular file", path);
		close(fd);
		return rc;
	}
	void *p = NULL;
	if (st.st_size) {
		/* every byte is read (checksums): populate up front */
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE,
			 fd, 0);
		if (p == MAP_FAILED) {
			rc = -errno;
			goto fail;
		}
	}
	close(fd);
	XXH128_canonical_t hash;
	if (flags & IMAGE_READ_HASH)
		XXH128_canonicalFromHash(&hash,
					 XXH3_128bits(p ? p : "", (size_t)st.st_size));
	rc = image_read_mem_flags(path, p ? p : "", (size_t)st.st_size, flags, out, err,
				  errlen);
	if (rc == 0 && (flags & IMAGE_READ_HASH))
		memcpy((*out)->file_hash, hash.digest, IMAGE_HASH_SIZE);
	if (rc == 0 && (*out)->stream) { /* the model reads its memory from it */
		struct image_stream *s = (*out)->stream;
		s->base = p;
		s->size = p ? (size_t)st.st_size : 0;
		snprintf(s->name, sizeof s->name, "%s", path);
		/* read once for the checksums: dropped until a fill needs it */
		if (p)
			madvise(p, (size_t)st.st_size, MADV_DONTNEED);
		return 0;
	}
	if (p)
		munmap(p, (size_t)st.st_size);
	return rc;
fail:
	if (err && errlen)
		snprintf(err, errlen, "image %s: %s", path, strerror(-rc));
	if (fd >= 0)
		close(fd);
	return rc;
}

void image_model_free(struct image_model *m)
{
	if (!m)
		return;
	image_undo_all(m);
	free(m);
}

int image_model_check(const struct image_model *m, char *err, size_t errlen)
{
	struct image_reader r = {
	    .name = "model", .sec_index = UINT32_MAX, .err = err, .errlen = errlen};
	/* no sections: messages name the subsystem only */
	for (unsigned i = 0; i < IMAGE_MAX_TYPE; i++)
		r.sec_at_index[i] = UINT32_MAX;
	int rc = image_check_all(&r, m);
	return rc;
}
