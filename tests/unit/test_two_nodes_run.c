/*
 * Several nodes in one process: two `capsule run` nodes (tools/node.c,
 * kernel, core and init each) of guest components -- a periodic timer,
 * an RPC server and its client -- run at the same time, each on its own
 * host thread, and both end with every child exited 0.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "tools/node.h"

#define ALARM_S 60

static const char two_nodes_config[] =
    "<config>\n"
    " <parent-provides> <service name=\"PD\"/> <service name=\"CPU\"/>\n"
    "  <service name=\"LOG\"/> <service name=\"ROM\"/> <service name=\"Timer\"/>\n"
    " </parent-provides>\n"
    " <start name=\"ticker\" caps=\"100\"> <resource name=\"RAM\" quantum=\"2M\"/>\n"
    "  <route> <any-service> <parent/> </any-service> </route> </start>\n"
    " <start name=\"client\" caps=\"100\"> <binary name=\"rpc_client\"/>\n"
    "  <resource name=\"RAM\" quantum=\"2M\"/>\n"
    "  <route> <service name=\"Calc\"> <child name=\"server\"/> </service>\n"
    "   <any-service> <parent/> </any-service> </route> </start>\n"
    " <start name=\"server\" caps=\"100\"> <binary name=\"rpc_server\"/>\n"
    "  <resource name=\"RAM\" quantum=\"2M\"/>\n"
    "  <provides> <service name=\"Calc\"/> </provides>\n"
    "  <route> <any-service> <parent/> </any-service> </route> </start>\n"
    "</config>\n";

struct run {
	const char *config, *components;
	int code;
	uint64_t start_us, end_us;
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void *run_thread(void *arg)
{
	struct run *r = arg;
	const char *dirs[1] = {r->components};

	r->start_us = now_us();
	r->code = node_run(r->config, dirs, 1);
	r->end_us = now_us();
	return NULL;
}

static void components_run_to_completion(void **state)
{
	char exe[PATH_MAX], components[PATH_MAX + 16], config[64];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
	struct run r[2];
	pthread_t th[2];
	FILE *f;

	/* the components of the build this test belongs to: B/tests/.. */
	assert_true(len > 0);
	exe[len] = 0;
	snprintf(components, sizeof components, "%s/../components", dirname(exe));
	snprintf(config, sizeof config, "/tmp/capsule_test_nodes.%d.xml", (int)getpid());
	f = fopen(config, "w");
	assert_non_null(f);
	fputs(two_nodes_config, f);
	fclose(f);
	alarm(ALARM_S);
	for (int i = 0; i < 2; i++) {
		r[i] =
		    (struct run){.config = config, .components = components, .code = -1};
		assert_int_equal(pthread_create(&th[i], NULL, run_thread, &r[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	alarm(0);
	unlink(config);
	assert_int_equal(r[0].code, 0);
	assert_int_equal(r[1].code, 0);
	/* they did run at the same time (the ticker alone takes 100 ms) */
	assert_true(r[0].start_us < r[1].end_us && r[1].start_us < r[0].end_us);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(components_run_to_completion),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
