/* init's config reader: good configs load with the right values, every
 * kind of bad config is rejected with a "FILE:LINE: what" message. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

static char tmpdir[] = "/tmp/capsule-test-config-XXXXXX";
static char path[600];
static char entity[600]; /* an external entity file next to the config */
static struct init_config cfg;
static char err[CONFIG_ERR_MAX];

static int load(const char *xml)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(xml, f);
	fclose(f);
	return config_load(path, &cfg, err, sizeof err);
}

/* --- configs that must be rejected: (intent, xml, line, message part) -- */

struct bad_case {
	const char *intent;
	const char *xml;
	int line;
	const char *what;
};

static const struct bad_case bad_cases[] = {
    {"malformed XML is reported with libxml2's line",
     "<config>\n<start name=\"a\">\n</config>\n", 3, "mismatch"},
    {"root must be <config>", "<konfig/>\n", 1, "not <config>"},
    {"node RAM must be a size", "<config ram=\"lots\">\n<start name=\"a\"/>\n</config>",
     1, "invalid ram 'lots'"},
    {"node caps must be a positive number",
     "<config caps=\"0\">\n<start name=\"a\"/>\n</config>", 1, "invalid caps '0'"},
    {"node caps must be a number",
     "<config caps=\"many\">\n<start name=\"a\"/>\n</config>", 1, "invalid caps 'many'"},
    {"node caps must not be negative",
     "<config caps=\"-5\">\n<start name=\"a\"/>\n</config>", 1, "invalid caps '-5'"},
    {"node caps must fit core's cap space",
     "<config caps=\"262145\">\n<start name=\"a\"/>\n</config>", 1,
     "invalid caps '262145' (1 .. 262144"},
    {"unknown attribute on <config>",
     "<config cpus=\"2\">\n<start name=\"a\"/>\n</config>", 1,
     "unknown attribute 'cpus'"},
    {"unknown element in <config>", "<config>\n<strat name=\"a\"/>\n</config>", 2,
     "unknown element <strat>"},
    {"unknown attribute on <start>",
     "<config>\n<start name=\"a\" cpus=\"2\"/>\n</config>", 2,
     "unknown attribute 'cpus'"},
    {"unknown element inside <start>",
     "<config>\n<start name=\"a\">\n<bianry name=\"x\"/>\n</start>\n</config>", 3,
     "unknown element <bianry>"},
    {"duplicate start names",
     "<config>\n<start name=\"a\"/>\n<start name=\"a\"/>\n</config>", 3,
     "duplicate <start> name 'a'"},
    {"start without a name", "<config>\n<start caps=\"5\"/>\n</config>", 2,
     "missing attribute 'name'"},
    {"missing quantum",
     "<config>\n<start name=\"a\">\n<resource name=\"RAM\"/>\n</start>\n</config>", 3,
     "missing attribute 'quantum'"},
    {"bad quantum suffix",
     "<config>\n<start name=\"a\">\n<resource name=\"RAM\" quantum=\"1X\"/>\n</start>\n"
     "</config>",
     3, "invalid quantum '1X'"},
    {"unknown resource",
     "<config>\n<start name=\"a\">\n<resource name=\"CPU\" quantum=\"1\"/>\n</start>\n"
     "</config>",
     3, "unknown resource 'CPU'"},
    {"prio_levels must be a power of two",
     "<config prio_levels=\"3\">\n<start name=\"a\"/>\n</config>", 1,
     "invalid prio_levels '3'"},
    {"prio_levels must not be 0",
     "<config prio_levels=\"0\">\n<start name=\"a\"/>\n</config>", 1,
     "invalid prio_levels '0'"},
    {"prio_levels has a limit",
     "<config prio_levels=\"1024\">\n<start name=\"a\"/>\n</config>", 1,
     "invalid prio_levels '1024'"},
    {"a priority below the levels",
     "<config prio_levels=\"4\">\n<start name=\"a\" priority=\"-4\"/>\n</config>", 2,
     "invalid priority '-4' (0 .. -3"},
    {"a child cannot be above its parent",
     "<config prio_levels=\"4\">\n<start name=\"a\" priority=\"1\"/>\n</config>", 2,
     "invalid priority '1'"},
    {"a priority without prio_levels",
     "<config>\n<start name=\"a\" priority=\"-1\"/>\n</config>", 2,
     "invalid priority '-1' (0 .. -0 with prio_levels=\"1\")"},
    {"a priority must be a number",
     "<config prio_levels=\"2\">\n<start name=\"a\" priority=\"low\"/>\n</config>", 2,
     "invalid priority 'low'"},
    {"caps must be a positive number",
     "<config>\n<start name=\"a\" caps=\"-3\"/>\n</config>", 2, "invalid caps '-3'"},
    {"route to a child that does not exist",
     "<config>\n<start name=\"a\">\n<route><service name=\"X\"><child name=\"b\"/>"
     "</service></route>\n</start>\n</config>",
     2, "route to unknown child 'b'"},
    {"default route to a child that does not exist",
     "<config>\n<default-route>\n<any-service><child name=\"zz\"/></any-service>\n"
     "</default-route>\n<start name=\"a\"/>\n</config>",
     2, "route to unknown child 'zz'"},
    {"a child routing to itself",
     "<config>\n<start name=\"a\">\n<route><any-service><child name=\"a\"/>"
     "</any-service></route>\n</start>\n</config>",
     2, "routes to itself"},
    {"route entry without a target",
     "<config>\n<start name=\"a\">\n<route><service name=\"X\">\n</service></route>\n"
     "</start>\n</config>",
     3, "without a target"},
    {"unknown route target",
     "<config>\n<start name=\"a\">\n<route><service name=\"X\">\n<sibling/>"
     "</service></route>\n</start>\n</config>",
     4, "unknown element <sibling>"},
    {"stray text inside <start>", "<config>\n<start name=\"a\">hello</start>\n</config>",
     2, "unexpected content"},
    {"names with quotes are rejected", "<config>\n<start name=\"a&quot;b\"/>\n</config>",
     2, "invalid name"},
    {"service provided twice",
     "<config>\n<start name=\"a\">\n<provides><service name=\"S\"/>\n"
     "<service name=\"S\"/></provides>\n</start>\n</config>",
     4, "listed twice"},
    {"binary given twice",
     "<config>\n<start name=\"a\">\n<binary name=\"x\"/>\n<binary name=\"y\"/>\n"
     "</start>\n</config>",
     4, "<binary> given twice"},
    {"route of a service to a child that does not provide it",
     "<config>\n<start name=\"a\">\n<route>\n<service name=\"X\"><child name=\"b\"/>"
     "</service></route>\n</start>\n<start name=\"b\"><provides><service name=\"Y\"/>"
     "</provides></start>\n</config>",
     4, "route of service 'X' to child 'b', which does not provide it"},
    {"default route of a service to a child that does not provide it",
     "<config>\n<default-route>\n<service name=\"X\"><child name=\"b\"/></service>\n"
     "</default-route>\n<start name=\"b\"/>\n</config>",
     3, "which does not provide it"},
    {"a config without children", "<config>\n</config>\n", 1, "no <start>"},
    /* start.ent (written by setup) holds a <start>: loaded, the config
     * would be good */
    {"external entities are not fetched",
     "<!DOCTYPE config [<!ENTITY x SYSTEM \"start.ent\">]>\n"
     "<config>&x;</config>\n",
     2, ""},
};

static void bad_configs_are_rejected(void **state)
{
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		const struct bad_case *c = &bad_cases[i];
		char prefix[700];
		snprintf(prefix, sizeof prefix, "%s:%d: ", path, c->line);
		print_message("case: %s\n", c->intent);
		assert_int_equal(load(c->xml), -EINVAL);
		print_message("  -> %s\n", err);
		assert_non_null(strstr(err, prefix));
		assert_non_null(strstr(err, c->what));
		assert_null(strchr(err, '\n'));
	}
}

static void missing_file_is_named(void **state)
{
	char missing[700];

	snprintf(missing, sizeof missing, "%s/nope.xml", tmpdir);
	assert_int_equal(config_load(missing, &cfg, err, sizeof err), -ENOENT);
	assert_non_null(strstr(err, missing));
}

/* --- configs that must load ---------------------------------------------- */

static const char good_xml[] =
    "<config>\n"
    "  <!-- comments are fine -->\n"
    "  <parent-provides><service name=\"LOG\"/><service name=\"ROM\"/>"
    "</parent-provides>\n"
    "  <default-route><any-service><parent/><any-child/></any-service>"
    "</default-route>\n"
    "  <start name=\"server\" caps=\"80\">\n"
    "    <binary name=\"rpc_server\"/>\n"
    "    <resource name=\"RAM\" quantum=\"2M\"/>\n"
    "    <provides><service name=\"Calc\"/></provides>\n"
    "  </start>\n"
    "  <start name=\"client\">\n"
    "    <resource name=\"RAM\" quantum=\"512K\"/>\n"
    "    <route><service name=\"Calc\"><child name=\"server\"/></service>\n"
    "           <any-service><parent/></any-service></route>\n"
    "  </start>\n"
    "</config>\n";

static void good_config_values(void **state)
{
	const struct start_config *s, *c;

	assert_int_equal(load(good_xml), 0);
	assert_int_equal(cfg.nstart, 2);
	s = config_find_start(&cfg, "server");
	c = config_find_start(&cfg, "client");
	assert_non_null(s);
	assert_non_null(c);
	assert_null(config_find_start(&cfg, "nobody"));
	assert_string_equal(s->binary, "rpc_server");
	assert_int_equal(s->ram, 2 << 20);
	assert_int_equal(s->caps, 80);
	assert_int_equal(s->nprovides, 1);
	assert_string_equal(s->provides[0], "Calc");
	assert_string_equal(c->binary, "client"); /* default: the start name */
	assert_int_equal(c->ram, 512 << 10);
	assert_int_equal(c->caps, CONFIG_DEFAULT_CAPS);
	assert_int_equal(cfg.prio_levels, 1);
	assert_int_equal(c->priority, 0);
	assert_int_equal(load("<config prio_levels=\"8\">\n<start name=\"a\" "
			      "priority=\"-7\"/>\n<start name=\"b\" priority=\"0\"/>"
			      "<start name=\"c\"/>\n</config>"),
			 0);
	assert_int_equal(cfg.prio_levels, 8);
	assert_int_equal(config_find_start(&cfg, "a")->priority, 7);
	assert_int_equal(config_find_start(&cfg, "b")->priority, 0);
	assert_int_equal(config_find_start(&cfg, "c")->priority, 0);
}

static void routes_resolve_in_order(void **state)
{
	const struct start_config *s, *c;
	const struct route_entry *e;

	assert_int_equal(load(good_xml), 0);
	s = config_find_start(&cfg, "server");
	c = config_find_start(&cfg, "client");
	e = config_route(&cfg, c, "Calc"); /* the child's own <service> entry */
	assert_non_null(e);
	assert_int_equal(e->ntargets, 1);
	assert_int_equal(e->target[0].kind, ROUTE_CHILD);
	assert_string_equal(e->target[0].child, "server");
	e = config_route(&cfg, c, "LOG"); /* the child's <any-service> */
	assert_int_equal(e->ntargets, 1);
	assert_int_equal(e->target[0].kind, ROUTE_PARENT);
	e = config_route(&cfg, s, "Calc"); /* no <route>: default route */
	assert_int_equal(e->ntargets, 2);
	assert_int_equal(e->target[0].kind, ROUTE_PARENT);
	assert_int_equal(e->target[1].kind, ROUTE_ANY_CHILD);
	assert_true(config_parent_provides(&cfg, "LOG"));
	assert_false(config_parent_provides(&cfg, "Calc"));
}

static void no_route_at_all(void **state)
{
	assert_int_equal(load("<config><start name=\"a\"/></config>"), 0);
	assert_null(config_route(&cfg, &cfg.start[0], "LOG"));
	assert_true(config_parent_provides(&cfg, "anything")); /* no list given */
	assert_int_equal(cfg.start[0].ram, CONFIG_DEFAULT_RAM);
}

struct size_case {
	const char *text;
	int rc;
	uint64_t value;
};

static void sizes_parse(void **state)
{
	static const struct size_case cases[] = {
	    {"0", 0, 0},
	    {"4096", 0, 4096},
	    {"64K", 0, 64 << 10},
	    {"1M", 0, 1 << 20},
	    {"3G", 0, 3ULL << 30},
	    {"18446744073709551615", 0, UINT64_MAX},
	    {"18446744073709551616", -EINVAL, 0}, /* overflow */
	    {"17179869184G", -EINVAL, 0},	  /* overflow through the suffix */
	    {"", -EINVAL, 0},
	    {"M", -EINVAL, 0},
	    {"1MB", -EINVAL, 0},
	    {"1k", -EINVAL, 0},
	    {" 1", -EINVAL, 0},
	    {"-1", -EINVAL, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint64_t v = 0;
		print_message("size '%s'\n", cases[i].text);
		assert_int_equal(config_parse_size(cases[i].text, &v), cases[i].rc);
		if (!cases[i].rc)
			assert_true(v == cases[i].value);
	}
}

/* No limit on <start> nodes but quota; the node's budget attributes. */
static void many_starts_and_budget(void **state)
{
	enum { N = 500 };
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs("<config ram=\"3G\" caps=\"40000\">\n", f);
	for (int i = 0; i < N; i++)
		fprintf(f, "<start name=\"c%d\"><binary name=\"counter\"/></start>\n", i);
	fputs("</config>\n", f);
	fclose(f);
	assert_int_equal(config_load(path, &cfg, err, sizeof err), 0);
	assert_int_equal(cfg.nstart, N);
	assert_string_equal(cfg.start[N - 1].name, "c499");
	assert_non_null(config_find_start(&cfg, "c250"));
	assert_true(cfg.ram == 3ULL << 30);
	assert_true(cfg.caps == 40000);
	/* a second load reuses cfg; a failed one leaves nothing */
	assert_int_equal(load("<config>\n<start name=\"a\"/>\n</config>"), 0);
	assert_int_equal(cfg.nstart, 1);
	assert_true(cfg.ram == 0 && cfg.caps == 0);
	assert_int_not_equal(load("<config/>"), 0);
	assert_null(cfg.start);
	config_free(&cfg);
}

static int setup(void **state)
{
	FILE *f;

	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(path, sizeof path, "%s/init.xml", tmpdir);
	snprintf(entity, sizeof entity, "%s/start.ent", tmpdir);
	f = fopen(entity, "w");
	if (!f || fputs("<start name=\"a\"/>\n", f) < 0 || fclose(f))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	unlink(entity);
	unlink(path);
	rmdir(tmpdir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(bad_configs_are_rejected),
	    cmocka_unit_test(missing_file_is_named),
	    cmocka_unit_test(good_config_values),
	    cmocka_unit_test(routes_resolve_in_order),
	    cmocka_unit_test(no_route_at_all),
	    cmocka_unit_test(sizes_parse),
	    cmocka_unit_test(many_starts_and_budget),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
