/*
 * Writing an image: the buffered section writer and image_write().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "image/internal.h"
#include "image/memory_plan.h"

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t image_section_checksum(const struct image_section *h, const void *payload)
{
	XXH3_state_t st;
	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, h, offsetof(struct image_section, checksum));
	XXH3_64bits_update(&st, payload, h->length);
	return XXH3_64bits_digest(&st);
}

int image_writer_fail(struct image_writer *w, int rc, const char *fmt, ...)
{
	if (w->err && w->errlen && !w->err[0]) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(w->err, w->errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static int flush(struct image_writer *w)
{
	size_t done = 0;

	if (w->hash && w->len)
		XXH3_128bits_update(w->hash, w->buf, w->len);
	while (done < w->len) {
		ssize_t n = write(w->fd, w->buf + done, w->len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			return image_writer_fail(w, -e, "image write: %s", strerror(e));
		}
		done += (size_t)n;
	}
	w->written += w->len;
	w->len = 0;
	return 0;
}

void *image_writer_reserve(struct image_writer *w, size_t n)
{
	if (w->cap - w->len < n) {
		size_t cap = w->cap ? w->cap : IMAGE_FLUSH * 2;
		while (cap - w->len < n)
			cap *= 2;
		uint8_t *b = realloc(w->buf, cap);
		if (!b) {
			image_writer_fail(w, -ENOMEM, "image write: out of memory");
			return NULL;
		}
		w->buf = b;
		w->cap = cap;
	}
	void *p = w->buf + w->len;
	w->len += n;
	return p;
}

void image_writer_unreserve(struct image_writer *w, size_t n)
{
	w->len -= n;
}

int image_writer_begin(struct image_writer *w, uint32_t type)
{
	size_t start = w->len;
	if (!image_writer_reserve(w, sizeof(struct image_section)))
		return -ENOMEM;
	w->sec_open = true;
	w->sec_start = start;
	memcpy(w->buf + start, &type, sizeof(type));
	return 0;
}

int image_writer_end(struct image_writer *w)
{
	struct image_section h;
	memcpy(&h.type, w->buf + w->sec_start, sizeof(h.type));
	h.flags = 0;
	h.length = w->len - w->sec_start - sizeof(h);
	h.checksum = image_section_checksum(&h, w->buf + w->sec_start + sizeof(h));
	memcpy(w->buf + w->sec_start, &h, sizeof(h));
	w->sec_open = false;
	w->nsections++;
	return w->len >= w->flush_at ? flush(w) : 0;
}

int image_put_records(struct image_writer *w, uint32_t type, const void *recs, uint64_t n,
		      size_t size)
{
	int rc = image_writer_begin(w, type);
	if (rc < 0)
		return rc;
	if (n) {
		void *p = image_writer_reserve(w, n * size);
		if (!p)
			return -ENOMEM;
		memcpy(p, recs, n * size);
	}
	return image_writer_end(w);
}

static int put_header(struct image_writer *w, const struct image_model *m, uint64_t count)
{
	struct image_header h;
	memset(&h, 0, sizeof(h));
	h.magic = IMAGE_MAGIC;
	h.version = IMAGE_VERSION;
	h.flags = m->flags;
	h.section_count = (uint32_t)count;
	h.header_size = sizeof(h);
	h.image_id = m->image_id;
	while (!h.image_id)
		if (getrandom(&h.image_id, sizeof(h.image_id), 0) != sizeof(h.image_id))
			h.image_id = now_ns(CLOCK_MONOTONIC);
	h.parent_id = m->parent_id;
	h.created_ns = m->created_ns ? m->created_ns : now_ns(CLOCK_REALTIME);
	memcpy(h.node, m->node, sizeof(h.node));
	memcpy(h.label, m->component.label, sizeof(h.label));
	h.node[sizeof(h.node) - 1] = h.label[sizeof(h.label) - 1] = 0;
	h.checksum = XXH3_64bits(&h, offsetof(struct image_header, checksum));
	void *p = image_writer_reserve(w, sizeof(h));
	if (!p)
		return -ENOMEM;
	memcpy(p, &h, sizeof(h));
	return 0;
}

int image_write_fd(int fd, const struct image_model *m, struct image_stats *stats,
		   char *err, size_t errlen)
{
	struct image_writer w = {.fd = fd,
				 .err = err,
				 .errlen = errlen,
				 .raw = m->no_compress,
				 .live = m->live,
				 .flush_at =
				     m->flush_bytes ? m->flush_bytes : IMAGE_FLUSH};
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);
	int rc;

	if (err && errlen)
		err[0] = 0;
	rc = image_model_check(m, err, errlen);
	if (rc < 0)
		return rc;
	/* an image of differences: each page's base asked for once, for
	 * the count and the write (image/memory_plan.c) */
	if (m->delta_base) {
		if (!(w.plan = malloc(sizeof *w.plan)) ||
		    image_mem_plan_make(w.plan, m)) {
			free(w.plan);
			return image_writer_fail(&w, -ENOMEM,
						 "image write: out of memory");
		}
	}
	uint64_t count = image_count_sections(&w, m);
	if (count > UINT32_MAX) {
		rc = image_writer_fail(&w, -E2BIG, "image write: too many sections");
		goto err;
	}
	if (m->hash_out) {
		if (!(w.hash = XXH3_createState())) {
			rc = image_writer_fail(&w, -ENOMEM, "image write: out of memory");
			goto err;
		}
		XXH3_128bits_reset(w.hash);
	}
	w.stats.paused_ns = m->stats.paused_ns;
	w.stats.write_ns = t0; /* start time until the stats section */
	rc = put_header(&w, m, count);
	if (rc < 0)
		goto err;
	rc = image_checkpoint_all(&w, m);
	if (rc < 0)
		goto err;
	if (w.nsections != count) {
		rc = image_writer_fail(
		    &w, -EPROTO, "image write: %llu sections, announced %llu",
		    (unsigned long long)w.nsections, (unsigned long long)count);
		goto err;
	}
	rc = flush(&w);
	if (rc < 0)
		goto err;
	if (stats)
		*stats = w.stats;
	if (w.hash) {
		XXH128_canonical_t c;

		XXH128_canonicalFromHash(&c, XXH3_128bits_digest(w.hash));
		memcpy(m->hash_out, c.digest, IMAGE_HASH_SIZE);
	}
err:
	if (w.plan)
		image_mem_plan_free(w.plan);
	free(w.plan);
	XXH3_freeState(w.hash);
	ZSTD_freeCCtx(w.cctx);
	free(w.scratch);
	free(w.snap);
	free(w.buf);
	return rc;
}

/* Called by the stats subsystem: finish the figures just before writing. */
void image_writer_finish_stats(struct image_writer *w)
{
	w->stats.write_ns = now_ns(CLOCK_MONOTONIC) - w->stats.write_ns;
	w->stats.image_bytes = w->written + w->len;
}

int image_write(const char *path, const struct image_model *m, struct image_stats *stats,
		char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		int e = errno;
		if (err && errlen)
			snprintf(err, errlen, "image %s: %s", path, strerror(e));
		return -e;
	}
	int rc = image_write_fd(fd, m, stats, err, errlen);
	if (rc == 0 && !m->no_sync && fsync(fd) < 0 && errno != EINVAL)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0) {
		unlink(path);
		if (err && errlen && !err[0])
			snprintf(err, errlen, "image %s: %s", path, strerror(-rc));
	}
	return rc;
}
