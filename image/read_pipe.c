/*
 * An image read from a pipe as it arrives, or from a file as it grows (a
 * byte on a second pipe for each time it grew): a migration's first
 * round at its destination, where the copy is built while the source
 * still sends it (monitor/prebuild_stream.c) instead of after the whole
 * file is in.
 * The format puts every record before the memory (image/subsystems.def),
 * so the reader stops there: the caller makes the dataspaces from the
 * records, and the rest of the stream is read with each chunk's pages
 * written straight into them.  Every check of image_read is made, in the
 * same order (each section's checksum, order and records as it comes,
 * the whole model's checks at the end), and the stream's XXH3-128 is
 * taken as it passes (image_file_hash of the same bytes in a file: the
 * next round names it as its parent).  Nothing is allocated from a
 * length in the stream beyond one section's payload, of at most
 * IMAGE_PIPE_SECTION_MAX bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/internal.h"

/* a section's payload: the records (a few MB for the most caps and
 * threads a component may have) or one chunk of pages */
#define IMAGE_PIPE_SECTION_MAX (64u << 20)
/* sections in one image: a memory section per 64 pages of 1 TiB */
#define IMAGE_PIPE_SECTIONS_MAX (1u << 22)

struct image_pipe {
	int fd;
	/* >= 0: fd is a file that grows, and a byte on wait_fd says it grew
	 * (its end: it will not grow any more); else fd is the stream */
	int wait_fd, grown;
	struct image_reader r;
	struct image_model *m;
	struct image_order order;
	uint32_t count, next;	    /* sections in the image, the next one's index */
	uint64_t off;		    /* bytes read */
	struct image_section ahead; /* the first memory section's header */
	int have_ahead;
	uint8_t *buf;
	size_t cap;
	XXH3_state_t *hash;
	char name[256], err[400];
};

/* A growing file's end was read: wait until it grew (1) or will not
 * grow any more (0), or -1 with errno. */
static int wait_grown(struct image_pipe *p)
{
	char said[4096];
	ssize_t k;

	if (p->grown)
		return 0;
	while ((k = read(p->wait_fd, said, sizeof said)) < 0 && errno == EINTR)
		;
	if (k == 0)
		p->grown = 1; /* the writer closed it: read what is there */
	return k < 0 ? -1 : 1;
}

/* n bytes of the stream (hashed); 0, or 1 at its end before them, or -1
 * with errno. */
static int pipe_read(struct image_pipe *p, void *to, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = read(p->fd, (uint8_t *)to + got, n - got);
		int w;
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		if (k == 0 && p->wait_fd >= 0 && (w = wait_grown(p)) != 0) {
			if (w < 0)
				return -1;
			continue;
		}
		if (k == 0)
			return 1;
		got += (size_t)k;
	}
	XXH3_128bits_update(p->hash, to, n);
	p->off += n;
	return 0;
}

static int pipe_short(struct image_pipe *p, int rc, const char *what)
{
	if (rc < 0)
		return image_reader_fail(&p->r, "reading %s: %s", what, strerror(errno));
	return image_reader_fail(&p->r, "the stream ended in %s (after %llu bytes)", what,
				 (unsigned long long)p->off);
}

/* The next section header into *h; 0 or the reader's error. */
static int next_header(struct image_pipe *p, struct image_section *h)
{
	int rc;

	p->r.sec_index = p->next;
	p->r.sec_off = p->off;
	p->r.sec_type = 0;
	if ((rc = pipe_read(p, h, sizeof *h)))
		return pipe_short(p, rc, "a section header");
	if (h->length > IMAGE_PIPE_SECTION_MAX)
		return image_reader_fail(&p->r, "length %llu: more than a section holds",
					 (unsigned long long)h->length);
	return 0;
}

/* Section h's payload read and restored into the model. */
static int one_section(struct image_pipe *p, const struct image_section *h)
{
	int rc;

	if (h->length > p->cap) {
		uint8_t *b = realloc(p->buf, h->length);
		if (!b)
			return -ENOMEM;
		p->buf = b;
		p->cap = h->length;
	}
	if (h->length && (rc = pipe_read(p, p->buf, h->length)))
		return pipe_short(p, rc, "a section");
	p->next++;
	return image_restore_section(&p->r, p->m, h, p->buf, &p->order);
}

/* Every check of image_check_all but those of memory and stats (which
 * come after the records, and are made at the end). */
static int check_records(struct image_pipe *p)
{
	for (unsigned i = 0; i < image_nsubsystems; i++) {
		uint32_t t = image_subsystems[i].type;
		int rc;
		if (t == IMAGE_SEC_memory || t == IMAGE_SEC_stats)
			continue;
		image_reader_at(&p->r, t);
		if ((rc = image_subsystems[i].check(&p->r, p->m)) < 0)
			return rc;
	}
	p->r.sec_index = UINT32_MAX;
	p->r.sec_type = 0;
	return 0;
}

static int begin_records(struct image_pipe *p)
{
	struct image_header h;
	int rc;

	if ((rc = pipe_read(p, &h, sizeof h)))
		return pipe_short(p, rc, "the header");
	p->r.base = (const uint8_t *)&h;
	p->r.size = SIZE_MAX; /* the section count is bounded below */
	rc = image_read_header(&p->r, p->m, &p->count);
	p->r.base = NULL;
	p->r.size = 0;
	if (rc < 0)
		return rc;
	if (p->count > IMAGE_PIPE_SECTIONS_MAX)
		return image_reader_fail(&p->r, "%u sections: more than an image has",
					 p->count);
	while (p->next < p->count) {
		struct image_section s;
		if ((rc = next_header(p, &s)) < 0)
			return rc;
		if (s.type == IMAGE_SEC_memory) {
			p->ahead = s;
			p->have_ahead = 1;
			break;
		}
		if ((rc = one_section(p, &s)) < 0)
			return rc;
	}
	return check_records(p);
}

int image_pipe_begin(int fd, int wait_fd, const char *name, struct image_pipe **out,
		     struct image_model **model, char *err, size_t errlen)
{
	struct image_pipe *p = calloc(1, sizeof *p);
	int rc;

	*out = NULL;
	*model = NULL;
	if (!p || !(p->m = calloc(1, sizeof *p->m)) || !(p->hash = XXH3_createState())) {
		if (p)
			free(p->m);
		free(p);
		snprintf(err, errlen, "image %s: out of memory", name);
		return -ENOMEM;
	}
	p->fd = fd;
	p->wait_fd = wait_fd;
	snprintf(p->name, sizeof p->name, "%s", name);
	p->r = (struct image_reader){.name = p->name,
				     .sec_index = UINT32_MAX,
				     .err = p->err,
				     .errlen = sizeof p->err};
	for (unsigned i = 0; i < IMAGE_MAX_TYPE; i++)
		p->r.sec_at_index[i] = UINT32_MAX;
	p->order.last = -1;
	XXH3_128bits_reset(p->hash);
	if ((rc = begin_records(p)) < 0) {
		snprintf(err, errlen, "%s",
			 p->err[0] ? p->err : "out of memory reading the image");
		image_pipe_end(p, 1);
		return rc;
	}
	*out = p;
	*model = p->m;
	return 0;
}

int image_pipe_finish(struct image_pipe *p,
		      void *(*dest)(void *arg, uint64_t ds_id, uint64_t size), void *arg,
		      char *err, size_t errlen)
{
	XXH128_canonical_t h;
	uint8_t extra;
	int rc = 0;

	p->r.dest = dest;
	p->r.dest_arg = arg;
	if (p->have_ahead) {
		p->have_ahead = 0;
		p->r.sec_index = p->next;
		p->r.sec_off = p->off - sizeof p->ahead;
		rc = one_section(p, &p->ahead);
	}
	while (rc == 0 && p->next < p->count) {
		struct image_section s;
		if ((rc = next_header(p, &s)) == 0)
			rc = one_section(p, &s);
	}
	p->r.sec_index = UINT32_MAX;
	p->r.sec_type = 0;
	if (rc == 0 && (rc = pipe_read(p, &extra, 1)) != 1)
		rc = rc < 0 ? pipe_short(p, rc, "the end")
			    : image_reader_fail(&p->r, "trailing bytes after the last "
						       "section");
	else if (rc == 1)
		rc = 0;
	if (rc == 0)
		rc = image_restore_required(&p->r, &p->order);
	if (rc == 0)
		rc = image_check_all(&p->r, p->m);
	if (rc < 0) {
		snprintf(err, errlen, "%s",
			 p->err[0] ? p->err : "out of memory reading the image");
		return rc;
	}
	XXH128_canonicalFromHash(&h, XXH3_128bits_digest(p->hash));
	memcpy(p->m->file_hash, h.digest, IMAGE_HASH_SIZE);
	return 0;
}

void image_pipe_end(struct image_pipe *p, int free_model)
{
	if (!p)
		return;
	if (free_model)
		image_model_free(p->m);
	ZSTD_freeDCtx(p->r.dctx);
	free(p->r.scratch);
	free(p->r.ds_mem);
	image_ids_free(&p->r.ds_ids);
	XXH3_freeState(p->hash);
	free(p->buf);
	free(p);
}
