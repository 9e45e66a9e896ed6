/*
 * Structure-aware image mutation (fuzz/image_mutator.h).
 *
 * An image is split into its header and sections (image/image.h: a
 * section is a 24-byte header plus `length` payload bytes, checksummed
 * with XXH3-64; a memory section is a struct image_mem_chunk plus its
 * pages, zstd-compressed unless IMAGE_MEM_RAW).  Compressed memory chunks
 * are unpacked so that a mutation changes pages, not zstd frames.  One
 * part is mutated with LLVMFuzzerMutate, or the section list is changed
 * (a section dropped, duplicated, moved or retyped); then the image is
 * written again: chunks recompressed, lengths, count and checksums
 * recomputed.  One mutant in 16 has a section header mutated and written
 * as it is, so that the framing checks themselves stay covered.  Input that is not an
 * image at all is mutated as bytes.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <zstd.h>

#include "fuzz/image_mutator.h"
#include "image/internal.h"

#define MAX_SECTIONS 256
#define HDR_BODY     offsetof(struct image_header, checksum)
#define RAW_MAX	     ((size_t)IMAGE_CHUNK_PAGES * IMAGE_PAGE_SIZE)

struct part {
	struct image_section h;
	uint8_t *p; /* payload; for an unpacked chunk: chunk header + pages */
	size_t len, cap;
	int unpacked; /* a compressed memory chunk, now raw */
	int keep;     /* its header was mutated: written as it is */
};

struct img {
	struct image_header h;
	struct part s[MAX_SECTIONS];
	unsigned n;
	unsigned rnd;
};

static unsigned rnd(struct img *im, unsigned n)
{
	im->rnd = im->rnd * 1103515245u + 12345u;
	return n ? (im->rnd >> 8) % n : 0;
}

static int part_set(struct part *s, const uint8_t *p, size_t len)
{
	s->cap = len * 2 + 256;
	s->p = malloc(s->cap);
	if (!s->p)
		return -1;
	memcpy(s->p, p, len);
	s->len = len;
	return 0;
}

/* A compressed chunk becomes its header plus raw pages (if it unpacks). */
static void chunk_unpack(struct part *s)
{
	struct image_mem_chunk c;
	uint8_t *raw;

	if (s->h.type != IMAGE_SEC_memory || s->len < sizeof(c))
		return;
	memcpy(&c, s->p, sizeof(c));
	/* page differences (IMAGE_MEM_XOR) are runs of words, not a frame:
	 * their bytes are mutated as they are (mutate_one) */
	if ((c.flags & (IMAGE_MEM_RAW | IMAGE_MEM_XOR)) || !c.raw_len ||
	    c.raw_len > RAW_MAX || c.data_len != s->len - sizeof(c))
		return;
	raw = malloc(sizeof(c) + c.raw_len + 256);
	if (!raw)
		return;
	size_t n =
	    ZSTD_decompress(raw + sizeof(c), c.raw_len, s->p + sizeof(c), c.data_len);
	if (ZSTD_isError(n) || n != c.raw_len) {
		free(raw);
		return;
	}
	memcpy(raw, &c, sizeof(c));
	free(s->p);
	s->p = raw;
	s->len = sizeof(c) + c.raw_len;
	s->cap = s->len + 256;
	s->unpacked = 1;
}

static void img_free(struct img *im)
{
	for (unsigned i = 0; i < im->n; i++)
		free(im->s[i].p);
	im->n = 0;
}

/* 0 if data holds an image header and at least its framing. */
static int img_parse(struct img *im, const uint8_t *data, size_t size)
{
	size_t off = sizeof(im->h);

	if (size < sizeof(im->h))
		return -1;
	memcpy(&im->h, data, sizeof(im->h));
	if (im->h.magic != IMAGE_MAGIC)
		return -1;
	for (uint32_t i = 0; i < im->h.section_count && im->n < MAX_SECTIONS; i++) {
		struct part *s = &im->s[im->n];

		if (size - off < sizeof(s->h))
			break;
		memcpy(&s->h, data + off, sizeof(s->h));
		off += sizeof(s->h);
		size_t len = s->h.length < size - off ? s->h.length : size - off;
		if (part_set(s, data + off, len))
			break;
		im->n++;
		off += len;
		chunk_unpack(s);
	}
	return 0;
}

/* Let libFuzzer mutate s->p[from..), to at most max bytes in all. */
static void mutate_bytes(struct part *s, size_t from, size_t max)
{
	if (max > s->cap) {
		uint8_t *p = realloc(s->p, max);
		if (!p)
			return;
		s->p = p;
		s->cap = max;
	}
	if (max > from)
		s->len = from + LLVMFuzzerMutate(s->p + from, s->len - from, max - from);
}

static void mutate_header(struct img *im)
{
	uint8_t body[sizeof(im->h)];

	memcpy(body, &im->h, HDR_BODY);
	size_t n = LLVMFuzzerMutate(body, HDR_BODY, HDR_BODY);
	if (n < HDR_BODY)
		memset(body + n, 0, HDR_BODY - n);
	memcpy(&im->h, body, HDR_BODY);
}

static void mutate_list(struct img *im)
{
	unsigned a = rnd(im, im->n), b = rnd(im, im->n);
	struct part t;

	switch (rnd(im, 4)) {
	case 0: /* drop a */
		free(im->s[a].p);
		memmove(&im->s[a], &im->s[a + 1], (im->n - a - 1) * sizeof(t));
		im->n--;
		return;
	case 1: /* duplicate a */
		if (im->n < MAX_SECTIONS && !part_set(&t, im->s[a].p, im->s[a].len)) {
			t.h = im->s[a].h;
			t.unpacked = im->s[a].unpacked;
			t.keep = 0;
			im->s[im->n++] = t;
		}
		return;
	case 2: /* swap a and b */
		t = im->s[a];
		im->s[a] = im->s[b];
		im->s[b] = t;
		return;
	default: /* retype a */
		im->s[a].h.type = rnd(im, 12);
		im->s[a].unpacked = 0;
	}
}

static void mutate_one(struct img *im)
{
	unsigned what = rnd(im, 16);
	struct part *s;

	if (!im->n || what == 0)
		return mutate_header(im);
	if (what == 1)
		return mutate_list(im);
	s = &im->s[rnd(im, im->n)];
	if (what == 2) {
		/* the section header itself: type, flags, length, checksum */
		LLVMFuzzerMutate((uint8_t *)&s->h, sizeof(s->h), sizeof(s->h));
		s->keep = 1;
		return;
	}
	if (s->unpacked && what < 8) {
		/* the chunk header: ds id, position, bitmaps, flags */
		struct image_mem_chunk c;

		memcpy(&c, s->p, sizeof(c));
		LLVMFuzzerMutate((uint8_t *)&c, sizeof(c), sizeof(c));
		memcpy(s->p, &c, sizeof(c));
		return;
	}
	if (s->h.type != IMAGE_SEC_memory && what < 14) {
		/* records: mostly keep the length a multiple of the record */
		size_t len = s->len;

		mutate_bytes(s, 0, len);
		memset(s->p + s->len, 0, len - s->len);
		s->len = len;
		return;
	}
	if (s->h.type == IMAGE_SEC_memory && !s->unpacked && what == 14 &&
	    s->len >= sizeof(struct image_mem_chunk)) {
		/* pages read as differences, or differences as pages */
		struct image_mem_chunk c;

		memcpy(&c, s->p, sizeof(c));
		c.flags ^= IMAGE_MEM_XOR;
		memcpy(s->p, &c, sizeof(c));
		return;
	}
	mutate_bytes(s, s->unpacked ? sizeof(struct image_mem_chunk) : 0, s->len + 64);
}

/* Append n bytes to out[*len..max); -1 if they do not fit. */
static int put(uint8_t *out, size_t *len, size_t max, const void *p, size_t n)
{
	if (n > max - *len)
		return -1;
	memcpy(out + *len, p, n);
	*len += n;
	return 0;
}

/* Write section s at out[*len..): compressed again if it was unpacked. */
static int put_part(struct part *s, uint8_t *out, size_t *len, size_t max)
{
	struct image_section h = s->h;
	size_t start = *len + sizeof(h), plen = s->len;

	if (*len > max || sizeof(h) > max - *len)
		return -1;
	*len += sizeof(h);
	if (s->unpacked && s->len >= sizeof(struct image_mem_chunk)) {
		struct image_mem_chunk c;
		size_t raw = s->len - sizeof(c), bound = ZSTD_compressBound(raw);

		memcpy(&c, s->p, sizeof(c));
		if (sizeof(c) + bound > max - *len)
			return -1;
		size_t n = raw ? ZSTD_compress(out + start + sizeof(c), bound,
					       s->p + sizeof(c), raw, 1)
			       : 0;
		if (ZSTD_isError(n))
			return -1;
		if (!s->keep) {
			c.raw_len = (uint32_t)raw;
			c.data_len = (uint32_t)n;
			c.flags &= ~(uint32_t)IMAGE_MEM_RAW;
		}
		memcpy(out + start, &c, sizeof(c));
		plen = sizeof(c) + n;
	} else if (put(out, len, max, s->p, s->len)) {
		return -1;
	}
	*len = start + plen;
	if (!s->keep) {
		h.length = plen;
		h.checksum = image_section_checksum(&h, out + start);
	}
	memcpy(out + start - sizeof(h), &h, sizeof(h));
	return 0;
}

static size_t img_write(struct img *im, uint8_t *out, size_t max)
{
	size_t len = sizeof(im->h);

	if (max < len)
		return 0;
	for (unsigned i = 0; i < im->n; i++)
		if (put_part(&im->s[i], out, &len, max))
			return 0;
	im->h.section_count = im->n;
	im->h.checksum = XXH3_64bits(&im->h, HDR_BODY);
	memcpy(out, &im->h, sizeof(im->h));
	return len;
}

size_t image_mutate(uint8_t *data, size_t size, size_t max, unsigned seed)
{
	static struct img im; /* large: not on the stack */
	uint8_t *out;
	size_t n = 0;

	memset(&im, 0, sizeof(im));
	im.rnd = seed;
	if (img_parse(&im, data, size)) {
		img_free(&im);
		return LLVMFuzzerMutate(data, size, max);
	}
	mutate_one(&im);
	out = malloc(max);
	if (out)
		n = img_write(&im, out, max);
	img_free(&im);
	if (!n) {
		free(out);
		return LLVMFuzzerMutate(data, size, max);
	}
	memcpy(data, out, n);
	free(out);
	return n;
}
