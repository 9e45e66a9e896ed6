/* monitor/cap_map_fix.c at the size of a full component: new badges for
 * thousands of live slots through the badge map's hash (the first pair of
 * an old badge wins, badges the map does not name stay), the tree rebuilt
 * with guest links, and links that are not slots of the map refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "monitor/restore.h"
#include "tests/unit/model_fixture.h"

#define GUEST_BASE 0x700000ULL
#define NLIVE	   3000 /* about what one component's cap map can hold */

static uint64_t old_id(unsigned i)
{
	return 0x1000 + 4 * (uint64_t)i; /* core's badges go in steps of 4 */
}

/* A model of one region: a cap map at GUEST_BASE with NLIVE entries,
 * links turned into guest addresses as the target holds them. */
static struct mon_model *map_model(struct cap_map **out)
{
	struct mon_model *m = calloc(1, sizeof *m);
	struct cap_map *cm = calloc(1, sizeof *cm);

	assert_non_null(m);
	assert_non_null(cm);
	cap_map_init(cm);
	for (unsigned i = 0; i < NLIVE; i++)
		assert_non_null(cap_map_insert(cm, old_id(i)));
	m->nregions = 1;
	m->region[0] = (struct mon_model_region){0,
						 GUEST_BASE,
						 0,
						 sizeof *cm,
						 1,
						 sizeof *cm,
						 MEM_R | MEM_W,
						 (uint8_t *)cm,
						 0,
						 NULL,
						 NULL,
						 NULL,
						 NULL,
						 0};
	m->cap_map_addr = GUEST_BASE;
	for (unsigned i = 0; i < CAP_SLOTS; i++) {
		struct cap_index *e = &cm->slot[i];
		assert_int_equal(model_h2g_ptr(m, (void **)&e->left), 0);
		assert_int_equal(model_h2g_ptr(m, (void **)&e->right), 0);
		assert_int_equal(model_h2g_ptr(m, (void **)&e->parent), 0);
	}
	assert_int_equal(model_h2g_ptr(m, (void **)&cm->root), 0);
	*out = cm;
	return m;
}

static void drop(struct mon_model *m, struct cap_map *cm)
{
	free(cm);
	free(m);
}

static struct cap_index *slot_of(struct cap_map *cm, unsigned i)
{
	return &cm->slot[FIXED_USER_BASE + i];
}

static void test_many_badges(void **state)
{
	struct cap_map *cm;
	struct mon_model *m = map_model(&cm);
	struct badge_map *bm = calloc(1, sizeof *bm);
	uint64_t root;

	/* every entry but the last gets a new badge, in reverse order */
	for (unsigned i = 0; i + 1 < NLIVE; i++)
		assert_int_equal(badge_map_add(bm, old_id(i), 0x900000 - 4 * i), 0);
	/* a later pair for an old badge loses, a pair for badge 0 is ignored */
	assert_int_equal(badge_map_add(bm, old_id(7), 0x123450), 0);
	assert_int_equal(badge_map_add(bm, 0, 0x777770), 0);
	assert_int_equal(cap_map_fix(m, bm), 0);
	for (unsigned i = 0; i + 1 < NLIVE; i++)
		assert_int_equal(slot_of(cm, i)->id, 0x900000 - 4 * i);
	assert_int_equal(slot_of(cm, NLIVE - 1)->id, old_id(NLIVE - 1));
	assert_int_equal(slot_of(cm, NLIVE)->id, 0); /* free slots stay free */
	root = (uint64_t)(uintptr_t)cm->root;
	assert_true(root >= GUEST_BASE + offsetof(struct cap_map, slot) &&
		    root < GUEST_BASE + sizeof *cm);
	assert_int_equal(cap_map_verify(m), 0);
	free(bm);
	drop(m, cm);
}

/* A link into the map but not at a slot, or past it, is refused. */
static void test_bad_links(void **state)
{
	struct cap_map *cm;
	struct mon_model *m = map_model(&cm);
	struct cap_index *e = slot_of(cm, 5);
	void *keep = e->left;

	assert_non_null(keep);
	assert_int_equal(cap_map_verify(m), 0);
	e->left = (void *)(uintptr_t)(GUEST_BASE + offsetof(struct cap_map, slot) + 8);
	assert_int_equal(cap_map_verify(m), -EFAULT);
	drop(m, cm);
	m = map_model(&cm);
	e = slot_of(cm, 5);
	e->right = (void *)(uintptr_t)(GUEST_BASE + sizeof *cm);
	assert_int_equal(cap_map_verify(m), -EFAULT);
	drop(m, cm);
	m = map_model(&cm);
	cm->root = (void *)(uintptr_t)(GUEST_BASE + 8); /* the header */
	assert_int_equal(cap_map_verify(m), -EFAULT);
	drop(m, cm);
}

/* A slot whose id is CAP_ID_INVALID (an entry left out of the tree) keeps
 * it even if the badge map names that value. */
static void test_invalid_id_kept(void **state)
{
	struct cap_map *cm;
	struct mon_model *m = map_model(&cm);
	struct badge_map *bm = calloc(1, sizeof *bm);

	slot_of(cm, NLIVE)->id = CAP_ID_INVALID;
	assert_int_equal(badge_map_add(bm, CAP_ID_INVALID, 0x4440), 0);
	assert_int_equal(cap_map_fix(m, bm), 0);
	assert_int_equal(slot_of(cm, NLIVE)->id, CAP_ID_INVALID);
	assert_int_equal(cap_map_verify(m), 0);
	free(bm);
	drop(m, cm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_many_badges),
	    cmocka_unit_test(test_bad_links),
	    cmocka_unit_test(test_invalid_id_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
