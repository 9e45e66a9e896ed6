/*
 * Signal benchmarks, each against a reference measured in the same run:
 *
 *   latency  a signal ping-pong between two guest components (sigping
 *            submits to sigpong's context, sigpong's handler submits back
 *            to sigping's): time per round trip, against a Unix-domain-
 *            socket round trip between two Linux processes.
 *   timer    N ticks of a guest's periodic 10 ms timer against N * period
 *            on the host clock: deviation in %; the same with a 10 ms
 *            one-shot re-armed in each handler (adds delivery latency).
 *
 * Guests have no clock, so each guest figure is the difference of two
 * whole node runs (`capsule run`) that differ only in the count read from
 * the ROM "bench.count" (see bench_ipc.c): boot, loading and exit cancel.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/unix_rtt.h"

#define SIG_SMALL   1000ULL
#define SIG_BIG	    41000ULL
#define TICK_SMALL  10ULL
#define TICK_BIG    210ULL
#define TICK_PERIOD 0.010
#define REPEAT	    3

static char capsule[PATH_MAX], components[PATH_MAX],
    tmpdir[] = "/tmp/capsule-bench-XXXXXX";

static int write_file(const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f)) {
		fprintf(stderr, "bench_signal: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static const char *count_suffix = "";

/* Run one node with `count`; wall time in seconds, < 0 on failure. */
static double run_node(const char *config, unsigned long long count)
{
	char text[48], cfg[PATH_MAX], cmd[4 * PATH_MAX];
	double t0;
	int rc;

	snprintf(text, sizeof text, "%llu%s\n", count, count_suffix);
	if (write_file("bench.count", text))
		return -1;
	snprintf(cfg, sizeof cfg, "%s/%s", tmpdir, config);
	snprintf(cmd, sizeof cmd, "%s run --rom %s --rom %s %s >%s/out.log 2>&1", capsule,
		 tmpdir, components, cfg, tmpdir);
	t0 = now_ns() * 1e-9;
	rc = system(cmd);
	if (rc != 0) {
		fprintf(
		    stderr,
		    "bench_signal: node run of %s failed (status %d), see %s/out.log\n",
		    config, rc, tmpdir);
		return -1;
	}
	return now_ns() * 1e-9 - t0;
}

/* Seconds per unit of count, by difference of the fastest of REPEAT runs
 * at each count. */
static double per_unit(const char *config, unsigned long long small,
		       unsigned long long big)
{
	double t[2] = {-1, -1};
	unsigned long long n[2] = {small, big};

	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < REPEAT; i++) {
			double r = run_node(config, n[k]);
			if (r < 0)
				return -1;
			if (t[k] < 0 || r < t[k])
				t[k] = r;
		}
	}
	return (t[1] - t[0]) / (double)(big - small);
}

#define BENCH_ROUTE                                                                      \
	"  <parent-provides><service name=\"PD\"/><service name=\"CPU\"/>"               \
	"<service name=\"LOG\"/><service name=\"ROM\"/><service name=\"Timer\"/>"        \
	"</parent-provides>\n"                                                           \
	"  <default-route><any-service><parent/><any-child/></any-service>"              \
	"</default-route>\n"

static const char sig_config[] =
    "<config>\n" BENCH_ROUTE
    "  <start name=\"sigpong\" caps=\"50\"><binary name=\"bench_sigpong\"/>\n"
    "    <resource name=\"RAM\" quantum=\"1M\"/>\n"
    "    <provides><service name=\"SigPong\"/></provides></start>\n"
    "  <start name=\"sigping\" caps=\"50\"><binary name=\"bench_sigping\"/>\n"
    "    <resource name=\"RAM\" quantum=\"1M\"/></start>\n"
    "</config>\n";

static const char timer_config[] =
    "<config>\n" BENCH_ROUTE
    "  <start name=\"timer\" caps=\"50\"><binary name=\"bench_timer\"/>\n"
    "    <resource name=\"RAM\" quantum=\"1M\"/></start>\n"
    "</config>\n";

int main(int argc, char **argv)
{
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
	double sig, tick, shot, sock, dev, shot_dev;

	if (len < 0)
		return 1;
	self[len] = 0;
	dirname(self); /* $(B)/bench; capsule and components are in $(B) */
	snprintf(capsule, sizeof capsule, "%.4000s/../capsule", self);
	snprintf(components, sizeof components, "%.4000s/../components", self);
	if (!mkdtemp(tmpdir) || write_file("sig.xml", sig_config) ||
	    write_file("timer.xml", timer_config))
		return 1;

	sock = bench_unix() * 1e-9;
	sig = per_unit("sig.xml", SIG_SMALL, SIG_BIG);
	tick = per_unit("timer.xml", TICK_SMALL, TICK_BIG);
	count_suffix = " oneshot";
	shot = per_unit("timer.xml", TICK_SMALL, TICK_BIG);
	if (sock < 0 || sig < 0 || tick < 0 || shot < 0)
		return 1;
	dev = (tick - TICK_PERIOD) / TICK_PERIOD * 100.0;
	shot_dev = (shot - TICK_PERIOD) / TICK_PERIOD * 100.0;
	printf("signal round trip (two guests):  %8.0f ns\n", sig * 1e9);
	printf("unix socket round trip:          %8.0f ns\n", sock * 1e9);
	printf("ratio signal/socket: %6.2f\n", sig / sock);
	printf("timer: %llu ticks of 10 ms took %.3f ms each on the host clock\n",
	       TICK_BIG - TICK_SMALL, tick * 1e3);
	printf(
	    "timer deviation against the host clock: %+.2f %%   (target within 1 %%)\n",
	    dev);
	printf("one-shot 10 ms re-armed per tick: %.3f ms each, deviation %+.2f %%\n",
	       shot * 1e3, shot_dev);
	return 0;
}
