/*
 * Direct switches: two client/server pairs of native threads at one
 * priority.  A call and its reply run the partner next on the caller's
 * slice, so a pair goes on for a slice before the other one gets a turn:
 * the pairs change at most about once a slice, not at every round trip
 * (what made each round trip of many pairs go through all their engines),
 * and they do change, so neither pair waits for the other to finish.
 */
#include "kernel_node.h"

#define PAIRS	 2
#define ROUNDS	 20000
#define SLICE_US 1000 /* short slices: many of them in a short test */

struct pair {
	uint64_t task, thread, gate;
	unsigned done;
};
static struct pair pairs[PAIRS];
/* which pair made each round trip, in order */
static unsigned char order[PAIRS * ROUNDS];
static unsigned norder;

/* Answers mr[0] + 1. */
static void adder(void *arg)
{
	struct utcb *u = kernel_native_utcb();
	uint64_t label, tag;

	tag = kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER, &label);
	for (;;) {
		u->mr[0] = TAG_ERROR(tag) ? 0 : u->mr[0] + 1;
		tag = kernel_native_invoke(0, TAG(SYS_OP_REPLY_WAIT, 0, 1, 0), NEVER,
					   &label);
	}
}

static void client(void *arg)
{
	struct pair *p = arg;
	struct utcb *u = kernel_native_utcb();
	uint64_t label, tag;

	for (uint64_t i = 0; i < ROUNDS; i++) {
		u->mr[0] = i;
		tag = kernel_native_invoke(p->gate, TAG(SYS_OP_CALL, 0, 1, 0), NEVER,
					   &label);
		CHECK(!TAG_ERROR(tag) && u->mr[0] == i + 1);
		order[norder++] = (unsigned char)(p - pairs);
	}
	p->done = 1;
	kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER, &label);
}

static uint64_t elapsed_us;

static void root_pairs(void *arg)
{
	uint64_t t0;

	node_current->slice_us = SLICE_US;
	norder = 0;
	for (unsigned i = 0; i < PAIRS; i++) {
		struct pair *p = &pairs[i];

		*p = (struct pair){KCAP(0x300 + 0x10 * i), KCAP(0x301 + 0x10 * i),
				   KCAP(0x302 + 0x10 * i), 0};
		CHECK(create(p->task, FACTORY_TASK, TASK_NATIVE, 0) == KERR_OK);
		spawn(p->task, p->thread, 1, adder, NULL);
		CHECK(create(p->gate, FACTORY_GATE, p->thread, 0x40) == KERR_OK);
	}
	t0 = timeout_now();
	for (unsigned i = 0; i < PAIRS; i++)
		spawn(ROOT_TASK, KCAP(0x380 + i), 1 + i, client, &pairs[i]);
	while (!pairs[0].done || !pairs[1].done)
		sleep_us(200);
	elapsed_us = timeout_now() - t0;
	kernel_stop(0);
}

static void pairs_take_turns_by_slice(void **state)
{
	unsigned changes = 0, longest = 0, run = 0;

	assert_int_equal(boot(root_pairs), 0);
	assert_int_equal(failed_line, 0);
	assert_int_equal(norder, PAIRS * ROUNDS);
	for (unsigned i = 0; i < norder; i++) {
		if (i && order[i] != order[i - 1]) {
			changes++;
			run = 0;
		}
		if (++run > longest)
			longest = run;
	}
	print_message("%u round trips in %llu us (%u us slices): the pairs changed "
		      "%u times, longest turn %u round trips\n",
		      norder, (unsigned long long)elapsed_us, SLICE_US, changes, longest);
	/* a turn ends only with a slice (two per slice: the root's sleeps
	 * are turns of their own) */
	assert_true(changes <= 2 + 2 * elapsed_us / SLICE_US);
	/* the first pair's turn ended before it was done */
	assert_true(longest < ROUNDS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(pairs_take_turns_by_slice),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
