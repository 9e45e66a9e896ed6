/*
 * The command line's option parser (tools/cli.c) against a test table:
 * --opt VALUE and --opt=VALUE, aliases, flags, repeated options, the
 * common -q/-v/--help, "--", and each usage error (CLI_USAGE).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "tools/cli.h"

static int ran;
static int run(const struct cli_args *a)
{
	ran++;
	return 7;
}

static const struct cli_cmd cmd = {
    .name = "t",
    .args = "A [B]",
    .min_pos = 1,
    .max_pos = 2,
    .summary = "test",
    .text = "test",
    .example = "  capsule t x",
    .opts = {{"--node", NULL, "SOCK", "socket", CLI_REQUIRED},
	     {"--output", "-o", "FILE", "file"},
	     {"--force", "-f", NULL, "flag"},
	     {"--rom", NULL, "DIR", "dirs", CLI_REPEAT}},
    .run = run,
};

static int parse(struct cli_args *a, int argc, const char **argv)
{
	FILE *saved = stderr;
	int rc;

	stderr = fopen("/dev/null", "w"); /* the usage lines */
	rc = cli_parse(&cmd, argc, (char **)argv, a);
	fclose(stderr);
	stderr = saved;
	return rc;
}

static void values_and_forms(void **state)
{
	const char *argv[] = {"--node=/s", "x",	       "-o", "out", "--rom", "r1",
			      "-f",	   "--rom=r2", "-q", "y",   "-v"};
	const char *rom[4];
	struct cli_args a;

	assert_int_equal(parse(&a, 11, argv), 0);
	assert_string_equal(cli_get(&a, "--node"), "/s");
	assert_string_equal(cli_get(&a, "--output"), "out");
	assert_string_equal(cli_get(&a, "-o"), "out");
	assert_string_equal(cli_get(&a, "--force"), "");
	assert_int_equal(cli_all(&a, "--rom", rom, 4), 2);
	assert_string_equal(rom[0], "r1");
	assert_string_equal(rom[1], "r2");
	assert_int_equal(a.npos, 2);
	assert_string_equal(a.pos[0], "x");
	assert_string_equal(a.pos[1], "y");
	assert_true(a.quiet && a.verbose);
	assert_null(cli_get(&a, "--nothing"));
}

static void dashdash_and_help(void **state)
{
	const char *argv[] = {"--node", "s", "--", "-x"};
	const char *help[] = {"--node", "s", "x", "--help"};
	struct cli_args a;

	assert_int_equal(parse(&a, 4, argv), 0);
	assert_string_equal(a.pos[0], "-x");
	assert_int_equal(parse(&a, 4, help), -1);
}

static void usage_errors(void **state)
{
	const char *unknown[] = {"--node", "s", "x", "--nod"};
	const char *missing_req[] = {"x"};
	const char *missing_pos[] = {"--node", "s"};
	const char *no_value[] = {"x", "--node"};
	const char *flag_value[] = {"--node", "s", "x", "--force=1"};
	const char *empty[] = {"--node=", "x"};
	const char *extra[] = {"--node", "s", "x", "y", "z"};
	struct cli_args a;

	assert_int_equal(parse(&a, 4, unknown), CLI_USAGE);
	assert_int_equal(parse(&a, 1, missing_req), CLI_USAGE);
	assert_int_equal(parse(&a, 2, missing_pos), CLI_USAGE);
	assert_int_equal(parse(&a, 2, no_value), CLI_USAGE);
	assert_int_equal(parse(&a, 4, flag_value), CLI_USAGE);
	assert_int_equal(parse(&a, 2, empty), CLI_USAGE);
	assert_int_equal(parse(&a, 5, extra), CLI_USAGE);
}

static void dispatch(void **state)
{
	const char *argv[] = {"capsule", "t", "--node", "s", "x"};
	const char *bad[] = {"capsule", "nope"};
	FILE *saved = stderr;
	int rc;

	ran = 0;
	assert_int_equal(cli_main(&cmd, 1, 5, (char **)argv), 7);
	assert_int_equal(ran, 1);
	stderr = fopen("/dev/null", "w");
	rc = cli_main(&cmd, 1, 2, (char **)bad);
	fclose(stderr);
	stderr = saved;
	assert_int_equal(rc, CLI_USAGE);
	assert_int_equal(ran, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(values_and_forms),
	    cmocka_unit_test(dashdash_and_help),
	    cmocka_unit_test(usage_errors),
	    cmocka_unit_test(dispatch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
