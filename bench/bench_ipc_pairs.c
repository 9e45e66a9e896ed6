/*
 * IPC throughput over concurrent client/server pairs: 1, 4, 16 and 64
 * pairs of bench_pong (client) and bench_ping (server) in one node, each
 * client making the count of round trips read from ROM "bench.count".
 * As in bench_ipc, a figure is the difference of two node runs that
 * differ only in the count, divided by the round trips it added (count
 * difference times pairs): the node's time per round trip.  Printed per
 * pair count, with its ratio to one pair (flat throughput: 1.0).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_node.h"

#define N_SMALL	  200ULL
#define RT_TOTAL  200000ULL /* round trips added over all pairs */
#define REPEAT	  2
#define CONFIG_SZ (64 * 1024)

static struct bench_node node;
static const unsigned pair_counts[] = {1, 4, 16, 64};

static int pairs_config(unsigned pairs, char *buf, size_t size)
{
	size_t n = (size_t)snprintf(
	    buf, size,
	    "<config caps=\"%u\">\n"
	    "  <parent-provides><service name=\"PD\"/><service name=\"CPU\"/>"
	    "<service name=\"LOG\"/><service name=\"ROM\"/></parent-provides>\n",
	    pairs * 100 + 1000);

	for (unsigned i = 0; i < pairs && n < size; i++)
		n += (size_t)snprintf(
		    buf + n, size - n,
		    "  <start name=\"ping%u\" caps=\"50\"><binary name=\"bench_ping\"/>"
		    "<resource name=\"RAM\" quantum=\"1M\"/>"
		    "<provides><service name=\"Ping\"/></provides>"
		    "<route><any-service><parent/></any-service></route></start>\n"
		    "  <start name=\"pong%u\" caps=\"50\"><binary name=\"bench_pong\"/>"
		    "<resource name=\"RAM\" quantum=\"1M\"/>"
		    "<route><service name=\"Ping\"><child name=\"ping%u\"/></service>"
		    "<any-service><parent/></any-service></route></start>\n",
		    i, i, i);
	if (n < size)
		n += (size_t)snprintf(buf + n, size - n, "</config>\n");
	return n < size ? 0 : -1;
}

int main(int argc, char **argv)
{
	static char cfg[CONFIG_SZ];
	double per[4];

	double sock;

	if (bench_node_init(&node, "bench_ipc_pairs"))
		return 1;
	sock = bench_unix() * 1e-9;
	if (sock < 0)
		return 1;
	printf("unix socket round trip (reference): %7.0f ns\n", sock * 1e9);
	for (unsigned k = 0; k < 4; k++) {
		unsigned p = pair_counts[k];
		char name[32];

		snprintf(name, sizeof name, "pairs%u.xml", p);
		if (pairs_config(p, cfg, sizeof cfg) || bench_node_file(&node, name, cfg))
			return 1;
		per[k] = bench_node_per_unit(&node, name, N_SMALL, N_SMALL + RT_TOTAL / p,
					     "", REPEAT);
		if (per[k] < 0)
			return 1;
		per[k] /= p;
		printf("ipc %2u pairs: %7.0f ns per round trip (node total), ratio to 1 "
		       "pair "
		       "%5.2f, socket/ipc %5.2f\n",
		       p, per[k] * 1e9, per[k] / per[0], sock / per[k]);
	}
	return 0;
}
