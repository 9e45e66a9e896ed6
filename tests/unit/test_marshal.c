/* libbase IPC marshalling: msg_* encoding and bounds, the UTCB layout,
 * receive-side insert_map (new, known-same, forged, revoked) and
 * rpc_call, against a fake kernel that models the own task's cap space
 * and its mapping tree. */
/* clang-format off */
/* LDFLAGS: -Wl,--wrap=kernel_native_invoke -Wl,--wrap=kernel_native_utcb -Wl,--wrap=cap_map_kcap */
/* clang-format on */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "base/native/native.h"

/* ---- fake kernel --------------------------------------------------------
 * One task: slot i holds object obj[i] (0: empty); parent[i] is the slot
 * it was mapped from (-1: from another task).  Unmap revokes the subtree;
 * a map item landing on a full slot releases it (children move up), as
 * the real mapping database does. */
#define NOBJ_PARENT (-1)
static uint64_t obj[CAP_SLOTS];
static int parent[CAP_SLOTS];
static struct utcb fake_utcb;
static struct native_component *fake_nc;
static uint64_t server_kcap, server_badge; /* a fake gate: answers w[0] + 1 */
/* the badge span (tcr[TCR_BADGES]) as the fake server saw it at the trap,
 * and kcaps looked up (reading a cap's entry) while watched, unmarked */
static uint64_t trap_mark;
static unsigned watch_marks, kcap_reads, kcap_unmarked;

uint64_t __real_cap_map_kcap(const struct cap_map *m, const struct cap_index *e);
uint64_t __wrap_cap_map_kcap(const struct cap_map *m, const struct cap_index *e)
{
	if (watch_marks) {
		kcap_reads++;
		kcap_unmarked += !fake_utcb.tcr[TCR_BADGES];
	}
	return __real_cap_map_kcap(m, e);
}

struct utcb *__wrap_kernel_native_utcb(void)
{
	return &fake_utcb;
}

static void fk_revoke(unsigned s, int self)
{
	for (unsigned i = 1; i < CAP_SLOTS; i++)
		if (obj[i] && parent[i] == (int)s)
			fk_revoke(i, 1);
	if (self) {
		obj[s] = 0;
		parent[s] = NOBJ_PARENT;
	}
}

/* Empty slot s, handing what was derived from it up to s's own source. */
static void fk_release(unsigned s)
{
	for (unsigned i = 1; i < CAP_SLOTS; i++)
		if (obj[i] && parent[i] == (int)s)
			parent[i] = parent[s];
	obj[s] = 0;
	parent[s] = NOBJ_PARENT;
}

/* The kernel delivering map item j with object o into the window. */
static uint64_t fk_deliver(unsigned j, uint64_t o)
{
	unsigned s = (unsigned)KCAP_INDEX(fake_utcb.br[0]) + j;

	fk_release(s);
	obj[s] = o;
	parent[s] = NOBJ_PARENT;
	return KCAP(s) | RIGHTS_ALL;
}

static uint64_t fk_task(uint64_t tag)
{
	uint64_t *mr = fake_utcb.mr;
	unsigned a = (unsigned)KCAP_INDEX(mr[1]), b = (unsigned)KCAP_INDEX(mr[2]);

	switch (mr[0]) {
	case TASK_MAP: {
		unsigned d = (unsigned)KCAP_INDEX(mr[3]);

		if (!obj[b] || mr[1] != KCAP_INVALID)
			return TAG_WITH_ERROR(0, KERR_INVAL_CAP);
		if (d == b)
			return 0;
		fk_revoke(d, 1);
		obj[d] = obj[b];
		parent[d] = (int)b;
		return 0;
	}
	case TASK_UNMAP:
		if (mr[2] & UNMAP_RELEASE)
			fk_release(a);
		else
			fk_revoke(a, mr[2] & UNMAP_SELF);
		return 0;
	case TASK_CAP_VALID:
		mr[0] = obj[a] != 0;
		return TAG(0, 0, 1, 0);
	case TASK_CAP_EQUAL:
		mr[0] = obj[a] && obj[a] == obj[b];
		return TAG(0, 0, 1, 0);
	}
	return TAG_WITH_ERROR(0, KERR_NOSYS);
}

/* The fake server behind server_kcap: checks the badge word, returns
 * w[0] + 1 with exception RPC_OK, in libbase's own reply layout. */
static uint64_t fk_server(uint64_t tag)
{
	struct utcb *u = &fake_utcb;
	unsigned ncaps = (unsigned)u->mr[1];
	uint64_t arg = u->mr[3 + ncaps];

	trap_mark = u->tcr[TCR_BADGES];
	if (u->mr[0] != server_badge)
		return TAG_WITH_ERROR(0, KERR_INVAL);
	u->mr[0] = RPC_OK;
	u->mr[1] = 0;
	u->mr[2] = RPC_OK;
	u->mr[3] = arg + 1;
	return TAG(0, 0, 4, 0);
}

uint64_t __wrap_kernel_native_invoke(uint64_t kcap, uint64_t tag, uint64_t timeout,
				     uint64_t *label)
{
	*label = 0;
	if (kcap == KCAP(FIXED_TASK) && TAG_PROTO(tag) == PROTO_TASK)
		return fk_task(tag);
	if (kcap == server_kcap && TAG_OP(tag) == SYS_OP_CALL)
		return fk_server(tag);
	if (kcap != KCAP_INVALID && !obj[KCAP_INDEX(kcap) % CAP_SLOTS])
		return TAG_WITH_ERROR(0, KERR_INVAL_CAP);
	return TAG_WITH_ERROR(0, KERR_ABORTED);
}

static int setup(void **state)
{
	fake_nc = calloc(1, sizeof(*fake_nc));
	if (!fake_nc)
		return -1;
	memset(&fake_utcb, 0, sizeof(fake_utcb));
	memset(obj, 0, sizeof(obj));
	for (unsigned i = 0; i < CAP_SLOTS; i++)
		parent[i] = NOBJ_PARENT;
	fake_utcb.tcr[TCR_COMPONENT] = (uint64_t)(uintptr_t)fake_nc;
	fake_utcb.tcr[TCR_USER] = (uint64_t)(uintptr_t)&fake_nc->state.main_thread;
	cap_map_init(cap_map());
	fake_nc->state.main_thread.window =
	    cap_map_kcap(cap_map(), cap_map_alloc_range(cap_map(), 4));
	fake_utcb.br[0] = fake_nc->state.main_thread.window;
	server_kcap = 0;
	*state = cap_map();
	return 0;
}

static int teardown(void **state)
{
	free(fake_nc);
	return 0;
}

/* A cap map entry with id whose kcap holds fake object o. */
static cap_t make_cap(uint64_t id, uint64_t o)
{
	struct cap_index *e = cap_map_insert(cap_map(), id);

	obj[KCAP_INDEX(cap_map_kcap(cap_map(), e))] = o;
	return (cap_t){e};
}

static uint64_t window_obj(unsigned j)
{
	return obj[KCAP_INDEX(fake_utcb.br[0]) + j];
}

/* ---- cases ---------------------------------------------------------------*/

/* Words and caps are bounded by what fits in the UTCB. */
static void put_bounds(void **state)
{
	struct msg m;
	cap_t c = make_cap(4, 1);

	msg_reset(&m, 7);
	for (unsigned i = 0; i < MSG_MAX_WORDS; i++)
		assert_int_equal(msg_put(&m, i), 0);
	assert_int_equal(msg_put(&m, 0), -E2BIG);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(msg_put_cap(&m, c), 0);
	assert_int_equal(msg_put_cap(&m, c), -E2BIG); /* 4 caps + 64 words overflow */
	msg_reset(&m, 7);
	for (unsigned i = 0; i < MSG_MAX_ITEMS; i++)
		assert_int_equal(msg_put_cap(&m, c), 0);
	assert_int_equal(msg_put_cap(&m, c), -E2BIG); /* never more than 4 */
	assert_int_equal(m.ncaps, MSG_MAX_ITEMS);
}

/* Strings and bytes round-trip; short buffers and lying lengths fail
 * without moving the read position. */
static void strings_and_bytes(void **state)
{
	struct msg m;
	char buf[64];
	uint8_t bytes[13] = {1, 2, 3, 0, 5, 6, 7, 8, 9, 10, 11, 12, 13}, out[13];
	uint64_t len;
	unsigned pos = 0;

	msg_reset(&m, 1);
	assert_int_equal(msg_put_str(&m, "hello, world"), 0);
	assert_int_equal(msg_put_str(&m, ""), 0);
	assert_int_equal(msg_put_bytes(&m, bytes, sizeof(bytes)), 0);
	assert_int_equal(m.nwords, 1 + 2 + 1 + 1 + 2);
	assert_int_equal(msg_get_str(&m, &pos, buf, 5), -EINVAL); /* too small */
	assert_int_equal(pos, 0);
	assert_int_equal(msg_get_str(&m, &pos, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "hello, world");
	assert_int_equal(msg_get_str(&m, &pos, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(msg_get_str(&m, &(unsigned){pos}, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(msg_get_bytes(&m, &pos, out, sizeof(out), &len), 0);
	assert_int_equal(len, sizeof(bytes));
	assert_memory_equal(out, bytes, sizeof(bytes));
	assert_int_equal(pos, m.nwords);
	assert_int_equal(msg_get_bytes(&m, &pos, out, sizeof(out), &len),
			 -EINVAL); /* past end */
	/* a length word claiming more than the message holds */
	msg_reset(&m, 1);
	msg_put(&m, 100);
	msg_put(&m, 0);
	pos = 0;
	assert_int_equal(msg_get_bytes(&m, &pos, buf, sizeof(buf), &len), -EINVAL);
	msg_reset(&m, 1);
	msg_put(&m, ~0ULL);
	assert_int_equal(msg_get_str(&m, &pos, buf, sizeof(buf)), -EINVAL);
	/* the largest byte string that fits, and one byte more */
	static char big[MSG_MAX_WORDS * 8];
	memset(big, 'x', sizeof(big));
	msg_reset(&m, 1);
	assert_int_equal(msg_put_bytes(&m, big, (MSG_MAX_WORDS - 1) * 8), 0);
	msg_reset(&m, 1);
	assert_int_equal(msg_put_bytes(&m, big, (MSG_MAX_WORDS - 1) * 8 + 1), -E2BIG);
}

/* The UTCB layout: first word, cap count, badges, code, payload, then one
 * map item per valid cap. */
static void to_utcb_layout(void **state)
{
	struct msg m;
	cap_t a = make_cap(0x40, 1), b = make_cap(0x44, 2);
	uint64_t tag;

	msg_reset(&m, 9);
	msg_put_cap(&m, a);
	msg_put_cap(&m, CAP_INVALID);
	msg_put_cap(&m, b);
	msg_put(&m, 111);
	msg_put(&m, 222);
	tag = msg_to_utcb(&fake_utcb, &m, 0x1234);
	assert_int_equal(TAG_WORDS(tag), 3 + 3 + 2);
	assert_int_equal(TAG_ITEMS(tag), 2);
	assert_int_equal(fake_utcb.mr[0], 0x1234);
	assert_int_equal(fake_utcb.mr[1], 3);
	assert_int_equal(fake_utcb.mr[2], 0x40);
	assert_true(fake_utcb.mr[3] == CAP_ID_INVALID);
	assert_int_equal(fake_utcb.mr[4], 0x44);
	assert_int_equal(fake_utcb.mr[5], 9);
	assert_int_equal(fake_utcb.mr[6], 111);
	assert_int_equal(fake_utcb.mr[7], 222);
	assert_int_equal(fake_utcb.mr[8], cap_kcap(a) | RIGHT_R | RIGHT_W);
	assert_int_equal(fake_utcb.mr[9], cap_kcap(b) | RIGHT_R | RIGHT_W);
}

/* Sending and receiving (with the kernel's item rewrite) round-trips the
 * words, and the caps come back as the same entries (known badges). */
static void utcb_round_trip(void **state)
{
	struct msg m, r;
	cap_t a = make_cap(0x40, 1), b = make_cap(0x44, 2);
	uint64_t tag, first;

	msg_reset(&m, 5);
	for (unsigned i = 0; i < 50; i++)
		msg_put(&m, i * 3);
	msg_put_cap(&m, a);
	msg_put_cap(&m, b);
	tag = msg_to_utcb(&fake_utcb, &m, 77);
	/* the kernel maps each item into the receiver's window */
	for (unsigned j = 0; j < TAG_ITEMS(tag); j++) {
		uint64_t *item = &fake_utcb.mr[TAG_WORDS(tag) + j];
		*item = fk_deliver(j, obj[KCAP_INDEX(*item)]);
	}
	assert_int_equal(msg_from_utcb(&fake_utcb, tag, &r, &first), 0);
	assert_int_equal(first, 77);
	assert_int_equal(r.code, 5);
	assert_int_equal(r.nwords, 50);
	assert_memory_equal(r.w, m.w, 50 * sizeof(uint64_t));
	assert_int_equal(r.ncaps, 2);
	assert_ptr_equal(r.caps[0].idx, a.idx);
	assert_ptr_equal(r.caps[1].idx, b.idx);
	assert_int_equal(a.idx->ref, 2);
	assert_int_equal(window_obj(0), 0); /* duplicates leave the window empty */
	assert_int_equal(window_obj(1), 0);
	assert_int_equal(cap_map_check(cap_map()), 0);
}

/* Malformed messages are refused and whatever landed in the window is
 * unmapped. */
static void malformed_refused(void **state)
{
	struct msg r;
	uint64_t first, *mr = fake_utcb.mr;

	mr[0] = 1, mr[1] = 5, mr[2] = 0;
	assert_int_equal(msg_from_utcb(&fake_utcb, TAG(0, 0, 8, 0), &r, &first), -EINVAL);
	assert_int_equal(msg_from_utcb(&fake_utcb, TAG(0, 0, 2, 0), &r, &first), -EINVAL);
	mr[1] = 2; /* two caps need at least 5 words */
	assert_int_equal(msg_from_utcb(&fake_utcb, TAG(0, 0, 4, 0), &r, &first), -EINVAL);
	/* one valid badge but two items: counts disagree */
	mr[1] = 1, mr[2] = 0x80, mr[3] = 1;
	mr[4] = fk_deliver(0, 9);
	mr[5] = fk_deliver(1, 10);
	assert_int_equal(msg_from_utcb(&fake_utcb, TAG(0, 0, 4, 2), &r, &first), -EINVAL);
	assert_int_equal(window_obj(0), 0);
	assert_int_equal(window_obj(1), 0);
	assert_null(cap_map_find(cap_map(), 0x80));
}

/* A new badge gets a fresh entry holding the object; the entry survives
 * the next cap landing in the same window slot. */
static void insert_map_new(void **state)
{
	struct cap_map *m = *state;
	uint64_t win = fk_deliver(0, 42) & ~(uint64_t)RIGHTS_ALL;
	cap_t c = cap_map_insert_map(m, 0x100, win);

	assert_true(cap_valid(c));
	assert_int_equal(cap_badge(c), 0x100);
	assert_int_equal(c.idx->ref, 1);
	assert_int_equal(obj[KCAP_INDEX(cap_kcap(c))], 42);
	assert_true(KCAP_INDEX(cap_kcap(c)) >= FIXED_USER_BASE);
	assert_true(cap_kcap(c) != win);
	assert_int_equal(obj[KCAP_INDEX(win)], 0); /* the window slot is empty again */
	fk_deliver(0, 43);			   /* next receipt reuses the slot */
	assert_int_equal(obj[KCAP_INDEX(cap_kcap(c))], 42);
	assert_int_equal(cap_map_check(m), 0);
}

/* A known badge for the same object reuses the entry. */
static void insert_map_known_same(void **state)
{
	struct cap_map *m = *state;
	cap_t c = make_cap(0x100, 42), d;

	d = cap_map_insert_map(m, 0x100, fk_deliver(1, 42) & ~(uint64_t)RIGHTS_ALL);
	assert_ptr_equal(d.idx, c.idx);
	assert_int_equal(c.idx->ref, 2);
	assert_int_equal(window_obj(1), 0);
}

/* A known badge for another object is forged: invalid, entry untouched. */
static void insert_map_forged(void **state)
{
	struct cap_map *m = *state;
	cap_t c = make_cap(0x100, 42), d;

	d = cap_map_insert_map(m, 0x100, fk_deliver(2, 666) & ~(uint64_t)RIGHTS_ALL);
	assert_false(cap_valid(d));
	assert_int_equal(c.idx->ref, 1);
	assert_int_equal(obj[KCAP_INDEX(cap_kcap(c))], 42);
	assert_int_equal(window_obj(2), 0);
}

/* A known badge whose own copy was revoked takes the new cap. */
static void insert_map_revoked(void **state)
{
	struct cap_map *m = *state;
	cap_t c = make_cap(0x100, 42), d;

	obj[KCAP_INDEX(cap_kcap(c))] = 0; /* revoked behind our back */
	d = cap_map_insert_map(m, 0x100, fk_deliver(3, 42) & ~(uint64_t)RIGHTS_ALL);
	assert_ptr_equal(d.idx, c.idx);
	assert_int_equal(c.idx->ref, 2);
	assert_int_equal(obj[KCAP_INDEX(cap_kcap(c))], 42);
}

/* kernel errors map to the errnos rpc_call documents. */
static void kerr_mapping(void **state)
{
	static const struct {
		unsigned kerr;
		int err;
	} t[] = {{KERR_OK, 0},
		 {KERR_INVAL_CAP, -ECONNREFUSED},
		 {KERR_TIMEOUT, -ETIMEDOUT},
		 {KERR_ABORTED, -EPIPE},
		 {KERR_PERM, -EPERM},
		 {KERR_INVAL, -EINVAL},
		 {KERR_NOSYS, -ENOSYS},
		 {KERR_NOMEM, -ENOMEM},
		 {KERR_BUSY, -EBUSY},
		 {KERR_RANGE, -ERANGE},
		 {999, -EIO}};

	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(kerr_to_errno(t[i].kerr), t[i].err);
}

/* rpc_call: badge in mr[0], reply decoded; errors from the kernel. */
static void rpc_call_round_trip(void **state)
{
	cap_t s = make_cap(0x200, 77), dead = make_cap(0x204, 0);
	struct msg m;

	server_kcap = cap_kcap(s);
	server_badge = 0x200;
	msg_reset(&m, 3);
	msg_put(&m, 41);
	assert_int_equal(rpc_call(s, &m), 0);
	assert_int_equal(m.code, RPC_OK);
	assert_int_equal(m.nwords, 1);
	assert_int_equal(m.w[0], 42);
	server_badge = 0x300; /* the badge word no longer matches */
	assert_int_equal(rpc_call(s, &m), -EINVAL);
	assert_int_equal(rpc_call(dead, &m), -ECONNREFUSED);
	assert_int_equal(rpc_call(CAP_INVALID, &m), -EINVAL);
}

/* rpc_call keeps badges outside the cap map from reading them (each
 * cap's entry) up to the trap: the UTCB marks that span, so a checkpoint
 * does not cut it (a restore would leave them stale: worker's thread_join
 * sent the killed thread's old badge).  At the trap the span is closed
 * (the badges are in the UTCB, where a restore rewrites a caught call),
 * and a caller's own span goes on from the reply's delivery. */
static void rpc_call_badge_span(void **state)
{
	cap_t s = make_cap(0x200, 77), c = make_cap(0x204, 78);
	uint64_t before;
	struct msg m;

	server_kcap = cap_kcap(s);
	server_badge = 0x200;
	msg_reset(&m, 3);
	msg_put_cap(&m, c);
	msg_put(&m, 41);
	watch_marks = 1;
	trap_mark = 7;
	assert_int_equal(rpc_call(s, &m), 0);
	watch_marks = 0;
	assert_int_equal(m.w[0], 42);
	assert_true(kcap_reads >= 2); /* the cap's and the gate's */
	assert_int_equal(kcap_unmarked, 0);
	assert_int_equal(trap_mark, 0);
	assert_int_equal(fake_utcb.tcr[TCR_BADGES], 0);
	/* inside a caller's span (thread_create: a reply's word) */
	before = cap_badges_hold();
	assert_int_equal(before, 0);
	trap_mark = 7;
	msg_reset(&m, 3);
	msg_put(&m, 1);
	assert_int_equal(rpc_call(s, &m), 0);
	/* at the trap: held again once the reply is delivered (the kernel's
	 * part), not before: a thread paused at the call keeps no badge */
	assert_int_equal(trap_mark, TCR_BADGES_AT_REPLY);
	assert_int_equal(fake_utcb.tcr[TCR_BADGES], TCR_BADGES_HELD);
	cap_badges_done(before);
	assert_int_equal(fake_utcb.tcr[TCR_BADGES], 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(put_bounds),
	    T(strings_and_bytes),
	    T(to_utcb_layout),
	    T(utcb_round_trip),
	    T(malformed_refused),
	    T(insert_map_new),
	    T(insert_map_known_same),
	    T(insert_map_forged),
	    T(insert_map_revoked),
	    T(kerr_mapping),
	    T(rpc_call_round_trip),
	    T(rpc_call_badge_span),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
