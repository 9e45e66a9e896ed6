/*
 * IPC throughput over concurrent client/server pairs: 1, 4, 16 and 64
 * pairs of bench_pong (client) and bench_ping (server) in one node, each
 * client making the count of round trips read from ROM "bench.count".
 * As in bench_ipc, a figure is the difference of two node runs that
 * differ only in the count, divided by the round trips it added (count
 * difference times pairs): the node's time per round trip.  Each node
 * run is repeated and the fastest kept.  Two figures per pair count:
 * wall time, and the node's CPU time (user + system, of the node
 * process), which the host's other load disturbs less, each with its
 * ratio to one pair (flat throughput: 1.0).  The Unix socket
 * round trip and the load average are printed as the run's reference.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#pragma GCC diagnostic ignored "-Wunused-function" /* bench_node_per_unit */
#include "bench/bench_node.h"

#define N_SMALL 200ULL
/* round trips added over all pairs: at least RT_TOTAL, and RT_PER_PAIR a
 * pair, so that the work added outweighs the noise of booting the pairs
 * (64 pairs: 128 components, seconds of CPU time at each run) */
#define RT_TOTAL    800000ULL
#define RT_PER_PAIR 50000ULL
#define REPEAT	    3
#define CONFIG_SZ   (64 * 1024)
#define NCOUNTS	    4

static struct bench_node node;
static const unsigned pair_counts[NCOUNTS] = {1, 4, 16, 64};

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

/* CPU seconds (user + system) of the children waited for so far. */
static double children_cpu(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_CHILDREN, &ru))
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

/* Seconds per round trip of config `name` (pairs pairs), wall and CPU:
 * the fastest of REPEAT runs at the small and at the big count each.
 * 0 or -1 (a failed run, or a difference the host's noise made <= 0). */
static int per_round_trip(const char *name, unsigned pairs, double *wall, double *cpu)
{
	unsigned long long per =
	    RT_TOTAL / pairs > RT_PER_PAIR ? RT_TOTAL / pairs : RT_PER_PAIR;
	unsigned long long n[2] = {N_SMALL, N_SMALL + per};
	double w[2] = {-1, -1}, c[2] = {-1, -1};

	for (int k = 0; k < 2; k++)
		for (int i = 0; i < REPEAT; i++) {
			double c0 = children_cpu();
			double r = bench_node_run(&node, name, n[k], "");
			double rc = children_cpu() - c0;

			if (r < 0)
				return -1;
			if (w[k] < 0 || r < w[k])
				w[k] = r;
			if (c[k] < 0 || rc < c[k])
				c[k] = rc;
		}
	*wall = (w[1] - w[0]) / (double)((n[1] - n[0]) * pairs);
	*cpu = (c[1] - c[0]) / (double)((n[1] - n[0]) * pairs);
	if (*wall > 0 && *cpu > 0)
		return 0;
	fprintf(stderr,
		"bench_ipc_pairs: %u pairs: the runs with more round trips were not "
		"slower (wall %+.3f s, cpu %+.3f s): too noisy a host, run again\n",
		pairs, w[1] - w[0], c[1] - c[0]);
	return -1;
}

int main(int argc, char **argv)
{
	static char cfg[CONFIG_SZ];
	double wall[NCOUNTS], cpu[NCOUNTS], load[3] = {0}, sock, worst = 0;

	if (bench_node_init(&node, "bench_ipc_pairs"))
		return 1;
	sock = bench_unix() * 1e-9;
	if (sock < 0)
		return 1;
	getloadavg(load, 3);
	printf(
	    "load average %.2f %.2f %.2f; unix socket round trip (reference): %7.0f ns\n",
	    load[0], load[1], load[2], sock * 1e9);
	for (unsigned k = 0; k < NCOUNTS; k++) {
		unsigned p = pair_counts[k];
		char name[32];

		snprintf(name, sizeof name, "pairs%u.xml", p);
		if (pairs_config(p, cfg, sizeof cfg) ||
		    bench_node_file(&node, name, cfg) ||
		    per_round_trip(name, p, &wall[k], &cpu[k]))
			return 1;
		if (cpu[k] / cpu[0] > worst)
			worst = cpu[k] / cpu[0];
		printf(
		    "ipc %2u pairs: wall %6.0f ns, cpu %6.0f ns per round trip (node "
		    "total); ratio to 1 pair: wall %5.2f, cpu %5.2f; socket/ipc %5.2f\n",
		    p, wall[k] * 1e9, cpu[k] * 1e9, wall[k] / wall[0], cpu[k] / cpu[0],
		    sock / wall[k]);
	}
	printf("ipc pairs: worst cpu ratio to 1 pair %.2f (flat: 1.00)\n", worst);
	return 0;
}
