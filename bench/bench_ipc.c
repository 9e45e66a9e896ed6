/*
 * IPC benchmark: call + reply between two guest components, against two
 * references measured in the same run:
 *   floor   a guest system call that the kernel answers at once (one
 *           engine exit and re-entry), in the same node runtime;
 *   socket  a Unix-domain-socket round trip between two Linux processes.
 *
 * Guests have no clock, so each guest figure is the difference of two whole
 * node runs (`capsule run`) that differ only in the iteration count read
 * from the ROM "bench.count": (t(N_BIG) - t(N_SMALL)) / (N_BIG - N_SMALL).
 * This cancels boot, loading and exit.  Each run is repeated and the
 * fastest kept, because this machine is noisy.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/unix_rtt.h"

#define N_SMALL 1000ULL
#define N_BIG	201000ULL
#define REPEAT	3

static char capsule[PATH_MAX], components[PATH_MAX],
    tmpdir[] = "/tmp/capsule-bench-XXXXXX";

static int write_file(const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f)) {
		fprintf(stderr, "bench_ipc: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Run one node with `count` iterations; wall time in seconds, < 0 on failure. */
static double run_node(const char *config, unsigned long long count)
{
	char text[32], cfg[PATH_MAX], cmd[4 * PATH_MAX];
	double t0;
	int rc;

	snprintf(text, sizeof text, "%llu\n", count);
	if (write_file("bench.count", text))
		return -1;
	snprintf(cfg, sizeof cfg, "%s/%s", tmpdir, config);
	snprintf(cmd, sizeof cmd, "%s run --rom %s --rom %s %s >%s/out.log 2>&1", capsule,
		 tmpdir, components, cfg, tmpdir);
	t0 = now_ns() * 1e-9;
	rc = system(cmd);
	if (rc != 0) {
		fprintf(stderr,
			"bench_ipc: node run of %s failed (status %d), see %s/out.log\n",
			config, rc, tmpdir);
		return -1;
	}
	return now_ns() * 1e-9 - t0;
}

static double best_run(const char *config, unsigned long long count)
{
	double best = -1;

	for (int i = 0; i < REPEAT; i++) {
		double t = run_node(config, count);
		if (t < 0)
			return -1;
		if (best < 0 || t < best)
			best = t;
	}
	return best;
}

/* Seconds per iteration of a guest loop, by difference of two node runs. */
static double per_iteration(const char *config)
{
	double small = best_run(config, N_SMALL), big = best_run(config, N_BIG);

	if (small < 0 || big < 0)
		return -1;
	return (big - small) / (double)(N_BIG - N_SMALL);
}

#define BENCH_ROUTE                                                                      \
	"  <parent-provides><service name=\"PD\"/><service name=\"CPU\"/>"               \
	"<service name=\"LOG\"/><service name=\"ROM\"/></parent-provides>\n"             \
	"  <default-route><any-service><parent/><any-child/></any-service>"              \
	"</default-route>\n"

static const char ipc_config[] =
    "<config>\n" BENCH_ROUTE
    "  <start name=\"ping\" caps=\"50\"><binary name=\"bench_ping\"/>\n"
    "    <resource name=\"RAM\" quantum=\"1M\"/>\n"
    "    <provides><service name=\"Ping\"/></provides></start>\n"
    "  <start name=\"pong\" caps=\"50\"><binary name=\"bench_pong\"/>\n"
    "    <resource name=\"RAM\" quantum=\"1M\"/></start>\n"
    "</config>\n";

static const char null_config[] =
    "<config>\n" BENCH_ROUTE
    "  <start name=\"null\" caps=\"50\"><binary name=\"bench_null\"/>\n"
    "    <resource name=\"RAM\" quantum=\"1M\"/></start>\n"
    "</config>\n";

int main(int argc, char **argv)
{
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
	double ipc, floor_, sock;

	if (len < 0)
		return 1;
	self[len] = 0;
	/* the benchmark lives in $(B)/bench; capsule and components in $(B) */
	dirname(self); /* in place: self is now $(B)/bench */
	if (strlen(self) + 16 > sizeof capsule)
		return 1;
	snprintf(capsule, sizeof capsule, "%.4000s/../capsule", self);
	snprintf(components, sizeof components, "%.4000s/../components", self);
	if (!mkdtemp(tmpdir) || write_file("ipc.xml", ipc_config) ||
	    write_file("null.xml", null_config))
		return 1;

	sock = bench_unix() * 1e-9;
	floor_ = per_iteration("null.xml");
	ipc = per_iteration("ipc.xml");
	if (sock < 0 || floor_ < 0 || ipc < 0)
		return 1;
	printf("ipc round trip (guest call+reply): %8.0f ns\n", ipc * 1e9);
	printf("floor (null guest syscall):        %8.0f ns\n", floor_ * 1e9);
	printf("unix socket round trip:            %8.0f ns\n", sock * 1e9);
	printf("ratio ipc/floor:  %6.2f   (target <= 5)\n", ipc / floor_);
	printf("ratio socket/ipc: %6.2f   (target >= 20)\n", sock / ipc);
	return 0;
}
