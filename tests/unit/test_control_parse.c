/*
 * The control protocol's request line (tools/control_parse.c) for
 * restore: "restore [--lazy] PATH [NAME]" sets the lazy flag only when
 * asked, keeps PATH and NAME, and refuses a line without a path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "tools/control.h"

static int parse(const char *text, struct control_request *req, char *err, size_t n)
{
	char line[256];

	snprintf(line, sizeof line, "%s", text);
	return control_parse(line, req, err, n);
}

static void restore_lazy(void **state)
{
	struct control_request req;
	char err[256];

	assert_int_equal(
	    parse("restore --lazy /tmp/a.img counter", &req, err, sizeof err), 0);
	assert_int_equal(req.op, CONTROL_RESTORE);
	assert_int_equal(req.flags, CONTROL_F_LAZY);
	assert_string_equal(req.path, "/tmp/a.img");
	assert_string_equal(req.name, "counter");
}

static void restore_plain(void **state)
{
	struct control_request req;
	char err[256];

	assert_int_equal(parse("restore /tmp/a.img counter", &req, err, sizeof err), 0);
	assert_int_equal(req.op, CONTROL_RESTORE);
	assert_int_equal(req.flags, 0);
	assert_string_equal(req.path, "/tmp/a.img");
}

static void restore_lazy_bad(void **state)
{
	struct control_request req;
	char err[256];

	assert_int_equal(parse("restore --lazy", &req, err, sizeof err), -1);
	assert_string_equal(err, "error: usage: restore [--lazy] PATH [NAME]");
	assert_int_equal(parse("restore --lazy a.img x", &req, err, sizeof err), -1);
	assert_non_null(strstr(err, "must be absolute"));
	assert_int_equal(parse("restore --lazy /a /b c", &req, err, sizeof err), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(restore_lazy),
	    cmocka_unit_test(restore_plain),
	    cmocka_unit_test(restore_lazy_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
