/* libbase rpc_call_taken_within: only the send is bounded.  Against a
 * scripted kernel: every try is a call with timeout 0 (sent only to a
 * server that waits already, its reply not bounded), a short wait lies
 * between two tries, the budget ends in -ETIMEDOUT with the request
 * never sent, and any other error ends the tries at once. */
/* LDFLAGS: -Wl,--wrap=kernel_native_invoke -Wl,--wrap=kernel_native_utcb */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "base/native/native.h"
#include "fake_native.h"

#define DST_BADGE 0x2000
#define DST_KCAP  KCAP(0x321)

static struct utcb fake_utcb;
static struct native_component *fake_nc;

/* the script: calls answered KERR_TIMEOUT until `busy` ran out, then
 * `last` (0: the reply below) */
static unsigned busy, calls, waits, other_timeouts;
static unsigned last;

struct utcb *__wrap_kernel_native_utcb(void)
{
	return &fake_utcb;
}

uint64_t __wrap_kernel_native_invoke(uint64_t kcap, uint64_t tag, uint64_t timeout,
				     uint64_t *label)
{
	*label = 0;
	if (TAG_OP(tag) == SYS_OP_WAIT) {
		waits++;
		other_timeouts += timeout == 0 || timeout > 1000;
		return TAG_WITH_ERROR(0, KERR_TIMEOUT);
	}
	assert_int_equal(TAG_OP(tag), SYS_OP_CALL);
	assert_true(kcap == DST_KCAP);
	calls++;
	other_timeouts += timeout != 0;
	if (busy) {
		busy--;
		return TAG_WITH_ERROR(0, KERR_TIMEOUT);
	}
	if (last)
		return TAG_WITH_ERROR(0, last);
	fake_utcb.mr[0] = 0; /* the reply: no caps, RPC_OK, one word */
	fake_utcb.mr[1] = 0;
	fake_utcb.mr[2] = RPC_OK;
	fake_utcb.mr[3] = 42;
	return TAG(0, 0, 4, 0);
}

static cap_t dst;

static int setup(void **state)
{
	if (fake_native_begin(&fake_utcb, &fake_nc))
		return -1;
	dst = (cap_t){cap_map_insert_at(cap_map(), DST_BADGE, DST_KCAP)};
	busy = calls = waits = other_timeouts = last = 0;
	return cap_valid(dst) ? 0 : -1;
}

static int teardown(void **state)
{
	free(fake_nc);
	return 0;
}

static void request(struct msg *m)
{
	msg_reset(m, 7);
	msg_put(m, 1);
}

/* taken at the fourth try: the reply is the caller's, three waits before */
static void taken_after_tries(void **state)
{
	struct msg m;

	busy = 3;
	request(&m);
	assert_int_equal(rpc_call_taken_within(dst, &m, 100000), 0);
	assert_int_equal(m.code, RPC_OK);
	assert_int_equal(m.nwords, 1);
	assert_int_equal(m.w[0], 42);
	assert_int_equal(calls, 4);
	assert_int_equal(waits, 3);
	assert_int_equal(other_timeouts, 0); /* every try 0, every wait short */
}

/* never taken: -ETIMEDOUT after the budget's tries, the request intact */
static void never_taken(void **state)
{
	struct msg m;

	busy = ~0u;
	request(&m);
	assert_int_equal(rpc_call_taken_within(dst, &m, 100000), -ETIMEDOUT);
	assert_int_equal(calls, 100000 / 200 + 1);
	assert_int_equal(waits, calls - 1);
	assert_int_equal(other_timeouts, 0);
	assert_int_equal(m.code, 7);
	assert_int_equal(m.nwords, 1);
	assert_int_equal(m.w[0], 1);
}

/* another error (the server is gone) ends the tries at once */
static void other_error_at_once(void **state)
{
	struct msg m;

	last = KERR_ABORTED;
	request(&m);
	assert_int_equal(rpc_call_taken_within(dst, &m, 100000),
			 kerr_to_errno(KERR_ABORTED));
	assert_int_equal(calls, 1);
	assert_int_equal(waits, 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(taken_after_tries),
	    T(never_taken),
	    T(other_error_at_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
