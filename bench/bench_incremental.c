/*
 * Incremental checkpoints and pre-copy migration of a 256 MiB target
 * that rewrites 1% of its pages (components/dirty_writer: 655 pages
 * every 5 ms), through the CLI of two `capsule node` processes:
 *
 *   1. three full checkpoints, then five incremental ones in a chain
 *      (`capsule checkpoint --parent`): the target's pause of each, from
 *      the monitor's "checkpoint paused N us" line; printed: median
 *      incremental pause / median full pause (target <= 3%);
 *      also the target's whole pause, up to its resume (the image line's
 *      "paused": the image's records, the log lines and the resume too);
 *   2. five pre-copy migrations over loopback TCP, each between two
 *      fresh nodes: the "paused P ms" of `capsule migrate` (from the
 *      freeze at the source to the destination's start), its rounds and
 *      the median.
 * `bench_incremental incremental` runs part 1 only.
 */
#include <stdarg.h>

#include "bench/bench_node.h"

#define NAME "w"

static struct bench_node bn;

static const char config_head[] =
    "<config><parent-provides><service name=\"PD\"/><service name=\"CPU\"/>"
    "<service name=\"LOG\"/><service name=\"ROM\"/><service name=\"RM\"/>"
    "<service name=\"Timer\"/><service name=\"IRQ\"/></parent-provides>"
    "<default-route><any-service><parent/></any-service></default-route>"
    "<start name=\"" NAME "\" caps=\"500\"><binary name=\"monitor\"/>"
    "<resource name=\"RAM\" quantum=\"320M\"/><config>";
static const char config_tail[] = "</config></start></config>\n";

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[4 * PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* The last number the sed expression `re` (one group) takes out of node
 * n's log, or -1. */
static double last_figure(const char *n, const char *re)
{
	char cmd[PATH_MAX + 256], line[64] = "";
	FILE *p;

	snprintf(cmd, sizeof cmd, "sed -n 's/%s/\\1/p' %s/%s.log | tail -n 1", re,
		 bn.tmpdir, n);
	if (!(p = popen(cmd, "r")))
		return -1;
	if (!fgets(line, sizeof line, p))
		line[0] = 0;
	pclose(p);
	return line[0] ? atof(line) : -1;
}

/* The last "checkpoint paused N us" of node n's log, in us. */
static double last_pause(const char *n)
{
	return last_figure(n, ".*monitor: checkpoint paused \\([0-9]*\\) us.*");
}

/* The last image line's "paused N us" (up to the resume), in us. */
static double last_resumed(const char *n)
{
	return last_figure(n, ".*monitor: image: .* paused \\([0-9]*\\) us.*");
}

/* The node thread's CPU time in the last checkpoint's pause, in us
 * (the "checkpoint phases" line; load does not stretch it as it does
 * the wall time, but a full checkpoint's copy runs on the host worker,
 * so only the incremental's is printed). */
static double last_cpu(const char *n)
{
	return last_figure(n, ".*checkpoint phases:.*node thread CPU \\([0-9]*\\) us.*");
}

/* The host's load averages over 1, 5 and 15 minutes. */
static const char *loadavg(void)
{
	static char buf[64];
	double a = 0, b = 0, c = 0;
	FILE *f = fopen("/proc/loadavg", "r");

	if (!f || fscanf(f, "%lf %lf %lf", &a, &b, &c) != 3)
		a = b = c = -1;
	if (f)
		fclose(f);
	snprintf(buf, sizeof buf, "%.2f %.2f %.2f", a, b, c);
	return buf;
}

static int incremental(void)
{
	double full[3], inc[5], cpu[5], full_r[3], inc_r[5];
	pid_t a = bench_node_start(&bn, "A", "a.xml", "");

	if (bench_node_wait_log(&bn, "A", "dirty_writer: ready", 1))
		return bench_node_kill(a), -1;
	for (int i = 0; i < 3; i++) {
		if (sh("%s checkpoint --node %s/A.sock " NAME
		       " --force -o %s/base.img >/dev/null",
		       bn.capsule, bn.tmpdir, bn.tmpdir))
			return bench_node_kill(a), -1;
		full[i] = last_pause("A");
		full_r[i] = last_resumed("A");
		usleep(200000);
	}
	for (int i = 0; i < 5; i++) {
		char prev[16];
		snprintf(prev, sizeof prev, i ? "d%d" : "base", i);
		if (sh("%s checkpoint --node %s/A.sock " NAME " --parent %s/%s.img -o "
		       "%s/d%d.img >/dev/null",
		       bn.capsule, bn.tmpdir, bn.tmpdir, prev, bn.tmpdir, i + 1))
			return bench_node_kill(a), -1;
		inc[i] = last_pause("A");
		inc_r[i] = last_resumed("A");
		cpu[i] = last_cpu("A");
		usleep(200000);
	}
	bench_node_kill(a);
	double f = bench_median(full, 3), d = bench_median(inc, 5);
	printf("bench_incremental: 256 MiB, 1%% (655 pages) rewritten every 5 ms: full "
	       "checkpoint paused %.0f us (median of 3), incremental %.0f us (median of "
	       "5): %.2f%% of the full pause (target <= 3%%)\n",
	       f, d, 100.0 * d / f);
	f = bench_median(full_r, 3);
	d = bench_median(inc_r, 5);
	printf("bench_incremental: up to the resume: full %.0f us, incremental %.0f us: "
	       "%.2f%%\n",
	       f, d, 100.0 * d / f);
	printf(
	    "bench_incremental: the incremental pause's CPU on the node's thread: %.0f "
	    "us (median of 5; load %s)\n",
	    bench_median(cpu, 5), loadavg());
	return 0;
}

/* One migration between fresh nodes: its "paused P ms" (-1: failed). */
static double migrate_once(int port, char *line, size_t size)
{
	char cmd[4 * PATH_MAX], args[PATH_MAX + 64];
	pid_t a, b;
	FILE *p;
	double paused = -1;

	snprintf(args, sizeof args, "--key %s/key", bn.tmpdir);
	a = bench_node_start(&bn, "A", "a.xml", args);
	snprintf(args, sizeof args, "--key %s/key --listen 127.0.0.1:%d", bn.tmpdir,
		 port);
	b = bench_node_start(&bn, "B", "b.xml", args);
	if (bench_node_wait_log(&bn, "A", "dirty_writer: pass", 1) ||
	    bench_node_wait_log(&bn, "B", "waiting for a restore", 1))
		goto out;
	snprintf(cmd, sizeof cmd,
		 "%s migrate --node %s/A.sock " NAME " --to 127.0.0.1:%d 2>&1",
		 bn.capsule, bn.tmpdir, port);
	if ((p = popen(cmd, "r"))) {
		if (fgets(line, (int)size, p) && strstr(line, "ok ")) {
			const char *q = strstr(line, "paused ");
			paused = q ? atof(q + 7) : -1;
		}
		pclose(p);
	}
out:
	bench_node_kill(a);
	bench_node_kill(b);
	return paused;
}

static int precopy(void)
{
	double v[5];
	char line[1024];
	int port = 40000 + getpid() % 20000;

	if (sh("%s keygen %s/key >/dev/null", bn.capsule, bn.tmpdir))
		return -1;
	for (int i = 0; i < 5; i++) {
		if ((v[i] = migrate_once(port + i, line, sizeof line)) < 0) {
			fprintf(stderr, "bench_incremental: migration %d: %s", i + 1,
				line);
			return -1;
		}
		printf("bench_incremental: pre-copy %d: %s", i + 1, line);
	}
	printf("bench_incremental: pre-copy of 256 MiB rewriting 1%% over loopback: "
	       "downtime (paused) %.2f ms, median of 5\n",
	       bench_median(v, 5));
	return 0;
}

int main(int argc, char **argv)
{
	char cfg[1024];
	int rc;

	if (bench_node_init(&bn, "bench_incremental"))
		return 1;
	snprintf(cfg, sizeof cfg,
		 "%s<target binary=\"dirty_writer\" ram=\"272M\" "
		 "caps=\"150\"/>%s",
		 config_head, config_tail);
	if (bench_node_file(&bn, "a.xml", cfg))
		return 1;
	snprintf(cfg, sizeof cfg, "%s<restore/>%s", config_head, config_tail);
	if (bench_node_file(&bn, "b.xml", cfg))
		return 1;
	rc =
	    incremental() || (argc < 2 || strcmp(argv[1], "incremental") ? precopy() : 0);
	sh("rm -rf %s", bn.tmpdir);
	return rc ? 1 : 0;
}
