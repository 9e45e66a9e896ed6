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

#include "bench/bench_node.h"

#define SIG_SMALL   1000ULL
#define SIG_BIG	    41000ULL
#define TICK_SMALL  10ULL
#define TICK_BIG    210ULL
#define TICK_PERIOD 0.010
#define REPEAT	    3

static struct bench_node node;

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
	double sig, tick, shot, sock, dev, shot_dev;

	if (bench_node_init(&node, "bench_signal") ||
	    bench_node_file(&node, "sig.xml", sig_config) ||
	    bench_node_file(&node, "timer.xml", timer_config))
		return 1;

	sock = bench_unix() * 1e-9;
	sig = bench_node_per_unit(&node, "sig.xml", SIG_SMALL, SIG_BIG, "", REPEAT);
	tick = bench_node_per_unit(&node, "timer.xml", TICK_SMALL, TICK_BIG, "", REPEAT);
	shot = bench_node_per_unit(&node, "timer.xml", TICK_SMALL, TICK_BIG, " oneshot",
				   REPEAT);
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
