/* The index of the pages the last pre-copy round carried
 * (monitor/sent_pages.c), the base of the final image's page
 * differences: found by dataspace and page once sealed with the image
 * that carried them, only for that image; a round that staged nothing
 * (no array yet) seals without a base; a round of more than
 * SENT_PAGES_MAX pages is no base at all; a reset forgets them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "monitor/sent_pages.h"

static void found_after_seal(void **state)
{
	struct sent_pages s = {0};

	sent_pages_reset(&s);
	/* in a round's order: regions, then pages */
	sent_pages_add(&s, 9, 300, 0);
	sent_pages_add(&s, 9, 5, 1);
	sent_pages_add(&s, 4, 77, 2);
	assert_int_equal(sent_pages_find(&s, 42, 9, 5), -1); /* not sealed */
	sent_pages_seal(&s, 42);
	assert_int_equal(sent_pages_find(&s, 42, 9, 300), 0);
	assert_int_equal(sent_pages_find(&s, 42, 9, 5), 1);
	assert_int_equal(sent_pages_find(&s, 42, 4, 77), 2);
	assert_int_equal(sent_pages_find(&s, 42, 4, 5), -1);
	assert_int_equal(sent_pages_find(&s, 43, 9, 5), -1); /* another parent */
	assert_int_equal(sent_pages_find(&s, 0, 9, 5), -1);
	sent_pages_seal(&s, 0); /* the write failed */
	assert_int_equal(sent_pages_find(&s, 42, 9, 5), -1);
	sent_pages_reset(&s);
	assert_int_equal(sent_pages_find(&s, 42, 9, 5), -1);
	sent_pages_free(&s);
}

static void nothing_staged(void **state)
{
	struct sent_pages s = {0};

	sent_pages_reset(&s);
	sent_pages_seal(&s, 7); /* no array: nothing to sort */
	assert_int_equal(sent_pages_find(&s, 7, 1, 0), -1);
	sent_pages_free(&s);
}

static void too_many_no_base(void **state)
{
	struct sent_pages s = {0};

	sent_pages_reset(&s);
	for (uint64_t p = 0; p <= SENT_PAGES_MAX; p++)
		sent_pages_add(&s, 3, p, p);
	sent_pages_seal(&s, 8);
	assert_int_equal(sent_pages_find(&s, 8, 3, 0), -1);
	sent_pages_reset(&s); /* the next round may be a base again */
	sent_pages_add(&s, 3, 1, 0);
	sent_pages_seal(&s, 9);
	assert_int_equal(sent_pages_find(&s, 9, 3, 1), 0);
	sent_pages_free(&s);
}

/* The writer's order (ascending) finds each from the one before, and
 * any other order, pages between or absent, and a reindexed round
 * still find exactly what was carried. */
static void any_order(void **state)
{
	struct sent_pages s = {0};

	sent_pages_reset(&s);
	for (uint64_t p = 0; p < 100; p += 2)
		sent_pages_add(&s, 5, p, p / 2);
	sent_pages_add(&s, 2, 9, 50);
	sent_pages_seal(&s, 3);
	assert_int_equal(sent_pages_find(&s, 3, 2, 9), 50);
	for (uint64_t p = 0; p < 100; p++)
		assert_int_equal(sent_pages_find(&s, 3, 5, p),
				 p % 2 ? -1 : (int64_t)p / 2);
	for (uint64_t p = 100; p-- > 0;)
		assert_int_equal(sent_pages_find(&s, 3, 5, p),
				 p % 2 ? -1 : (int64_t)p / 2);
	assert_int_equal(sent_pages_find(&s, 3, 2, 10), -1);
	assert_int_equal(sent_pages_find(&s, 3, 5, 100), -1);
	sent_pages_reset(&s); /* fewer entries: the old guess is past them */
	sent_pages_add(&s, 5, 1, 7);
	sent_pages_seal(&s, 4);
	assert_int_equal(sent_pages_find(&s, 4, 5, 0), -1);
	assert_int_equal(sent_pages_find(&s, 4, 5, 1), 7);
	assert_int_equal(sent_pages_find(&s, 4, 5, 98), -1);
	sent_pages_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(found_after_seal),
	    cmocka_unit_test(nothing_staged),
	    cmocka_unit_test(too_many_no_base),
	    cmocka_unit_test(any_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
