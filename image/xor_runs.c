/*
 * Page differences (IMAGE_MEM_XOR): a memory chunk whose pages are each
 * the XOR of the page and the same page as the parent chain holds it,
 * stored as runs of nonzero 8-byte words, as QEMU's XBZRLE stores a
 * page's changes.  A migration's final image carries the pages of the
 * working set this way: each differs from the round before's in a word
 * or a few, so a page takes some 14 bytes, and neither side compresses,
 * decompresses or copies 4 KiB of it (zstd's frame per page cost more
 * than the copy it saved).
 *
 * Per page with bytes (nonzero bit set), in order: a u16 count of runs
 * (1..256), then each run: u16 first word, u16 words, the words; runs
 * ascending, apart (a gap of at least one zero word), within the page's
 * 512 words.  Little-endian, like every record.
 */
#include <errno.h>
#include <string.h>

#include "image/internal.h"

#define WORDS (IMAGE_PAGE_SIZE / 8)
#define BLOCK 16 /* words compared at once while none differs */

size_t image_xor_bound(unsigned pages)
{
	/* worst: one run of the whole page */
	return (size_t)pages * (IMAGE_PAGE_SIZE + 6);
}

/* The 16 words at w are the same in a and b: one test of their XORs
 * OR-ed together, which the compiler keeps in vector registers and
 * without a branch per word (a page differs in a word or a few: the
 * word-by-word loop took 1.5 us a page, this one half or less). */
static int block_same(const uint64_t *a, const uint64_t *b, unsigned w)
{
	uint64_t d = 0;

	for (unsigned i = 0; i < BLOCK; i++)
		d |= a[w + i] ^ b[w + i];
	return !d;
}

size_t image_xor_put(uint8_t *out, const uint8_t *page, const uint8_t *base)
{
	const uint64_t *a = (const uint64_t *)page, *b = (const uint64_t *)base;
	uint8_t *o = out + 2;
	uint16_t runs = 0;

	for (uint16_t w = 0; w < WORDS;) {
		if (!(w % BLOCK) && block_same(a, b, w)) {
			w += BLOCK;
			continue;
		}
		if (a[w] == b[w]) {
			w++;
			continue;
		}
		uint16_t first = w, n = 0;
		uint8_t *words = o + 4;
		for (; w < WORDS && a[w] != b[w]; w++, n++) {
			uint64_t x = a[w] ^ b[w];
			memcpy(words + (size_t)n * 8, &x, 8);
		}
		memcpy(o, &first, 2);
		memcpy(o + 2, &n, 2);
		o = words + (size_t)n * 8;
		runs++;
	}
	if (!runs)
		return 0; /* unchanged: no bytes */
	memcpy(out, &runs, 2);
	return (size_t)(o - out);
}

/* One page's runs at *at (len bytes left), XORed into to if not NULL.
 * 0, or -EINVAL if they are not as the format says. */
static int page_runs(const uint8_t **at, size_t *len, uint8_t *to)
{
	const uint8_t *p = *at;
	size_t left = *len;
	uint16_t runs, first, n;
	uint32_t next = 0; /* the first word the next run may start at */

	if (left < 2)
		return -EINVAL;
	memcpy(&runs, p, 2);
	p += 2, left -= 2;
	if (!runs || runs > WORDS / 2)
		return -EINVAL;
	for (uint16_t r = 0; r < runs; r++) {
		if (left < 4)
			return -EINVAL;
		memcpy(&first, p, 2);
		memcpy(&n, p + 2, 2);
		p += 4, left -= 4;
		if (first < next || !n || (uint32_t)first + n > WORDS ||
		    left < (size_t)n * 8)
			return -EINVAL;
		for (uint16_t i = 0; to && i < n; i++) {
			uint64_t x, y;
			memcpy(&x, p + (size_t)i * 8, 8);
			memcpy(&y, to + (size_t)(first + i) * 8, 8);
			y ^= x;
			memcpy(to + (size_t)(first + i) * 8, &y, 8);
		}
		p += (size_t)n * 8, left -= (size_t)n * 8;
		next = (uint32_t)first + n + 1;
	}
	*at = p;
	*len = left;
	return 0;
}

int image_xor_apply(const uint8_t *data, size_t len, uint64_t nonzero, uint32_t npages,
		    uint8_t *base)
{
	for (uint32_t i = 0; i < npages; i++)
		if ((nonzero >> i) & 1 &&
		    page_runs(&data, &len,
			      base ? base + (size_t)i * IMAGE_PAGE_SIZE : NULL))
			return -EINVAL;
	return len ? -EINVAL : 0; /* every byte is some page's */
}
