/* core's pure parts: region map placement and session argument parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <cmocka.h>
#include "core/region_map.h"
#include "core/session_args.h"

#define PG 0x1000ULL

static struct region reg(uint64_t addr, uint64_t size)
{
	return (struct region){.addr = addr, .size = size};
}

/* "Anywhere" takes the lowest free range of the attach area, skipping
 * regions in order. */
static void anywhere_is_first_fit(void **state)
{
	struct region_map rm;
	struct region a = reg(0x10000, 2 * PG), b = reg(0x13000, PG);
	uint64_t at;

	rm_init(&rm, 0x10000, 0x10000, 1ULL << 47, 0);
	assert_int_equal(rm_place(&rm, 0, PG, &at), 0);
	assert_int_equal(at, 0x10000);
	rm_link(&rm, &b);
	rm_link(&rm, &a);
	assert_ptr_equal(rm.head, &a);
	assert_int_equal(rm_place(&rm, 0, PG, &at), 0);
	assert_int_equal(at, 0x12000);
	assert_int_equal(rm_place(&rm, 0, 2 * PG, &at), 0);
	assert_int_equal(at, 0x14000);
	assert_int_equal(rm_place(&rm, 0, 0x10000, &at), -ENOMEM);
}

/* Fixed addresses: page aligned, inside the limit, no overlap. */
static void fixed_addresses_are_checked(void **state)
{
	struct region_map rm;
	struct region a = reg(0x400000, 4 * PG);
	uint64_t at;

	rm_init(&rm, 0x100000000ULL, 0x10000, 1ULL << 47, 0);
	rm_link(&rm, &a);
	assert_int_equal(rm_place(&rm, 0x401000, PG, &at), -EEXIST);
	assert_int_equal(rm_place(&rm, 0x3ff000, 2 * PG, &at), -EEXIST);
	assert_int_equal(rm_place(&rm, 0x3ff000, PG, &at), 0);
	assert_int_equal(at, 0x3ff000);
	assert_int_equal(rm_place(&rm, 0x404000, PG, &at), 0);
	assert_int_equal(rm_place(&rm, 0x404800, PG, &at), -EINVAL);
	assert_int_equal(rm_place(&rm, 0x404000, 100, &at), -EINVAL);
	assert_int_equal(rm_place(&rm, (1ULL << 47) - PG, 2 * PG, &at), -EINVAL);
	assert_int_equal(rm_place(&rm, ~0ULL & ~(PG - 1), 2 * PG, &at), -EINVAL);
	rm_unlink(&rm, &a);
	assert_null(rm_find(&rm, 0x400000));
	assert_int_equal(rm_place(&rm, 0x401000, PG, &at), 0);
}

/* In a managed map (base 0) address 0 is an address: rm_place_fixed
 * takes it literally, rm_place would read it as "anywhere". */
static void fixed_zero_is_an_address(void **state)
{
	struct region_map rm;
	struct region a = reg(0, PG);
	uint64_t at = 1;

	rm_init(&rm, 0, 4 * PG, 4 * PG, 0);
	assert_int_equal(rm_place_fixed(&rm, 0, PG, &at), 0);
	assert_int_equal(at, 0);
	rm_link(&rm, &a);
	assert_int_equal(rm_place_fixed(&rm, 0, PG, &at), -EEXIST);
	assert_int_equal(rm_place(&rm, 0, PG, &at), 0);
	assert_int_equal(at, PG);
	assert_int_equal(rm_place_fixed(&rm, 3 * PG, 2 * PG, &at), -EINVAL);
}

/* rm_lookup finds the region containing an address, not only its start. */
static void lookup_finds_containing_region(void **state)
{
	struct region_map rm;
	struct region a = reg(PG, 2 * PG), b = reg(4 * PG, PG);

	rm_init(&rm, 0, 8 * PG, 8 * PG, 0);
	rm_link(&rm, &b);
	rm_link(&rm, &a);
	assert_null(rm_lookup(&rm, 0));
	assert_ptr_equal(rm_lookup(&rm, PG), &a);
	assert_ptr_equal(rm_lookup(&rm, 3 * PG - 1), &a);
	assert_null(rm_lookup(&rm, 3 * PG));
	assert_ptr_equal(rm_lookup(&rm, 4 * PG + 8), &b);
	assert_null(rm_lookup(&rm, 5 * PG));
	assert_ptr_equal(a.in, &rm);
}

/* A managed region links itself into its map's uses, unlinking takes it
 * out again; rm_contains sees nesting, so cycles can be refused. */
static void managed_regions_track_uses(void **state)
{
	struct region_map outer, mid, inner;
	struct region r1 = reg(0, 4 * PG), r2 = reg(PG, PG), r3 = reg(8 * PG, 4 * PG);

	rm_init(&outer, 0, 16 * PG, 16 * PG, 0);
	rm_init(&mid, 0, 4 * PG, 4 * PG, 0);
	rm_init(&inner, 0, PG, PG, 0);
	r1.sub = &mid;
	r2.sub = &inner;
	r3.sub = &mid;
	rm_link(&outer, &r1);
	rm_link(&mid, &r2);
	rm_link(&outer, &r3);
	assert_ptr_equal(mid.uses, &r3);
	assert_ptr_equal(r3.use_next, &r1);
	assert_ptr_equal(inner.uses, &r2);
	assert_true(rm_contains(&outer, &inner));
	assert_true(rm_contains(&mid, &mid));
	assert_false(rm_contains(&inner, &outer));
	rm_unlink(&outer, &r3);
	assert_ptr_equal(mid.uses, &r1);
	assert_null(r1.use_next);
	rm_unlink(&outer, &r1);
	assert_null(mid.uses);
	assert_false(rm_contains(&outer, &inner));
}

/* Key/value pairs, quoted or plain, separated by spaces or commas. */
static void args_are_parsed(void **state)
{
	const char *args =
	    "ram_quota=4096, label=\"init -> hello\" cap_quota=12 native=1";
	char buf[32];
	uint64_t v;

	assert_int_equal(session_arg_str(args, "label", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "init -> hello");
	assert_int_equal(session_arg_u64(args, "ram_quota", 0, &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(session_arg_u64(args, "cap_quota", 0, &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(session_arg_u64(args, "quota", 7, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(session_arg_str(args, "nope", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(session_arg_str(args, "label", buf, 5), -EINVAL);
}

/* Malformed args are errors, never crashes or wrong values. */
static void bad_args_are_refused(void **state)
{
	uint64_t v;
	char buf[8];

	assert_int_equal(session_arg_u64("ram_quota=12x", "ram_quota", 0, &v), -EINVAL);
	assert_int_equal(session_arg_u64("ram_quota=-1", "ram_quota", 0, &v), -EINVAL);
	assert_int_equal(session_arg_u64("ram_quota=", "ram_quota", 0, &v), -EINVAL);
	assert_int_equal(
	    session_arg_u64("ram_quota=99999999999999999999", "ram_quota", 0, &v),
	    -EINVAL);
	assert_int_equal(session_arg_str("label=\"open", "label", buf, sizeof(buf)),
			 -EINVAL);
	assert_int_equal(session_arg_str("junk label=x", "label", buf, sizeof(buf)),
			 -EINVAL);
	assert_int_equal(session_arg_u64("", "ram_quota", 3, &v), 0);
	assert_int_equal(v, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(anywhere_is_first_fit),
	    cmocka_unit_test(fixed_addresses_are_checked),
	    cmocka_unit_test(fixed_zero_is_an_address),
	    cmocka_unit_test(lookup_finds_containing_region),
	    cmocka_unit_test(managed_regions_track_uses),
	    cmocka_unit_test(args_are_parsed),
	    cmocka_unit_test(bad_args_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
