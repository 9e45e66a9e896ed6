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

#include "bench/bench_node.h"

#define N_SMALL 1000ULL
#define N_BIG	201000ULL
#define REPEAT	3

static struct bench_node node;

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
	double ipc, floor_, sock;

	if (bench_node_init(&node, "bench_ipc") ||
	    bench_node_file(&node, "ipc.xml", ipc_config) ||
	    bench_node_file(&node, "null.xml", null_config))
		return 1;

	sock = bench_unix() * 1e-9;
	floor_ = bench_node_per_unit(&node, "null.xml", N_SMALL, N_BIG, "", REPEAT);
	ipc = bench_node_per_unit(&node, "ipc.xml", N_SMALL, N_BIG, "", REPEAT);
	if (sock < 0 || floor_ < 0 || ipc < 0)
		return 1;
	printf("ipc round trip (guest call+reply): %8.0f ns\n", ipc * 1e9);
	printf("floor (null guest syscall):        %8.0f ns\n", floor_ * 1e9);
	printf("unix socket round trip:            %8.0f ns\n", sock * 1e9);
	printf("ratio ipc/floor:  %6.2f   (target <= 5)\n", ipc / floor_);
	printf("ratio socket/ipc: %6.2f   (target >= 20)\n", sock / ipc);
	return 0;
}
