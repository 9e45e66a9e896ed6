/*
 * The page channel of a post-copy destination (monitor/page_channel.c):
 * a page is written once and never over a page that arrived (a fixed-up
 * eager page stays as fixed), wants are queued once and in order, a
 * source that answers wants and pushes the rest from another thread
 * fills every page with its bytes, and a lost source is reported with its
 * reason and ends the sender's wait; the fill's wait for pages ends when
 * one arrives from another thread, when woken or failed, else on its
 * timeout.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <cmocka.h>
#include "image/image.h"
#include "monitor/page_channel.h"

#define PG PAGE_CHANNEL_PAGE

static void page_of(uint8_t *buf, unsigned ds, uint64_t p)
{
	for (unsigned i = 0; i < PG; i++)
		buf[i] = (uint8_t)(ds * 31 + p * 7 + i);
}

static void test_bad_sizes(void **state)
{
	uint64_t zero[2] = {4, 0}, ok = 1;

	(void)state;
	assert_null(page_channel_new(0, NULL, &ok));
	assert_null(page_channel_new(2, NULL, zero));
	assert_null(page_channel_new(PAGE_CHANNEL_MAX_DS + 1, NULL, &ok));
}

static void test_put_once(void **state)
{
	uint64_t pages[2] = {8, 3};
	struct page_channel *ch = page_channel_new(2, NULL, pages);
	uint8_t a[2 * PG], b[PG];
	struct page_channel_stats st;

	(void)state;
	assert_non_null(ch);
	assert_int_equal(page_channel_nds(ch), 2);
	assert_int_equal(page_channel_pages(ch, 1), 3);
	page_of(a, 0, 4);
	page_of(a + PG, 0, 5);
	assert_int_equal(page_channel_put(ch, 0, 4, 2, a, PAGE_EAGER), 2);
	assert_true(page_channel_arrived(ch, 0, 4) && page_channel_arrived(ch, 0, 5));
	assert_false(page_channel_arrived(ch, 0, 3));
	assert_false(page_channel_arrived(ch, 1, 4)); /* out of range */
	/* the restore fixes page 4 up in place; the source's push of it later
	 * must not undo that */
	page_channel_buf(ch, 0)[4 * PG] ^= 0xff;
	memcpy(b, a, PG);
	assert_int_equal(page_channel_put(ch, 0, 3, 2, (uint8_t[2 * PG]){0}, PAGE_PUSHED),
			 1);
	assert_int_equal(page_channel_buf(ch, 0)[4 * PG], (uint8_t)(b[0] ^ 0xff));
	assert_int_equal(page_channel_put(ch, 0, 7, 2, a, PAGE_PUSHED), -1);
	assert_int_equal(page_channel_put(ch, 2, 0, 1, a, PAGE_PUSHED), -1);
	page_channel_stats(ch, &st);
	assert_int_equal(st.total, 11);
	assert_int_equal(st.arrived, 3);
	assert_int_equal(st.eager, 2);
	assert_int_equal(st.pushed, 1);
	page_channel_free(ch);
}

static void test_wants(void **state)
{
	uint64_t pages[2] = {8, 8};
	struct page_channel *ch = page_channel_new(2, NULL, pages);
	uint8_t a[PG] = {1};
	uint64_t page;
	unsigned ds;

	(void)state;
	assert_int_equal(page_channel_next_want(ch, &ds, &page, 10), 0); /* none */
	assert_int_equal(page_channel_want(ch, 1, 6), 0);
	assert_int_equal(page_channel_want(ch, 0, 2), 0);
	assert_int_equal(page_channel_want(ch, 1, 6), 0); /* queued once */
	assert_int_equal(page_channel_want(ch, 0, 3), 0);
	assert_int_equal(page_channel_want(ch, 0, 9), -1);
	page_channel_put(ch, 0, 2, 1, a, PAGE_PUSHED); /* arrived meanwhile */
	assert_int_equal(page_channel_next_want(ch, &ds, &page, 10), 1);
	assert_true(ds == 1 && page == 6);
	assert_int_equal(page_channel_next_want(ch, &ds, &page, 10), 1);
	assert_true(ds == 0 && page == 3);
	assert_int_equal(page_channel_next_want(ch, &ds, &page, 10), 0);
	assert_int_equal(page_channel_want(ch, 0, 2), 0); /* arrived: not queued */
	assert_int_equal(page_channel_next_want(ch, &ds, &page, 10), 0);
	page_channel_free(ch);
}

#define NDS   3
#define NPAGE 512

struct source {
	struct page_channel *ch;
	uint64_t answered;
};

/* The source: answers wants first, pushes the rest in order, slowly. */
static void *source_main(void *arg)
{
	struct source *s = arg;
	uint8_t buf[PG];
	uint64_t page;
	unsigned ds, next_ds = 0;
	uint64_t next = 0;

	for (;;) {
		int rc = page_channel_next_want(s->ch, &ds, &page, 1);
		if (rc < 0)
			return NULL;
		if (rc == 1) {
			page_of(buf, ds, page);
			if (page_channel_put(s->ch, ds, page, 1, buf, PAGE_DEMAND) == 1)
				s->answered++;
			continue;
		}
		if (next_ds == NDS)
			continue;
		page_of(buf, next_ds, next);
		page_channel_put(s->ch, next_ds, next, 1, buf, PAGE_PUSHED);
		if (++next == NPAGE) {
			next = 0;
			next_ds++;
		}
	}
}

static void test_demand_and_push(void **state)
{
	uint64_t pages[NDS] = {NPAGE, NPAGE, NPAGE};
	struct source s = {.ch = page_channel_new(NDS, NULL, pages)};
	struct page_channel_stats st;
	uint8_t want[PG];
	pthread_t t;

	(void)state;
	assert_non_null(s.ch);
	assert_int_equal(pthread_create(&t, NULL, source_main, &s), 0);
	/* the "fill": waits for pages from the end backwards, as a target
	 * touching memory the push reaches last */
	for (unsigned ds = NDS; ds-- > 0;)
		for (uint64_t p = NPAGE; p-- > 0; p = p > 40 ? p - 40 : 0) {
			while (!page_channel_arrived(s.ch, ds, p))
				page_channel_want(s.ch, ds, p);
			page_of(want, ds, p);
			assert_memory_equal(page_channel_buf(s.ch, ds) + p * PG, want,
					    PG);
			if (!p)
				break;
		}
	for (unsigned ds = 0; ds < NDS; ds++)
		for (uint64_t p = 0; p < NPAGE; p++) {
			while (!page_channel_arrived(s.ch, ds, p))
				;
			page_of(want, ds, p);
			assert_memory_equal(page_channel_buf(s.ch, ds) + p * PG, want,
					    PG);
		}
	pthread_join(t, NULL); /* every page arrived: next_want said -1 */
	page_channel_stats(s.ch, &st);
	assert_int_equal(st.arrived, (uint64_t)NDS * NPAGE);
	assert_int_equal(st.demand + st.pushed, st.arrived);
	assert_int_equal(st.demand, s.answered);
	assert_true(st.demand > 0);
	assert_true(st.pushed > 0);
	page_channel_free(s.ch);
}

/* The hand-over: offered once, claimed once, the last reference frees. */
static void test_offer(void **state)
{
	uint64_t ids[2] = {70, 12}, pages[2] = {1, 2};
	struct page_channel *ch = page_channel_new(2, ids, pages), *other;

	(void)state;
	assert_int_equal(page_channel_index(ch, 12), 1);
	assert_int_equal(page_channel_index(ch, 13), -1);
	assert_int_equal(page_channel_id(ch, 0), 70);
	assert_null(page_channel_claim());
	assert_int_equal(page_channel_offer(ch), 0);
	other = page_channel_new(2, ids, pages);
	assert_int_equal(page_channel_offer(other), -1); /* one at a time */
	assert_ptr_equal(page_channel_claim(), ch);
	assert_null(page_channel_claim());
	page_channel_withdraw(ch); /* claimed: nothing to withdraw */
	page_channel_free(ch);	   /* the claimer's reference */
	assert_int_equal(page_channel_pages(ch, 1), 2);
	page_channel_free(ch);
	assert_int_equal(page_channel_offer(other), 0);
	page_channel_withdraw(other);
	assert_null(page_channel_claim());
	page_channel_free(other);
}

/* The skeleton read once: published with the channel, taken by the
 * restore of the same path only, once; freed with a claim or the
 * channel if not taken (the sanitizer build's leak check) */
static void test_skeleton(void **state)
{
	uint64_t ids[1] = {70}, pages[1] = {1};
	struct page_channel *ch = page_channel_new(1, ids, pages);
	struct image_model *im = calloc(1, sizeof *im);

	(void)state;
	page_channel_set_skeleton(ch, "/a/final.img", im);
	page_channel_set_skeleton(ch, "/a/final.img", calloc(1, sizeof *im));
	assert_null(page_channel_take_skeleton("/a/final.img")); /* not offered */
	assert_int_equal(page_channel_offer(ch), 0);
	assert_null(page_channel_take_skeleton("/b/final.img"));
	assert_ptr_equal(page_channel_take_skeleton("/a/final.img"), im);
	assert_null(page_channel_take_skeleton("/a/final.img"));
	image_model_free(im);
	page_channel_set_skeleton(ch, "/a/final.img", calloc(1, sizeof *im));
	assert_ptr_equal(page_channel_claim(), ch); /* frees the untaken one */
	assert_null(page_channel_take_skeleton("/a/final.img"));
	page_channel_free(ch);
	page_channel_free(ch);
	ch = page_channel_new(1, ids, pages);
	page_channel_set_skeleton(ch, "/a/final.img", calloc(1, sizeof *im));
	page_channel_free(ch); /* never offered: freed with it */
}

static void test_failed(void **state)
{
	uint64_t pages = 4, page;
	struct page_channel *ch = page_channel_new(1, NULL, &pages);
	char why[64] = "";
	unsigned ds;

	(void)state;
	assert_int_equal(page_channel_failed(ch, why, sizeof why), 0);
	page_channel_want(ch, 0, 1);
	page_channel_fail(ch, "the source closed the connection");
	page_channel_fail(ch, "a later reason");
	assert_int_equal(page_channel_failed(ch, why, sizeof why), 1);
	assert_string_equal(why, "the source closed the connection");
	assert_int_equal(page_channel_next_want(ch, &ds, &page, 1000), -1);
	page_channel_free(ch);
}

struct arrive {
	struct page_channel *ch;
	int how; /* 0: a page, 1: wake, 2: fail */
};

static void *arrive_main(void *arg)
{
	struct arrive *a = arg;
	struct timespec ts = {0, 30 * 1000000L};

	nanosleep(&ts, NULL); /* the waiter waits first */
	if (a->how == 0)
		page_channel_put(a->ch, 0, 2, 1, NULL, PAGE_PUSHED);
	else if (a->how == 1)
		page_channel_wake(a->ch);
	else
		page_channel_fail(a->ch, "lost");
	return NULL;
}

static void test_wait(void **state)
{
	uint64_t pages = 4;
	struct page_channel *ch = page_channel_new(1, NULL, &pages);
	struct page_channel_stats st;

	(void)state;
	assert_non_null(ch);
	assert_int_equal(page_channel_wait(ch, 0, 20), 0); /* nothing: timeout */
	page_channel_put(ch, 0, 0, 1, NULL, PAGE_PUSHED);
	assert_int_equal(page_channel_wait(ch, 0, 5000), 1); /* beyond seen already */
	for (int how = 0; how < 3; how++) {
		struct arrive a = {ch, how};
		struct timespec t0, t1;
		pthread_t t;
		page_channel_stats(ch, &st);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(pthread_create(&t, NULL, arrive_main, &a), 0);
		assert_int_equal(page_channel_wait(ch, st.arrived, 5000), 1);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		assert_true(t1.tv_sec - t0.tv_sec < 2); /* not its timeout */
		pthread_join(t, NULL);
	}
	page_channel_free(ch);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_sizes), cmocka_unit_test(test_put_once),
	    cmocka_unit_test(test_wants),     cmocka_unit_test(test_demand_and_push),
	    cmocka_unit_test(test_offer),     cmocka_unit_test(test_skeleton),
	    cmocka_unit_test(test_failed),    cmocka_unit_test(test_wait),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
