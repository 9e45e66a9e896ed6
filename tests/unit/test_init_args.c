/* init's session-argument rewriting: labels are replaced, `native` is
 * dropped, other keys survive, malformed args are rejected. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "init/init.h"

struct relabel_case {
	const char *intent;
	const char *args;
	const char *label;
	unsigned flags;
	int rc;
	const char *out;
};

static const struct relabel_case relabel_cases[] = {
    {"empty args get just the label", "", "c", 0, 0, "label=\"c\""},
    {"a client label is replaced", "label=\"evil\"", "c", 0, 0, "label=\"c\""},
    {"other keys survive", "ram_quota=4096, label=\"x\" cap_quota=3", "c", 0, 0,
     "ram_quota=4096, cap_quota=3, label=\"c\""},
    {"quoted values keep their spaces", "name=\"a b\"", "c", 0, 0,
     "name=\"a b\", label=\"c\""},
    {"native is dropped", "native=1 ram_quota=1", "c", 0, 0, "ram_quota=1, label=\"c\""},
    {"quotas are dropped for the parent", "ram_quota=1, cap_quota=2, x=3", "c",
     ARGS_DROP_QUOTA, 0, "x=3, label=\"c\""},
    {"key without value", "ram_quota", "c", 0, -EINVAL, NULL},
    {"unterminated quote", "label=\"abc", "c", 0, -EINVAL, NULL},
    {"quote inside a plain value", "a=b\"c", "c", 0, -EINVAL, NULL},
    {"empty key", "=3", "c", 0, -EINVAL, NULL},
    {"a label with a quote", "", "a\"b", 0, -EINVAL, NULL},
};

static void relabel(void **state)
{
	for (size_t i = 0; i < sizeof relabel_cases / sizeof relabel_cases[0]; i++) {
		const struct relabel_case *c = &relabel_cases[i];
		char out[128];
		print_message("case: %s\n", c->intent);
		assert_int_equal(
		    session_args_relabel(c->args, c->label, c->flags, out, sizeof out),
		    c->rc);
		if (!c->rc)
			assert_string_equal(out, c->out);
	}
}

static void relabel_too_long(void **state)
{
	char out[16];

	assert_int_equal(
	    session_args_relabel("ram_quota=123456789", "c", 0, out, sizeof out), -E2BIG);
	assert_int_equal(
	    session_args_relabel("", "a_long_label_here", 0, out, sizeof out), -E2BIG);
}

static void label_lookup(void **state)
{
	char buf[16];

	assert_int_equal(session_args_label("a=1, label=\"rom.x\"", buf, sizeof buf), 0);
	assert_string_equal(buf, "rom.x");
	assert_int_equal(session_args_label("label=plain", buf, sizeof buf), 0);
	assert_string_equal(buf, "plain");
	assert_int_equal(session_args_label("a=1", buf, sizeof buf), -ENOENT);
	assert_int_equal(session_args_label("", buf, sizeof buf), -ENOENT);
	assert_int_equal(
	    session_args_label("label=\"0123456789abcdefXYZ\"", buf, sizeof buf),
	    -EINVAL);
	assert_int_equal(session_args_label("label=\"open", buf, sizeof buf), -EINVAL);
}

struct quota_case {
	const char *intent;
	const char *args;
	int rc;
	uint64_t ram, caps;
};

static const struct quota_case quota_cases[] = {
    {"no quota keys: nothing to pay", "label=\"x\"", 0, 0, 0},
    {"both keys", "ram_quota=8192, cap_quota=4", 0, 8192, 4},
    {"quoted values", "ram_quota=\"4096\" cap_quota=\"1\"", 0, 4096, 1},
    {"only caps", "cap_quota=7", 0, 0, 7},
    {"suffixes are not what core reads", "ram_quota=12K", -EINVAL, 0, 0},
    {"negative", "ram_quota=-1", -EINVAL, 0, 0},
    {"empty value", "ram_quota=", -EINVAL, 0, 0},
    {"overflow", "ram_quota=18446744073709551616", -EINVAL, 0, 0},
    {"malformed args", "ram_quota", -EINVAL, 0, 0},
    {"too long a number", "cap_quota=000000000000000000000000000000000001", -EINVAL, 0,
     0},
};

static void quota_lookup(void **state)
{
	for (size_t i = 0; i < sizeof quota_cases / sizeof quota_cases[0]; i++) {
		const struct quota_case *c = &quota_cases[i];
		uint64_t ram = 99, caps = 99;
		print_message("case: %s\n", c->intent);
		assert_int_equal(session_args_quota(c->args, &ram, &caps), c->rc);
		if (!c->rc) {
			assert_int_equal(ram, c->ram);
			assert_int_equal(caps, c->caps);
		}
	}
}

/* A child's CPU priority goes into the low bits of its band: never above
 * its parent's band, whatever it asks for (Genode init's policy). */
static void priority_is_narrowed_to_the_band(void **state)
{
	char out[256];

	assert_int_equal(session_args_band(4, 0), 0);
	assert_int_equal(session_args_band(4, 1), CPU_PRIORITY_LIMIT / 4);
	assert_int_equal(session_args_band(0, 3), 0); /* no prio_levels: one band */
	assert_int_equal(session_args_priority("label=\"a\"", 4, 1, out, sizeof out), 0);
	assert_string_equal(out, "label=\"a\", priority=16384");
	/* asking for the highest priority gives the top of the band */
	assert_int_equal(
	    session_args_priority("priority=0, label=\"a\"", 4, 2, out, sizeof out), 0);
	assert_string_equal(out, "label=\"a\", priority=32768");
	/* the child's own levels are shifted into the band's low bits */
	assert_int_equal(
	    session_args_priority("priority=32768 ram_quota=4", 4, 1, out, sizeof out),
	    0);
	assert_string_equal(out, "ram_quota=4, priority=24576");
	/* out of range is clamped to the lowest, still inside the band */
	assert_int_equal(
	    session_args_priority("priority=99999999", 2, 0, out, sizeof out), 0);
	assert_string_equal(out, "priority=32767");
	assert_int_equal(session_args_priority("priority=-1", 2, 0, out, sizeof out),
			 -EINVAL);
	assert_int_equal(session_args_priority("priority=\"x", 2, 0, out, sizeof out),
			 -EINVAL);
	assert_int_equal(session_args_priority("label=\"aaaaaaaa\"", 2, 0, out, 12),
			 -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(priority_is_narrowed_to_the_band),
	    cmocka_unit_test(relabel),
	    cmocka_unit_test(relabel_too_long),
	    cmocka_unit_test(label_lookup),
	    cmocka_unit_test(quota_lookup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
