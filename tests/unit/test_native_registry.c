/* init's registry of native components: entries are found by name, and
 * nameless, incomplete, oversized, duplicate and surplus entries are
 * refused with their own error. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "init/native_registry.h"

static int parse(const void *xml, void *arg, char *err, size_t errlen)
{
	return 0;
}

static void construct(struct env *env, void *arg)
{
}

static void test_add_find(void **state)
{
	struct native_registry r = {0};
	struct native_entry a = {"alpha", 16, parse, construct};
	struct native_entry b = {"beta", NATIVE_ARG_MAX, parse, construct};

	assert_null(native_registry_find(NULL, "alpha"));
	assert_null(native_registry_find(&r, "alpha"));
	assert_int_equal(native_registry_add(&r, &a), 0);
	assert_int_equal(native_registry_add(&r, &b), 0);
	assert_ptr_equal(native_registry_find(&r, "alpha")->construct, construct);
	assert_int_equal(native_registry_find(&r, "alpha")->arg_size, 16);
	assert_int_equal(native_registry_find(&r, "beta")->arg_size, NATIVE_ARG_MAX);
	assert_null(native_registry_find(&r, "alph"));
	assert_null(native_registry_find(&r, "gamma"));
}

static void test_refused(void **state)
{
	struct native_registry r = {0};
	struct native_entry e = {"alpha", 16, parse, construct}, bad;

	bad = e, bad.binary = "";
	assert_int_equal(native_registry_add(&r, &bad), -EINVAL);
	bad = e, bad.binary = NULL;
	assert_int_equal(native_registry_add(&r, &bad), -EINVAL);
	bad = e, bad.parse = NULL;
	assert_int_equal(native_registry_add(&r, &bad), -EINVAL);
	bad = e, bad.construct = NULL;
	assert_int_equal(native_registry_add(&r, &bad), -EINVAL);
	bad = e, bad.arg_size = NATIVE_ARG_MAX + 1;
	assert_int_equal(native_registry_add(&r, &bad), -E2BIG);
	assert_int_equal(r.n, 0);
	assert_int_equal(native_registry_add(&r, &e), 0);
	assert_int_equal(native_registry_add(&r, &e), -EEXIST);
	assert_int_equal(r.n, 1);
}

static void test_full(void **state)
{
	static char names[NATIVE_MAX_ENTRIES + 1][16];
	struct native_registry r = {0};

	for (int i = 0; i <= NATIVE_MAX_ENTRIES; i++) {
		struct native_entry e = {names[i], 8, parse, construct};
		snprintf(names[i], sizeof names[i], "n%d", i);
		assert_int_equal(native_registry_add(&r, &e),
				 i < NATIVE_MAX_ENTRIES ? 0 : -ENOSPC);
	}
	assert_int_equal(r.n, NATIVE_MAX_ENTRIES);
	assert_non_null(native_registry_find(&r, "n0"));
	assert_null(native_registry_find(&r, "n8"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_add_find),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_full),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
