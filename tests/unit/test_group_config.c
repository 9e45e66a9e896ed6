/* A group's config (issue 12): the node config reader reads a <config>
 * element in place (config_parse_element), the graph of routes among
 * <start> nodes has its cycles found (config_route_cycle), and the
 * monitor's <config> takes <start> nodes as a group or refuses them with
 * one line. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "config/config.h"
#include "monitor/monitor_config.h"

static char err[CONFIG_ERR_MAX];

/* Parse xml's root with config_parse_element, foreign as given. */
static int parse_element(const char *xml, const char *const *foreign,
			 struct init_config *cfg)
{
	xmlDoc *doc =
	    xmlReadMemory(xml, (int)strlen(xml), "g.xml", NULL, XML_PARSE_NONET);
	int rc;

	assert_non_null(doc);
	err[0] = 0;
	rc = config_parse_element(xmlDocGetRootElement(doc), foreign, cfg, err,
				  sizeof err);
	xmlFreeDoc(doc);
	return rc;
}

static int parse_monitor(const char *xml, struct monitor_config *cfg)
{
	xmlDoc *doc =
	    xmlReadMemory(xml, (int)strlen(xml), "m.xml", NULL, XML_PARSE_NONET);
	int rc;

	assert_non_null(doc);
	err[0] = 0;
	rc = monitor_config_parse(xmlDocGetRootElement(doc), cfg, err, sizeof err);
	xmlFreeDoc(doc);
	return rc;
}

#define CLIENT_SERVER                                                                    \
	"<start name=\"client\"><binary name=\"rpc_client\"/>"                           \
	"<route><service name=\"Calc\"><child name=\"server\"/></service>"               \
	"<any-service><parent/></any-service></route></start>"                           \
	"<start name=\"server\"><binary name=\"rpc_server\"/>"                           \
	"<provides><service name=\"Calc\"/></provides></start>"

static void element_reads_starts_and_leaves_foreign(void **state)
{
	static const char *const own[] = {"test", NULL};
	struct init_config cfg = {0};

	assert_int_equal(
	    parse_element("<config>" CLIENT_SERVER "<test x=\"1\"/></config>", own, &cfg),
	    0);
	assert_int_equal(cfg.nstart, 2);
	assert_string_equal(cfg.start[0].binary, "rpc_client");
	assert_non_null(config_route(&cfg, &cfg.start[0], "Calc"));
	assert_int_equal(config_route(&cfg, &cfg.start[0], "Calc")->target[0].kind,
			 ROUTE_CHILD);
	assert_string_equal(cfg.path, "g.xml");
	config_free(&cfg);
	/* without it in foreign, <test> is an unknown element, named with
	 * the document and line */
	assert_int_equal(
	    parse_element("<config>\n" CLIENT_SERVER "\n<test/></config>", NULL, &cfg),
	    -EINVAL);
	assert_non_null(strstr(err, "g.xml:3: unknown element <test>"));
	assert_int_equal(cfg.nstart, 0);
	assert_null(cfg.start);
}

static void element_refuses_unknown_member(void **state)
{
	struct init_config cfg = {0};

	assert_int_equal(
	    parse_element(
		"<config><start name=\"a\"><route><any-service>"
		"<child name=\"nobody\"/></any-service></route></start></config>",
		NULL, &cfg),
	    -EINVAL);
	assert_non_null(strstr(err, "route to unknown child 'nobody'"));
	assert_null(cfg.start);
}

/* (xml of <start> nodes, cycle expected or NULL) */
static void cycles_are_found(void **state)
{
	static const struct {
		const char *starts;
		const char *cycle;
	} cases[] = {
	    {CLIENT_SERVER, NULL},
	    /* the server routes back to its client */
	    {"<start name=\"a\"><provides><service name=\"A\"/></provides><route>"
	     "<service name=\"B\"><child name=\"b\"/></service></route></start>"
	     "<start name=\"b\"><provides><service name=\"B\"/></provides><route>"
	     "<service name=\"A\"><child name=\"a\"/></service></route></start>",
	     "a -> b -> a"},
	    /* three members in a ring, the last by <any-child/> */
	    {"<start name=\"a\"><route><any-service><child name=\"b\"/></any-service>"
	     "</route></start>"
	     "<start name=\"b\"><route><any-service><child name=\"c\"/></any-service>"
	     "</route></start>"
	     "<start name=\"c\"><route><service name=\"X\"><any-child/></service>"
	     "</route></start>"
	     "<start name=\"x\"/>",
	     NULL},
	    {"<start name=\"a\"><provides><service name=\"X\"/></provides><route>"
	     "<any-service><child name=\"b\"/></any-service></route></start>"
	     "<start name=\"b\"><route><any-service><child name=\"c\"/></any-service>"
	     "</route></start>"
	     "<start name=\"c\"><route><service name=\"X\"><any-child/></service>"
	     "</route></start>",
	     "a -> b -> c -> a"},
	    /* <any-child/> only reaches a member that provides something */
	    {"<default-route><any-service><parent/><any-child/></any-service>"
	     "</default-route>"
	     "<start name=\"s\"><provides><service name=\"C\"/></provides><route>"
	     "<any-service><parent/></any-service></route></start>"
	     "<start name=\"c1\"/><start name=\"c2\"/>",
	     NULL},
	    /* ... and a default route that reaches two providers is a cycle */
	    {"<default-route><any-service><any-child/></any-service></default-route>"
	     "<start name=\"s\"><provides><service name=\"C\"/></provides></start>"
	     "<start name=\"t\"><provides><service name=\"D\"/></provides></start>",
	     "s -> t -> s"},
	};
	char xml[2048], cycle[200];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct init_config cfg = {0};
		snprintf(xml, sizeof xml, "<config>%s</config>", cases[i].starts);
		assert_int_equal(parse_element(xml, NULL, &cfg), 0);
		cycle[0] = 0;
		if (cases[i].cycle) {
			assert_int_equal(config_route_cycle(&cfg, cycle, sizeof cycle),
					 1);
			assert_string_equal(cycle, cases[i].cycle);
		} else {
			assert_int_equal(config_route_cycle(&cfg, cycle, sizeof cycle),
					 0);
		}
		config_free(&cfg);
	}
}

static void monitor_takes_a_group(void **state)
{
	struct monitor_config cfg;

	assert_int_equal(parse_monitor("<config>" CLIENT_SERVER "</config>", &cfg), 0);
	assert_non_null(cfg.group);
	assert_int_equal(cfg.group->nstart, 2);
	assert_string_equal(cfg.binary, "");
	monitor_config_free(&cfg);
	assert_null(cfg.group);
	/* a group paused after its 2nd line for a migration */
	assert_int_equal(parse_monitor("<config>" CLIENT_SERVER
				       "<test checkpoint_after_log="
				       "\"2\" then=\"hold\"/></config>",
				       &cfg),
			 0);
	assert_non_null(cfg.group);
	assert_true(cfg.then_hold && cfg.checkpoint_after_log == 2);
	monitor_config_free(&cfg);
	/* one target: no group */
	assert_int_equal(parse_monitor("<config><target binary=\"c\"/></config>", &cfg),
			 0);
	assert_null(cfg.group);
}

/* MON_GROUP_MAX + 1 members */
#define FOUR(p)                                                                          \
	"<start name=\"" p "1\"/><start name=\"" p "2\"/><start name=\"" p               \
	"3\"/><start name=\"" p "4\"/>"
#define SEVENTEEN FOUR("a") FOUR("b") FOUR("c") FOUR("d") "<start name=\"e\"/>"

static void monitor_refuses_bad_groups(void **state)
{
	static const struct {
		const char *xml, *what;
	} cases[] = {
	    {"<config><start name=\"a\"><provides><service name=\"A\"/></provides>"
	     "<route><any-service><child name=\"b\"/></any-service></route></start>"
	     "<start name=\"b\"><provides><service name=\"B\"/></provides><route>"
	     "<any-service><child name=\"a\"/></any-service></route></start></config>",
	     "the monitor's group: its routes form a cycle: a -> b -> a"},
	    {"<config><start name=\"a\"><route><any-service><child name=\"z\"/>"
	     "</any-service></route></start></config>",
	     "m.xml:1: route to unknown child 'z'"},
	    {"<config><target binary=\"c\"/>" CLIENT_SERVER "</config>", "not both"},
	    {"<config><restore image=\"/g.img\"/><test checkpoint_after_log=\"1\" "
	     "image=\"/g.img\" then=\"exit\"/>" CLIENT_SERVER "</config>",
	     "a <restore> and a <test> checkpoint, not both"},
	    {"<config ram=\"1M\">" CLIENT_SERVER "</config>", "no ram or caps attribute"},
	    {"<config><start name=\"a\"/><start name=\"a\"/></config>",
	     "duplicate <start> name 'a'"},
	    {"<config>" SEVENTEEN "</config>", "17 members, at most 16"},
	    {"<config>" CLIENT_SERVER "<bogus/></config>", "unknown element <bogus>"},
	    /* a group's <test>: a group image after a line, then the end */
	    {"<config>" CLIENT_SERVER "<test checkpoint_after_ms=\"30\"/></config>",
	     "its <test> takes only checkpoint_after_log with image and then=\"exit\", "
	     "or with then=\"hold\""},
	    {"<config>" CLIENT_SERVER "<test checkpoint_after_ms=\"30\" then=\"hold\"/>"
	     "</config>",
	     "its <test> takes only"},
	    {"<config>" CLIENT_SERVER "<test checkpoint_after_log=\"3\"/></config>",
	     "its <test> takes only"},
	};
	struct monitor_config cfg;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(parse_monitor(cases[i].xml, &cfg), -EINVAL);
		if (!strstr(err, cases[i].what))
			fail_msg("case %zu: '%s' does not say '%s'", i, err,
				 cases[i].what);
		assert_null(strchr(err, '\n'));
		assert_null(cfg.group);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(element_reads_starts_and_leaves_foreign),
	    cmocka_unit_test(element_refuses_unknown_member),
	    cmocka_unit_test(cycles_are_found),
	    cmocka_unit_test(monitor_takes_a_group),
	    cmocka_unit_test(monitor_refuses_bad_groups),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
