/* core's badge allocator: multiples of 4, increasing, never reused, no wrap. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <cmocka.h>
#include "core/badge.h"

/* Badges start above 0 and are consecutive multiples of 4. */
static void badges_are_increasing_multiples_of_four(void **state)
{
	struct badge_alloc b;
	uint64_t prev = 0;

	assert_int_equal(badge_alloc_init(&b, BADGE_FIRST, BADGE_LAST), 0);
	for (int i = 0; i < 1000; i++) {
		uint64_t x = badge_alloc_next(&b);
		assert_true(x > prev);
		assert_int_equal(x % 4, 0);
		assert_int_equal(x, prev + 4);
		assert_true(badge_alloc_issued(&b, x));
		prev = x;
	}
	assert_false(badge_alloc_issued(&b, prev + 4));
	assert_false(badge_alloc_issued(&b, 0));
	assert_false(badge_alloc_issued(&b, 6));
}

/* Exhaustion returns 0 forever instead of wrapping to reused badges. */
static void exhaustion_is_an_error_not_a_wrap(void **state)
{
	struct badge_alloc b;

	assert_int_equal(badge_alloc_init(&b, 8, 16), 0);
	assert_int_equal(badge_alloc_next(&b), 8);
	assert_int_equal(badge_alloc_next(&b), 12);
	assert_int_equal(badge_alloc_next(&b), 16);
	for (int i = 0; i < 3; i++)
		assert_int_equal(badge_alloc_next(&b), 0);
	assert_true(badge_alloc_issued(&b, 16));
	assert_false(badge_alloc_issued(&b, 4));
	assert_false(badge_alloc_issued(&b, 20));
}

/* The very top of the id space is exhausted cleanly (no overflow into 0
 * or CAP_ID_INVALID). */
static void top_of_range_does_not_overflow(void **state)
{
	struct badge_alloc b;

	assert_int_equal(badge_alloc_init(&b, BADGE_LAST - 4, BADGE_LAST), 0);
	assert_true(badge_alloc_next(&b) == BADGE_LAST - 4);
	assert_true(badge_alloc_next(&b) == BADGE_LAST);
	assert_true(badge_alloc_next(&b) == 0);
	assert_true(BADGE_LAST < (1ULL << 63));
}

/* Bad ranges are refused. */
static void bad_ranges_are_refused(void **state)
{
	struct badge_alloc b;

	assert_int_equal(badge_alloc_init(&b, 0, 16), -EINVAL);
	assert_int_equal(badge_alloc_init(&b, 6, 16), -EINVAL);
	assert_int_equal(badge_alloc_init(&b, 8, 18), -EINVAL);
	assert_int_equal(badge_alloc_init(&b, 16, 8), -EINVAL);
	assert_int_equal(badge_alloc_init(&b, 4, ~0ULL - 3), -EINVAL);
	assert_int_equal(badge_alloc_init(&b, 4, 1ULL << 63), -EINVAL);
}

/* The allocated count grows by one per badge and stops at exhaustion. */
static void count_is_monotonic_and_stops_at_exhaustion(void **state)
{
	struct badge_alloc b;

	assert_int_equal(badge_alloc_init(&b, 8, 16), 0);
	assert_int_equal(badge_alloc_count(&b), 0);
	badge_alloc_next(&b);
	assert_int_equal(badge_alloc_count(&b), 1);
	badge_alloc_next(&b);
	badge_alloc_next(&b);
	assert_int_equal(badge_alloc_count(&b), 3);
	badge_alloc_next(&b); /* exhausted: nothing more handed out */
	assert_int_equal(badge_alloc_count(&b), 3);
	assert_int_equal(badge_alloc_init(&b, BADGE_LAST - 4, BADGE_LAST), 0);
	badge_alloc_next(&b);
	badge_alloc_next(&b);
	badge_alloc_next(&b);
	assert_int_equal(badge_alloc_count(&b), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(badges_are_increasing_multiples_of_four),
	    cmocka_unit_test(exhaustion_is_an_error_not_a_wrap),
	    cmocka_unit_test(top_of_range_does_not_overflow),
	    cmocka_unit_test(bad_ranges_are_refused),
	    cmocka_unit_test(count_is_monotonic_and_stops_at_exhaustion),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
