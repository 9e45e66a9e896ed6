/* A group's restore finds, for each cap between members, the owner's
 * recreated object (restore_member_object, monitor/restore_caps.c): by
 * the owner's badge map for a gate or signal context, by the old id for
 * a dataspace, by the old map for a region map, and nothing for an
 * object the owner's restore did not make. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdlib.h>
#include <cmocka.h>

#include "image/group.h"
#include "monitor/monitor.h"
#include "monitor/restore_state.h"

static struct cap_index idx[4];

static cap_t cap_of(unsigned i, uint64_t badge)
{
	idx[i].id = badge;
	return (cap_t){&idx[i]};
}

/* An owner's restore that made a gate 0x100 -> 0x200, a signal context
 * 0x104 -> 0x204, a dataspace 0x300 -> 0x400 and a region map whose old
 * badge was 0x500 (new proxy 0x600). */
static struct rs *owner(void)
{
	struct rs *rs = calloc(1, sizeof *rs);
	static struct proxy map;

	rs->mon = calloc(1, sizeof *rs->mon);
	badge_map_add(&rs->bm, 0x100, 0x200);
	badge_map_add(&rs->bm, 0x104, 0x204);
	badge_map_add(&rs->bm, 0x300, 0x400);
	rs->cap[rs->ncaps++] =
	    (struct rs_cap){MON_CLASS_RPC_GATE, cap_of(0, 0x200), 0, 0x200};
	rs->cap[rs->ncaps++] =
	    (struct rs_cap){MON_CLASS_SIGNAL_CONTEXT, cap_of(1, 0x204), 7, 0x204};
	rs->ds[rs->nds++] = (struct rs_ds){0x300, 4096, cap_of(2, 0x400), 0};
	map.obj.cap = cap_of(3, 0x600);
	rs->rm.map[rs->rm.n++] = (struct rm_made){.old_badge = 0x500, .p = &map};
	return rs;
}

static void release(struct rs *rs)
{
	free(rs->mon);
	free(rs);
}

static void finds_each_kind_recreated(void **state)
{
	struct rs *rs = owner();
	cap_t c;

	assert_int_equal(restore_member_object(rs, IMAGE_MEMBER_GATE, 0x100, &c), 0);
	assert_int_equal(cap_badge(c), 0x200);
	assert_int_equal(
	    restore_member_object(rs, IMAGE_MEMBER_SIGNAL_CONTEXT, 0x104, &c), 0);
	assert_int_equal(cap_badge(c), 0x204);
	assert_int_equal(restore_member_object(rs, IMAGE_MEMBER_DATASPACE, 0x300, &c), 0);
	assert_int_equal(cap_badge(c), 0x400);
	assert_int_equal(restore_member_object(rs, IMAGE_MEMBER_REGION_MAP, 0x500, &c),
			 0);
	assert_int_equal(cap_badge(c), 0x600);
	release(rs);
}

/* An old badge the owner's restore made nothing for (or a kind it does
 * not know) is no object: the group's restore fails naming it. */
static void refuses_what_was_not_recreated(void **state)
{
	struct rs *rs = owner();
	cap_t c;

	assert_int_equal(restore_member_object(rs, IMAGE_MEMBER_GATE, 0x108, &c), -ESRCH);
	assert_false(cap_valid(c));
	/* the new badge itself is not the old object's */
	assert_int_equal(
	    restore_member_object(rs, IMAGE_MEMBER_SIGNAL_CONTEXT, 0x204, &c), -ESRCH);
	assert_int_equal(restore_member_object(rs, IMAGE_MEMBER_DATASPACE, 0x304, &c),
			 -ESRCH);
	assert_int_equal(restore_member_object(rs, IMAGE_MEMBER_REGION_MAP, 0x504, &c),
			 -ESRCH);
	assert_int_equal(restore_member_object(rs, 0, 0x100, &c), -ESRCH);
	release(rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(finds_each_kind_recreated),
	    cmocka_unit_test(refuses_what_was_not_recreated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
