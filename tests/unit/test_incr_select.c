/* The pages of a region an incremental checkpoint takes
 * (monitor/dirty_pages.c, incr_select_bits), a bitmap word at a time:
 * for regions at any page offset of their dataspace (the words of core's
 * bitmap shifted), of any length, reaching past the dataspace's end or
 * not, the same bitmap and count as page by page; and
 * incr_present_pages counts them again. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "monitor/dirty_pages.h"

/* Page by page, as the selection was. */
static uint64_t reference(const uint64_t *bits, uint64_t pages, uint64_t first,
			  uint64_t n, uint8_t *present)
{
	uint64_t k = 0;

	for (uint64_t p = 0; p < n; p++) {
		uint64_t dp = first + p;
		if (dp < pages && ((bits[dp / 64] >> (dp % 64)) & 1)) {
			present[p / 8] |= (uint8_t)(1u << (p % 8));
			k++;
		}
	}
	return k;
}

static void check(const uint64_t *bits, uint64_t pages, uint64_t first, uint64_t n)
{
	uint8_t *want = calloc(n / 8 + 8, 1), *got = calloc(n / 8 + 8, 1);
	struct mon_model_region r = {.size = n * 4096, .present = got};
	uint64_t k;

	assert_non_null(want);
	assert_non_null(got);
	k = reference(bits, pages, first, n, want);
	assert_int_equal(incr_select_bits(bits, pages, first, n, got), k);
	assert_memory_equal(got, want, n / 8 + 8);
	assert_int_equal(incr_present_pages(&r), k);
	free(want);
	free(got);
}

static void matches_page_by_page(void **state)
{
	/* bitmaps of exactly their words (no padding word to read past) */
	static const uint64_t sizes[] = {1, 63, 64, 65, 127, 128, 4096, 4099, 20000};

	(void)state;
	srand(7);
	for (unsigned s = 0; s < sizeof sizes / sizeof *sizes; s++) {
		uint64_t pages = sizes[s], words = (pages + 63) / 64;
		uint64_t *bits = malloc(words * sizeof *bits);

		assert_non_null(bits);
		for (int fill = 0; fill < 3; fill++) {
			for (uint64_t w = 0; w < words; w++)
				bits[w] = fill == 0   ? ~0ull
					  : fill == 1 ? 0x8000000000000001ull
						      : (uint64_t)rand() << 33 ^
							    (uint64_t)rand() << 11 ^
							    (uint64_t)rand();
			if (pages % 64) /* core's bits past the end stay clear */
				bits[words - 1] &= (1ull << (pages % 64)) - 1;
			for (int t = 0; t < 40; t++) {
				uint64_t first = (uint64_t)rand() % (pages + 2);
				uint64_t n = 1 + (uint64_t)rand() % (pages + 70);
				check(bits, pages, first, n);
			}
			check(bits, pages, 0, pages);
		}
		free(bits);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(matches_page_by_page),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
