/*
 * Checkpoint/restore benchmark (issue 4): the monitor's test hook
 * (<test checkpoint_after_ms= restore="same-node"/>) checkpoints and
 * restores a target inside one `capsule run` node; the monitor logs
 *   monitor: checkpoint paused N us, M bytes
 *   monitor: restore took N us, K caps; F us with freeing the old target
 * (host clock, in the monitor) and this program reads them from the
 * node's output.  N ends when the new target runs; F adds freeing the old
 * target's sessions and memory, which the monitor does after that.  The
 * ratio uses N: a restore into another node, or after the old target
 * died, has no old target to free, so N is the like-for-like figure for
 * "making a component from its checkpoint"; F is printed beside it.  References, measured
 * in the same run: memcpy  of the same 256 MiB between two touched host buffers (best of
 *           REPEAT; a copy into fresh memory, what the monitor's copy into
 *           a new malloc'd buffer pays, is printed for context).
 * Figures:
 *   1. checkpoint of bench_cr_mem (256 MiB, half zero pages): bandwidth
 *      against memcpy's (target >= 0.7x);
 *   2. its restore: time against memcpy's (target <= 1.5x);
 *   3. restore of bench_cr_caps with N RPC objects: the slope of restore
 *      time over the caps in the cap map, in us per cap (target <= 2),
 *      for N in 1, 16, 64, 256, 1024, 2048, 3248 — as far as the monitor
 *      takes them: past the first N it refuses, the largest N it takes is
 *      found by bisection and measured instead.  (A same-node restore
 *      needs core to hold the old and the new target's gates at once, in
 *      its own 4096-slot cap space: that, not the target's cap map, is
 *      the limit.)
 * Each node figure is the best of REPEAT runs (the machine is noisy).
 * Never asserts a target: a missed one is printed as missed, exit 0; exit
 * 1 only if a node cannot be run at all.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MEM_BYTES (256ULL << 20)
#define REPEAT	  3
#define LOG_MAX	  (64 * 1024)

static char capsule[PATH_MAX], components[PATH_MAX],
    tmpdir[] = "/tmp/capsule-bench-cr-XXXXXX";
static char out[LOG_MAX];

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int write_file(const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f)) {
		fprintf(stderr, "bench_cr: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Run the node of config text with ROM bench.count = count; its output in
 * out[].  The node's exit status (0: everything exited 0), -1 if it could
 * not be started or its output read. */
static int run_node(const char *config, unsigned long long count)
{
	char text[32], cmd[4 * PATH_MAX], path[PATH_MAX];
	FILE *f;
	size_t n;
	int rc;

	snprintf(text, sizeof text, "%llu\n", count);
	if (write_file("bench.count", text) || write_file("node.xml", config))
		return -1;
	/* bounded: a node whose target fails at set-up may not end */
	snprintf(cmd, sizeof cmd,
		 "timeout 120 %s run --rom %s --rom %s %s/node.xml >%s/out.log 2>&1",
		 capsule, tmpdir, components, tmpdir, tmpdir);
	rc = system(cmd);
	snprintf(path, sizeof path, "%s/out.log", tmpdir);
	f = fopen(path, "r");
	if (rc == -1 || !f)
		return -1;
	n = fread(out, 1, sizeof out - 1, f);
	out[n] = 0;
	fclose(f);
	return rc;
}

/* The first "key A ... B" in out[] after `after` (NULL: anywhere): the two
 * numbers following key, separated by fmt's text.  0 or -1. */
static int find2(const char *key, const char *fmt, unsigned long long *a,
		 unsigned long long *b, const char *after)
{
	const char *from = out, *p;

	if (after && !(from = strstr(out, after)))
		return -1;
	p = strstr(from, key);
	if (!p || sscanf(p + strlen(key), fmt, a, b) != 2)
		return -1;
	return 0;
}

/* As find2, for one number. */
static int find1(const char *key, const char *fmt, unsigned long long *a,
		 const char *after)
{
	const char *from = out, *p;

	if (after && !(from = strstr(out, after)))
		return -1;
	p = strstr(from, key);
	if (!p || sscanf(p + strlen(key), fmt, a) != 1)
		return -1;
	return 0;
}

/* The last line of out[] containing s (for messages), or "". */
static const char *line_with(const char *s, char *buf, size_t size)
{
	const char *p = NULL, *q;

	for (q = strstr(out, s); q; q = strstr(q + 1, s))
		p = q;
	if (!p)
		return "";
	while (p > out && p[-1] != '\n')
		p--;
	q = strchr(p, '\n');
	snprintf(buf, size, "%.*s", (int)(q ? q - p : (long)strlen(p)), p);
	return buf;
}

static const char *met(int ok)
{
	return ok ? "target met" : "TARGET MISSED";
}

/* ---- references ------------------------------------------------------- */

/* Best memcpy time of MEM_BYTES between touched buffers (*warm) and into
 * fresh memory (*cold), seconds; 0 or -1. */
static int memcpy_ref(double *warm, double *cold)
{
	char *src = malloc(MEM_BYTES), *dst = malloc(MEM_BYTES);
	int rc = -1;

	*warm = *cold = 1e9;
	if (!src || !dst)
		goto out;
	for (uint64_t i = 0; i < MEM_BYTES; i += 4096)
		((uint64_t *)(src + i))[0] = (i / 4096) & 1 ? 0 : i + 1;
	memset(dst, 1, MEM_BYTES);
	for (int r = 0; r < REPEAT; r++) {
		char *fresh = malloc(MEM_BYTES);
		double t0 = now_ns(), t1, t2;
		memcpy(dst, src, MEM_BYTES);
		t1 = now_ns();
		if (!fresh)
			goto out;
		memcpy(fresh, src, MEM_BYTES);
		t2 = now_ns();
		if (dst[MEM_BYTES / 2] != src[MEM_BYTES / 2] ||
		    fresh[MEM_BYTES - 4096] != src[MEM_BYTES - 4096]) {
			free(fresh);
			goto out;
		}
		free(fresh);
		*warm = (t1 - t0) * 1e-9 < *warm ? (t1 - t0) * 1e-9 : *warm;
		*cold = (t2 - t1) * 1e-9 < *cold ? (t2 - t1) * 1e-9 : *cold;
	}
	rc = 0;
out:
	free(src);
	free(dst);
	return rc;
}

/* ---- 1 and 2: a 256 MiB target ---------------------------------------- */

static const char mem_config[] =
    "<config>\n"
    "  <default-route><any-service><parent/></any-service></default-route>\n"
    "  <start name=\"mem\" caps=\"600\"><binary name=\"monitor\"/>\n"
    /* the target, and a second copy of it while a restore runs */
    "    <resource name=\"RAM\" quantum=\"600M\"/>\n"
    "    <config><target binary=\"bench_cr_mem\" ram=\"264M\" caps=\"150\"/>\n"
    "      <test checkpoint_after_ms=\"1000\" restore=\"same-node\"/></config>\n"
    "  </start>\n"
    "</config>\n";

/* Best paused time, restore time and restore time with the old target's
 * freeing (seconds) of REPEAT runs; bytes the checkpoint copied.  0 or -1
 * (the reason printed). */
static int bench_mem(double *paused, double *restore, double *full,
		     unsigned long long *bytes)
{
	char line[256];

	*paused = *restore = *full = 1e9;
	for (int r = 0; r < REPEAT; r++) {
		unsigned long long us, n, rus, caps, fus;
		int rc = run_node(mem_config, 0);
		const char *touched = strstr(out, "bench_cr_mem: touched");
		const char *ckpt = strstr(out, "monitor: checkpoint paused");

		if (rc == -1)
			return -1;
		if (!touched || !ckpt || ckpt < touched ||
		    find2("monitor: checkpoint paused ", "%llu us, %llu bytes", &us, &n,
			  NULL) ||
		    find2("monitor: restore took ", "%llu us, %llu caps", &rus, &caps,
			  NULL) ||
		    find1(" caps; ", "%llu us with freeing", &fus,
			  "monitor: restore took ") ||
		    !strstr(out, "bench_cr_mem: memory intact") || rc != 0) {
			fprintf(
			    stderr,
			    "bench_cr: 256 MiB run %d: no checkpoint and restore of the "
			    "touched target (status %d): %s\n",
			    r, rc,
			    line_with(ckpt ? "monitor: restore" : "monitor:", line,
				      sizeof line));
			return -1;
		}
		*bytes = n;
		*paused = us * 1e-6 < *paused ? us * 1e-6 : *paused;
		*restore = rus * 1e-6 < *restore ? rus * 1e-6 : *restore;
		*full = fus * 1e-6 < *full ? fus * 1e-6 : *full;
	}
	return 0;
}

/* ---- 3: restore time against the number of caps ------------------------ */

/* One run of bench_cr_caps with n objects: restore time (us) and caps in
 * the map.  1 measured, 0 the monitor or the target refused n, -1 the
 * node could not be run. */
static int caps_run(unsigned long long n, unsigned long long *us,
		    unsigned long long *caps)
{
	char config[1024];
	int rc;

	/* the target's quota: a cap per object; the monitor's: two targets */
	snprintf(config, sizeof config,
		 "<config>\n"
		 "  <default-route><any-service><parent/></any-service>"
		 "</default-route>\n"
		 "  <start name=\"caps\" caps=\"%llu\"><binary name=\"monitor\"/>\n"
		 "    <resource name=\"RAM\" quantum=\"40M\"/>\n"
		 "    <config><target binary=\"bench_cr_caps\" ram=\"16M\" "
		 "caps=\"%llu\"/>\n"
		 "      <test checkpoint_after_ms=\"300\" restore=\"same-node\"/>"
		 "</config>\n"
		 "  </start>\n"
		 "</config>\n",
		 2 * (n + 150) + 300, n + 150);
	rc = run_node(config, n);
	if (rc == -1)
		return -1;
	if (rc || find2("monitor: restore took ", "%llu us, %llu caps", us, caps, NULL) ||
	    !strstr(out, "objects answer"))
		return 0;
	return 1;
}

/* Best of REPEAT runs; 1, 0 or -1 as caps_run. */
static int caps_best(unsigned long long n, unsigned long long *us,
		     unsigned long long *caps)
{
	*us = ~0ULL;
	for (int r = 0; r < REPEAT; r++) {
		unsigned long long t;
		int rc = caps_run(n, &t, caps);
		if (rc != 1)
			return rc;
		*us = t < *us ? t : *us;
	}
	return 1;
}

#define NPOINTS 8

struct point {
	unsigned long long n, caps, us;
};

/* Least-squares slope of us over caps. */
static double slope(const struct point *p, int k)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0;

	for (int i = 0; i < k; i++) {
		sx += p[i].caps;
		sy += p[i].us;
		sxx += (double)p[i].caps * p[i].caps;
		sxy += (double)p[i].caps * p[i].us;
	}
	return (k * sxy - sx * sy) / (k * sxx - sx * sx);
}

static int bench_caps(void)
{
	static const unsigned long long ns[] = {1, 16, 64, 256, 1024, 2048, 3248};
	struct point p[NPOINTS];
	unsigned long long good = 0, bad = 0, us, caps;
	char line[256];
	int k = 0, rc;

	for (unsigned i = 0; i < sizeof ns / sizeof ns[0]; i++) {
		if ((rc = caps_best(ns[i], &us, &caps)) == -1)
			return -1;
		if (!rc) {
			bad = ns[i];
			printf("bench_cr: %4llu objects: refused: %s\n", ns[i],
			       strstr(out, "ep_manage failed")
				   ? line_with("ep_manage failed", line, sizeof line)
			       : strstr(out, "restore failed")
				   ? line_with("restore failed", line, sizeof line)
				   : line_with("bench_cr_caps:", line, sizeof line));
			break;
		}
		good = ns[i];
		p[k++] = (struct point){ns[i], caps, us};
	}
	if (bad && good) { /* the largest n the monitor takes */
		unsigned long long lo = good, hi = bad;
		while (hi - lo > 1) {
			unsigned long long mid = lo + (hi - lo) / 2;
			if ((rc = caps_run(mid, &us, &caps)) == -1)
				return -1;
			*(rc ? &lo : &hi) = mid;
		}
		if (lo > good && caps_best(lo, &us, &caps) == 1)
			p[k++] = (struct point){lo, caps, us};
		printf("bench_cr: the monitor takes at most %llu objects "
		       "(%llu refused: %s)\n",
		       lo, hi,
		       caps_run(hi, &us, &caps) == 0 && strstr(out, "restore failed")
			   ? line_with("restore failed", line, sizeof line)
			   : "see above");
	}
	for (int i = 0; i < k; i++)
		printf(
		    "bench_cr: %4llu objects, %4llu caps in the map: restore %7llu us\n",
		    p[i].n, p[i].caps, p[i].us);
	if (k < 2) {
		printf(
		    "bench_cr: restore per cap: not measurable (fewer than two sizes)\n");
		return 0;
	}
	double per = slope(p, k);
	printf("bench_cr: restore per cap: %.2f us (slope over %d sizes, %llu..%llu caps)"
	       "   (target <= 2 us)  %s\n",
	       per, k, p[0].caps, p[k - 1].caps, met(per <= 2.0));
	return 0;
}

int main(void)
{
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
	double warm, cold, paused, restore, full;
	unsigned long long bytes;
	int have_mem;

	if (len < 0)
		return 1;
	self[len] = 0;
	/* the benchmark lives in $(B)/bench; capsule and components in $(B) */
	dirname(self);
	snprintf(capsule, sizeof capsule, "%.4000s/../capsule", self);
	snprintf(components, sizeof components, "%.4000s/../components", self);
	if (!mkdtemp(tmpdir) || memcpy_ref(&warm, &cold)) {
		fprintf(stderr, "bench_cr: no temporary directory or no memory\n");
		return 1;
	}
	printf("bench_cr: memcpy 256 MiB: %.1f ms (%.0f MB/s), into fresh memory "
	       "%.1f ms\n",
	       warm * 1e3, MEM_BYTES / warm / 1e6, cold * 1e3);
	have_mem = !bench_mem(&paused, &restore, &full, &bytes);
	if (have_mem) {
		double bw = bytes / paused, mbw = MEM_BYTES / warm;
		double rel = restore / (warm * bytes / MEM_BYTES);
		printf("bench_cr: checkpoint of %llu bytes: paused %.1f ms (%.0f MB/s); "
		       "memcpy %.0f MB/s: ratio %.2f   (target >= 0.7)  %s\n",
		       bytes, paused * 1e3, bw / 1e6, mbw / 1e6, bw / mbw,
		       met(bw / mbw >= 0.7));
		printf(
		    "bench_cr:   (against memcpy into fresh memory, as the checkpoint's "
		    "copy is: ratio %.2f)\n",
		    bw / (MEM_BYTES / cold));
		printf(
		    "bench_cr: restore of it: %.1f ms; memcpy of as many bytes %.1f ms: "
		    "ratio %.2f   (target <= 1.5)  %s\n",
		    restore * 1e3, warm * bytes / MEM_BYTES * 1e3, rel, met(rel <= 1.5));
		printf("bench_cr:   (until the new target runs; with freeing the old "
		       "target after that: %.1f ms, ratio %.2f)\n",
		       full * 1e3, full / (warm * bytes / MEM_BYTES));
	}
	if (bench_caps())
		return 1;
	return have_mem ? 0 : 1;
}
