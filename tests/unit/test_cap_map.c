/* libbase's cap map: slots, AVL tree keyed by id, fixed selectors,
 * receive-window ranges, rekeying and refcounts.  The kernel is faked. */
/* LDFLAGS: -Wl,--wrap=kernel_native_invoke -Wl,--wrap=kernel_native_utcb */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "base/native/native.h"

/* ---- fake kernel: one UTCB, records TASK_UNMAP calls ---- */
static struct utcb fake_utcb;
static struct native_component *fake_nc;
static unsigned unmap_calls;
static uint64_t unmap_kcap, unmap_flags;

struct utcb *__wrap_kernel_native_utcb(void)
{
	return &fake_utcb;
}

uint64_t __wrap_kernel_native_invoke(uint64_t kcap, uint64_t tag, uint64_t timeout,
				     uint64_t *label)
{
	*label = 0;
	if (kcap == KCAP(FIXED_TASK) && TAG_PROTO(tag) == PROTO_TASK &&
	    fake_utcb.mr[0] == TASK_UNMAP) {
		unmap_calls++;
		unmap_kcap = fake_utcb.mr[1];
		unmap_flags = fake_utcb.mr[2];
		return 0;
	}
	return TAG_WITH_ERROR(0, KERR_NOSYS);
}

static int setup(void **state)
{
	fake_nc = calloc(1, sizeof(*fake_nc));
	memset(&fake_utcb, 0, sizeof(fake_utcb));
	fake_utcb.tcr[TCR_COMPONENT] = (uint64_t)(uintptr_t)fake_nc;
	cap_map_init(cap_map());
	unmap_calls = 0;
	*state = cap_map();
	return fake_nc ? 0 : -1;
}

static int teardown(void **state)
{
	free(fake_nc);
	return 0;
}

static uint64_t index_of(struct cap_map *m, struct cap_index *e)
{
	return KCAP_INDEX(cap_map_kcap(m, e));
}

/* First-fit allocation starts at FIXED_USER_BASE and refills holes. */
static void first_fit_from_user_base(void **state)
{
	struct cap_map *m = *state;
	struct cap_index *e[4];

	for (int i = 0; i < 4; i++) {
		e[i] = cap_map_insert(m, 4 * (i + 1));
		assert_non_null(e[i]);
		assert_int_equal(index_of(m, e[i]), FIXED_USER_BASE + i);
		assert_int_equal(e[i]->ref, 1);
		assert_int_equal(e[i]->fixed, 0);
	}
	cap_map_remove(m, e[1]);
	assert_null(cap_map_find(m, 8));
	e[1] = cap_map_insert(m, 100);
	assert_int_equal(index_of(m, e[1]), FIXED_USER_BASE + 1);
	assert_int_equal(index_of(m, cap_map_insert(m, 104)), FIXED_USER_BASE + 4);
	assert_int_equal(cap_map_check(m), 0);
}

/* Ids 0 and CAP_ID_INVALID are never keys; a known id is refused. */
static void bad_and_duplicate_ids_refused(void **state)
{
	struct cap_map *m = *state;

	assert_null(cap_map_insert(m, 0));
	assert_null(cap_map_insert(m, CAP_ID_INVALID));
	assert_non_null(cap_map_insert(m, 40));
	assert_null(cap_map_insert(m, 40));
	assert_null(cap_map_insert_at(m, 40, KCAP(FIXED_PARENT)));
	assert_int_equal(cap_map_check(m), 0);
}

/* Fixed selectors: any slot by kcap, flagged fixed, never first-fit. */
static void fixed_selectors(void **state)
{
	struct cap_map *m = *state;
	struct cap_index *p = cap_map_insert_at(m, 8, KCAP(FIXED_PARENT));
	struct cap_index *t = cap_map_insert_at(m, 12, KCAP_THREAD(2, THREAD_SLOT_GATE));

	assert_non_null(p);
	assert_non_null(t);
	assert_int_equal(index_of(m, p), FIXED_PARENT);
	assert_int_equal(index_of(m, t), FIXED_THREAD_AREA + 2 * THREAD_AREA_SLOTS);
	assert_int_equal(p->fixed, 1);
	assert_ptr_equal(cap_map_find(m, 8), p);
	assert_null(cap_map_insert_at(m, 16, KCAP(FIXED_PARENT)));     /* occupied */
	assert_null(cap_map_insert_at(m, 16, KCAP(FIXED_PARENT) + 1)); /* misaligned */
	assert_null(cap_map_insert_at(m, 16, KCAP(0)));		       /* slot 0 */
	assert_null(cap_map_insert_at(m, 16, KCAP(CAP_SLOTS)));	       /* out of range */
	/* low slots stay free, yet first-fit does not use them */
	assert_true(index_of(m, cap_map_insert(m, 20)) >= FIXED_USER_BASE);
	assert_ptr_equal(cap_map_entry(m, KCAP(FIXED_PARENT)), p);
	assert_null(cap_map_entry(m, KCAP(CAP_SLOTS)));
	assert_int_equal(cap_map_check(m), 0);
}

/* Random inserts and removes keep the AVL tree ordered and balanced
 * after every single operation, and agree with a shadow table. */
static void random_stress_keeps_avl_valid(void **state)
{
	struct cap_map *m = *state;
	enum { N = 1500 };
	static uint64_t ids[N];
	static struct cap_index *ents[N];
	unsigned live = 0;

	srand(12345);
	for (int op = 0; op < 6000; op++) {
		int do_insert = live == 0 || (live < N && rand() % 3 != 0);

		if (do_insert) {
			uint64_t id = ((uint64_t)rand() << 32 | (uint64_t)rand()) & ~3ULL;
			struct cap_index *e;

			if (!id || cap_map_find(m, id))
				continue;
			e = cap_map_insert(m, id);
			assert_non_null(e);
			ids[live] = id;
			ents[live++] = e;
		} else {
			unsigned k = (unsigned)rand() % live;

			assert_ptr_equal(cap_map_find(m, ids[k]), ents[k]);
			cap_map_remove(m, ents[k]);
			assert_null(cap_map_find(m, ids[k]));
			ids[k] = ids[--live];
			ents[k] = ents[live];
		}
		assert_int_equal(cap_map_check(m), 0);
	}
	for (unsigned k = 0; k < live; k++)
		assert_ptr_equal(cap_map_find(m, ids[k]), ents[k]);
	/* ascending and descending runs are the classic AVL worst cases */
	cap_map_init(m);
	for (uint64_t id = 4; id <= 4 * 1000; id += 4)
		assert_non_null(cap_map_insert(m, id));
	assert_int_equal(cap_map_check(m), 0);
	for (uint64_t id = 4 * 1000; id >= 4; id -= 4) {
		cap_map_remove(m, cap_map_find(m, id));
		if (id % 64 == 0)
			assert_int_equal(cap_map_check(m), 0);
	}
	assert_null(m->root);
}

/* The slots run out cleanly. */
static void exhaustion(void **state)
{
	struct cap_map *m = *state;
	uint64_t id = 4;

	for (unsigned i = FIXED_USER_BASE; i < CAP_SLOTS; i++, id += 4)
		assert_non_null(cap_map_insert(m, id));
	assert_null(cap_map_insert(m, id));
	assert_null(cap_map_alloc_range(m, 1));
	assert_int_equal(cap_map_check(m), 0);
}

/* alloc_range takes n consecutive free slots, reserved but not keyed. */
static void alloc_range_consecutive(void **state)
{
	struct cap_map *m = *state;
	struct cap_index *a = cap_map_insert(m, 4), *b, *w;

	b = cap_map_insert(m, 8);
	cap_map_insert(m, 12);
	cap_map_remove(m, b); /* a one-slot hole at 0x301 */
	w = cap_map_alloc_range(m, 4);
	assert_non_null(w);
	assert_int_equal(index_of(m, w), FIXED_USER_BASE + 3);
	for (int j = 0; j < 4; j++)
		assert_true(w[j].id == CAP_ID_INVALID);
	assert_int_equal(cap_map_check(m), 0);
	/* the hole is used next, then allocation skips the window */
	assert_int_equal(index_of(m, cap_map_insert(m, 16)), FIXED_USER_BASE + 1);
	assert_int_equal(index_of(m, cap_map_insert(m, 20)), FIXED_USER_BASE + 7);
	assert_null(cap_map_alloc_range(m, 0));
	assert_non_null(a);
}

/* rekey changes the id and re-sorts, the slot (the kcap) stays. */
static void rekey_keeps_slots(void **state)
{
	struct cap_map *m = *state;
	struct cap_index *e[64];

	for (int i = 0; i < 64; i++)
		e[i] = cap_map_insert(m, 4 * (i + 1));
	for (int i = 0; i < 64; i++) {
		uint64_t slot = index_of(m, e[i]);

		assert_int_equal(cap_map_rekey(m, e[i], 0x100000 - 4 * i), 0);
		assert_int_equal(index_of(m, e[i]), slot);
		assert_int_equal(cap_map_check(m), 0);
	}
	assert_null(cap_map_find(m, 4));
	assert_ptr_equal(cap_map_find(m, 0x100000), e[0]);
	assert_int_equal(cap_map_rekey(m, e[1], 0x100000), -EEXIST);
	assert_int_equal(cap_map_rekey(m, e[1], 0), -EINVAL);
	/* a restorer rewrites ids in place, then rebuilds the whole tree */
	for (int i = 0; i < 64; i++)
		e[i]->id = 0x200000 + 4 * (uint64_t)((i * 37) % 64);
	assert_int_not_equal(cap_map_check(m), 0); /* the tree is out of order now */
	assert_int_equal(cap_map_rebuild(m), 0);
	assert_int_equal(cap_map_check(m), 0);
	for (int i = 0; i < 64; i++)
		assert_ptr_equal(cap_map_find(m, e[i]->id), e[i]);
}

/* Dropping the last reference unmaps the kcap and frees the entry;
 * fixed selectors are never refcounted away. */
static void refcount_to_zero_frees(void **state)
{
	struct cap_map *m = *state;
	cap_t c = {cap_map_insert(m, 44)};
	cap_t f = {cap_map_insert_at(m, 48, KCAP(FIXED_PARENT))};
	uint64_t kcap = cap_kcap(c);

	assert_true(cap_valid(c));
	assert_int_equal(kcap, KCAP(FIXED_USER_BASE));
	cap_ref(c);
	assert_int_equal(c.idx->ref, 2);
	cap_release(c);
	assert_int_equal(unmap_calls, 0);
	assert_ptr_equal(cap_map_find(m, 44), c.idx);
	cap_release(c);
	assert_int_equal(unmap_calls, 1);
	assert_int_equal(unmap_kcap, kcap);
	assert_int_equal(unmap_flags, UNMAP_SELF);
	assert_null(cap_map_find(m, 44));
	assert_false(cap_valid(c));
	cap_release(c); /* a stale value is harmless */
	assert_int_equal(unmap_calls, 1);
	for (int i = 0; i < 5; i++)
		cap_release(f);
	assert_ptr_equal(cap_map_find(m, 48), f.idx);
	assert_int_equal(unmap_calls, 1);
	assert_int_equal(cap_kcap(CAP_INVALID), KCAP_INVALID);
	assert_int_equal(cap_map_check(m), 0);
}

/* A native component's map goes on past CAP_SLOTS in its extension:
 * first fit runs into it once the fixed array is full, kcaps and entries
 * convert both ways, the tree keeps every id, and no receive window
 * spans the two arrays. */
static void extension_past_cap_slots(void **state)
{
	struct cap_map *m = *state;
	enum { EXT = 64 };
	struct cap_index *ext = calloc(EXT, sizeof *ext), *e, *w;
	uint64_t id = 4;

	assert_non_null(ext);
	cap_map_extend(m, ext, EXT);
	cap_map_init(m); /* keeps the extension */
	assert_int_equal(cap_map_size(m), CAP_SLOTS + EXT);
	for (unsigned i = FIXED_USER_BASE; i < CAP_SLOTS - 2; i++, id += 4)
		assert_non_null(cap_map_insert(m, id));
	/* two free slots at the end of the array: a window of 3 goes past */
	w = cap_map_alloc_range(m, 3);
	assert_ptr_equal(w, &ext[0]);
	assert_int_equal(cap_map_kcap(m, w), KCAP(CAP_SLOTS));
	e = cap_map_insert(m, id);
	assert_ptr_equal(e, &m->slot[CAP_SLOTS - 2]);
	assert_non_null(cap_map_insert(m, id += 4));
	e = cap_map_insert(m, id += 4);
	assert_ptr_equal(e, &ext[3]);
	assert_int_equal(cap_map_kcap(m, e), KCAP(CAP_SLOTS + 3));
	assert_ptr_equal(cap_map_entry(m, KCAP(CAP_SLOTS + 3)), e);
	assert_ptr_equal(cap_map_find(m, id), e);
	assert_null(cap_map_entry(m, KCAP(CAP_SLOTS + EXT)));
	assert_null(cap_map_slot(m, CAP_SLOTS + EXT));
	assert_int_equal(cap_map_check(m), 0);
	cap_map_remove(m, e);
	assert_null(cap_map_find(m, id));
	assert_ptr_equal(cap_map_insert(m, id), e);
	assert_int_equal(cap_map_check(m), 0);
	cap_map_extend(m, NULL, 0);
	free(ext);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(first_fit_from_user_base, setup, teardown),
	    cmocka_unit_test_setup_teardown(bad_and_duplicate_ids_refused, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(fixed_selectors, setup, teardown),
	    cmocka_unit_test_setup_teardown(random_stress_keeps_avl_valid, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(exhaustion, setup, teardown),
	    cmocka_unit_test_setup_teardown(alloc_range_consecutive, setup, teardown),
	    cmocka_unit_test_setup_teardown(rekey_keeps_slots, setup, teardown),
	    cmocka_unit_test_setup_teardown(refcount_to_zero_frees, setup, teardown),
	    cmocka_unit_test_setup_teardown(extension_past_cap_slots, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
