/* The checkpoint/restore monitor's boundary (no kernel, core, init or
 * libbase-private headers in monitor/, nor in the folders it shares with
 * init) and its config reader: every kind of bad config refused with a
 * line, the test build's hooks refused by the plain library. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <libxml/parser.h>

#include "monitor/monitor_config.h"

/* ---- boundary ---- */

/* The path an #include line names ("x" or <x>), into out; 0 if none. */
static int include_path(const char *line, char *out, size_t size)
{
	const char *p = line + 8, *end;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '"' && *p != '<')
		return 0;
	end = strchr(p + 1, *p == '"' ? '"' : '>');
	if (!end || (size_t)(end - p - 1) >= size)
		return 0;
	memcpy(out, p + 1, end - p - 1);
	out[end - p - 1] = 0;
	return 1;
}

/* A libbase header that is not its public API: base/X resolves to
 * base/include/base/X only for the public ones (base/platform.h,
 * base/native/..., base/avl_tmpl.h are private). */
static int base_private(const char *inc)
{
	char pub[600];

	if (strncmp(inc, "base/", 5))
		return 0;
	snprintf(pub, sizeof pub, "base/include/%s", inc);
	return access(pub, F_OK) != 0;
}

/* Check every #include of every file in dir: none may name a folder in
 * banned (NULL-terminated), go up with "..", or (with no_private) name a
 * libbase-private header.  Returns how many files were read. */
static int check_includes(const char *dir, const char *const *banned, int no_private)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int files = 0;

	assert_non_null(d); /* run from the repository root */
	while ((e = readdir(d))) {
		char path[512], line[512], inc[256];
		FILE *f;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		f = fopen(path, "r");
		assert_non_null(f);
		files++;
		while (fgets(line, sizeof line, f)) {
			if (strncmp(line, "#include", 8))
				continue;
			if (!include_path(line, inc, sizeof inc))
				fail_msg("%s: unreadable %s", path, line);
			if (strstr(inc, ".."))
				fail_msg("%s: %s", path, line);
			for (const char *const *b = banned; *b; b++)
				if (!strncmp(inc, *b, strlen(*b)))
					fail_msg("%s: %s", path, line);
			if (no_private && base_private(inc))
				fail_msg("%s: libbase-private header: %s", path, line);
		}
		fclose(f);
	}
	closedir(d);
	return files;
}

/* The monitor uses only the component API: nothing from kernel/, core/,
 * init/ or libbase's private headers; the shared folders it uses
 * (loader/, config/) keep the same boundary; init knows no monitor. */
static void test_boundary(void **state)
{
	static const char *const mon_banned[] = {"kernel/", "core/", "init/", NULL};
	static const char *const shared_banned[] = {"kernel/", "core/", "init/",
						    "monitor/", NULL};
	static const char *const init_banned[] = {"monitor/", NULL};

	assert_true(check_includes("monitor", mon_banned, 1) >= 10);
	assert_true(check_includes("loader", shared_banned, 1) >= 2);
	assert_true(check_includes("config", shared_banned, 1) >= 2);
	assert_true(check_includes("init", init_banned, 0) >= 5);
	/* the checks see what they should */
	assert_true(base_private("base/platform.h"));
	assert_true(base_private("base/native/native.h"));
	assert_false(base_private("base/env.h"));
}

/* ---- config ---- */

static int parse(const char *xml, struct monitor_config *cfg, char *err)
{
	xmlDoc *doc =
	    xmlReadMemory(xml, (int)strlen(xml), "t.xml", NULL, XML_PARSE_NONET);
	int rc;

	assert_non_null(doc);
	rc = monitor_config_parse(xmlDocGetRootElement(doc), cfg, err, 256);
	xmlFreeDoc(doc);
	return rc;
}

/* The fault injection is a hook of the test build (capsule-test) only:
 * this test links the plain library, which refuses it in one line. */
static void test_config_no_test_hooks(void **state)
{
	struct monitor_config cfg;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse("<config><target binary=\"c\"/>"
			       "<test fail_restore_nth=\"3\"/></config>",
			       &cfg, err),
			 -EINVAL);
	assert_non_null(strstr(err, "fail_restore_nth is a fault-injection hook of the "
				    "test build only"));
	assert_int_equal(parse("<config><target binary=\"c\"/>"
			       "<test fail_restore_at=\"verify\"/></config>",
			       &cfg, err),
			 -EINVAL);
	assert_non_null(strstr(err, "fail_restore_at"));
}

static void test_config(void **state)
{
	static const struct {
		const char *xml; /* one-line intent in the comment */
		int ok;
	} cases[] = {
	    /* full config */
	    {"<config><target binary=\"c\" ram=\"1M\" caps=\"7\"/>"
	     "<test checkpoint_after_ms=\"30\" restore=\"same-node\"/></config>",
	     1},
	    /* target only: defaults */
	    {"<config><target binary=\"c\"/></config>", 1},
	    /* no target */
	    {"<config><test checkpoint_after_ms=\"30\"/></config>", 0},
	    /* empty binary */
	    {"<config><target binary=\"\"/></config>", 0},
	    /* bad ram */
	    {"<config><target binary=\"c\" ram=\"lots\"/></config>", 0},
	    /* zero caps */
	    {"<config><target binary=\"c\" caps=\"0\"/></config>", 0},
	    /* negative time */
	    {"<config><target binary=\"c\"/><test checkpoint_after_ms=\"-1\"/></config>",
	     0},
	    /* unknown restore mode */
	    {"<config><target binary=\"c\"/><test restore=\"elsewhere\"/></config>", 0},
	    /* unknown element */
	    {"<config><target binary=\"c\"/><bogus/></config>", 0},
	    /* hold for a migration */
	    {"<config><target binary=\"c\"/>"
	     "<test checkpoint_after_log=\"2\" then=\"hold\"/></config>",
	     1},
	    /* hold with an image: then="exit" is what takes one */
	    {"<config><target binary=\"c\"/>"
	     "<test checkpoint_after_log=\"2\" image=\"/x\" then=\"hold\"/></config>",
	     0},
	    /* neither exit nor hold */
	    {"<config><target binary=\"c\"/><test then=\"pause\"/></config>", 0},
	    /* the soak's periodic checkpoint, every 10th restored */
	    {"<config><target binary=\"c\"/><test checkpoint_every_ms=\"20\" "
	     "restore=\"same-node\" restore_every=\"10\"/></config>",
	     1},
	    /* periodic and one-shot at once */
	    {"<config><target binary=\"c\"/><test checkpoint_after_ms=\"5\" "
	     "checkpoint_every_ms=\"20\"/></config>",
	     0},
	    /* restore_every without a period */
	    {"<config><target binary=\"c\"/><test restore_every=\"2\"/></config>", 0},
	};
	struct monitor_config cfg;
	char err[256];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		err[0] = 0;
		int rc = parse(cases[i].xml, &cfg, err);
		if (cases[i].ok)
			assert_int_equal(rc, 0);
		else {
			assert_int_equal(rc, -EINVAL);
			assert_true(err[0] != 0);
		}
	}
	assert_int_equal(parse(cases[0].xml, &cfg, err), 0);
	assert_string_equal(cfg.binary, "c");
	assert_int_equal(cfg.ram, 1 << 20);
	assert_int_equal(cfg.caps, 7);
	assert_int_equal(cfg.checkpoint_after_ms, 30);
	assert_int_equal(cfg.restore, MON_RESTORE_SAME_NODE);
	assert_false(cfg.then_hold);
	assert_int_equal(parse(cases[12].xml, &cfg, err), 0);
	assert_int_equal(cfg.checkpoint_every_ms, 20);
	assert_int_equal(cfg.checkpoint_after_ms, 20);
	assert_int_equal(cfg.restore_every, 10);
	assert_int_equal(parse(cases[9].xml, &cfg, err), 0);
	assert_true(cfg.then_hold);
	assert_false(cfg.then_exit);
	assert_int_equal(cfg.checkpoint_after_log, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_boundary),
	    cmocka_unit_test(test_config),
	    cmocka_unit_test(test_config_no_test_hooks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
