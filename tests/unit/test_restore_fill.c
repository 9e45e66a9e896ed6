/*
 * restore_fill (monitor/restore_fill.c): a checkpointed region written
 * into fresh zeroed memory must read back byte for byte, whatever the
 * alignment of the destination and the length; chunks of zeros are not
 * written.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>
#include "monitor/restore.h"

#define MIB (1ULL << 20)
#define PG  4096ULL

static uint8_t *fresh(uint64_t size)
{
	void *p =
	    mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	return p;
}

/* Source of 9 MiB + 100 bytes: MiB 0-2 zero (a whole 2 MiB chunk of the
 * destination wherever it starts), then data on even pages, a lone
 * non-zero byte at the end of an otherwise zero page, a data tail. */
static void fill(uint8_t *src, uint64_t size)
{
	memset(src, 0, size);
	for (uint64_t p = 3 * MIB; p + PG <= size; p += 2 * PG)
		memset(src + p, (int)(p / PG) | 1, PG);
	src[5 * MIB + PG - 1] = 0x5a; /* page 5 MiB + 1 page is odd: else zero */
	memset(src + size - 100, 0xa5, 100);
}

static void check_at(uint64_t shift)
{
	uint64_t size = 9 * MIB + 100;
	uint8_t *src = fresh(size), *map = fresh(size + 2 * MIB + shift);
	uint8_t *dst =
	    (uint8_t *)(((uintptr_t)map + 2 * MIB - 1) & ~(2 * MIB - 1)) + shift;
	uint64_t copied;

	fill(src, size);
	copied = restore_fill(dst, src, size);
	assert_memory_equal(dst, src, size);
	/* nothing before the first data page (3 MiB); at least every page
	 * with data (a sparse chunk, MiB 2-4 with data on a quarter of its
	 * pages, is written page by page) */
	assert_true(copied <= size - 3 * MIB);
	assert_true(copied >= (size - 3 * MIB) / 2);
	munmap(src, size);
	munmap(map, size + 2 * MIB + shift);
}

static void copies_exactly_aligned(void **state)
{
	check_at(0);
}

static void copies_exactly_unaligned(void **state)
{
	check_at(PG);	  /* chunks then end mid-source */
	check_at(3 * PG); /* and the first one is short */
}

/* All zeros: nothing written, the destination still reads zero. */
static void zeros_are_not_written(void **state)
{
	uint64_t size = 4 * MIB + 3 * PG;
	uint8_t *src = fresh(size), *dst = fresh(size);

	assert_int_equal(restore_fill(dst, src, size), 0);
	assert_memory_equal(dst, src, size);
	assert_int_equal(restore_fill(dst, src, 0), 0);
	munmap(src, size);
	munmap(dst, size);
}

/* Resident pages of [p, p + size). */
static uint64_t resident(void *p, uint64_t size)
{
	uint64_t pages = size / PG, n = 0;
	unsigned char *v = malloc(pages);

	assert_non_null(v);
	assert_int_equal(mincore(p, size, v), 0);
	for (uint64_t i = 0; i < pages; i++)
		n += v[i] & 1;
	free(v);
	return n;
}

/* A sparse source (one page with data every 2 MiB): the copy is exact
 * and the destination's memory follows the pages with data, not the
 * huge-page size (each would cost 512 pages as a huge page). */
static void sparse_costs_its_pages(void **state)
{
	uint64_t size = 64 * MIB, want = size / (2 * MIB), r;
	uint8_t *src = fresh(size), *dst = fresh(size);

	for (uint64_t off = 5 * PG; off < size; off += 2 * MIB)
		memset(src + off, 0xa5, PG);
	assert_int_equal(restore_fill(dst, src, size), want * PG);
	/* before the compare, whose reads map the zero page everywhere */
	r = resident(dst, size);
	if (r > 2 * want)
		fail_msg("%llu pages resident for %llu with data", (unsigned long long)r,
			 (unsigned long long)want);
	assert_memory_equal(dst, src, size);
	munmap(src, size);
	munmap(dst, size);
}

/* restore_fill_move into dst + shift: dst reads as the source did; the
 * dense chunks' pages were moved (the source reads zero there), the
 * sparse chunk (MiB 2-4, data on a quarter of its pages) was copied (the
 * source keeps it). */
static void move_at(uint64_t shift)
{
	uint64_t size = 9 * MIB + 100, written;
	uint8_t *src = fresh(size), *ref = malloc(size),
		*map = fresh(size + 2 * MIB + shift);
	uint8_t *dst =
	    (uint8_t *)(((uintptr_t)map + 2 * MIB - 1) & ~(2 * MIB - 1)) + shift;

	assert_non_null(ref);
	fill(src, size);
	memcpy(ref, src, size);
	assert_int_equal(restore_fill_move(dst, src, size, &written), 0);
	assert_memory_equal(dst, ref, size);
	assert_true(written >= (size - 3 * MIB) / 2 && written <= size - 2 * MIB);
	/* MiB 6-8 of the source is inside a dense chunk wherever dst starts */
	for (uint64_t o = 6 * MIB; o < 8 * MIB; o += PG)
		assert_int_equal(src[o], 0);
	assert_memory_equal(src + 3 * MIB, ref + 3 * MIB, PG); /* sparse: kept */
	free(ref);
	munmap(src, size);
	munmap(map, size + 2 * MIB + shift);
}

static void moves_dense_chunks(void **state)
{
	move_at(0);
	move_at(PG);
}

/* A dense source longer than one move takes (32 MiB): moved in pieces,
 * all of it. */
static void long_runs_move_in_pieces(void **state)
{
	uint64_t size = 36 * MIB, written;
	uint8_t *src = fresh(size), *map = fresh(size + 2 * MIB);
	uint8_t *dst = (uint8_t *)(((uintptr_t)map + 2 * MIB - 1) & ~(2 * MIB - 1));

	for (uint64_t o = 0; o < size; o += PG)
		memset(src + o, (int)(o / PG) | 1, PG);
	assert_int_equal(restore_fill_move(dst, src, size, &written), 0);
	assert_int_equal(written, size);
	for (uint64_t o = 0; o < size; o += PG)
		if (dst[o] != ((o / PG) | 1) % 256 || dst[o + PG - 1] != dst[o] || src[o])
			fail_msg("page at %llu", (unsigned long long)o);
	munmap(src, size);
	munmap(map, size + 2 * MIB);
}

/* A source not page-aligned cannot give its pages: copied, kept. */
static void unaligned_source_is_copied(void **state)
{
	uint64_t size = 5 * MIB, written;
	uint8_t *map = fresh(size + PG), *src = map + 8, *dst = fresh(size);

	fill(src, size);
	assert_int_equal(restore_fill_move(dst, src, size, &written), 0);
	assert_memory_equal(dst, src, size);
	assert_true(written > 0 && src[4 * MIB] != 0);
	munmap(map, size + PG);
	munmap(dst, size);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(copies_exactly_aligned),
	    cmocka_unit_test(copies_exactly_unaligned),
	    cmocka_unit_test(zeros_are_not_written),
	    cmocka_unit_test(sparse_costs_its_pages),
	    cmocka_unit_test(moves_dense_chunks),
	    cmocka_unit_test(long_runs_move_in_pieces),
	    cmocka_unit_test(unaligned_source_is_copied),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
