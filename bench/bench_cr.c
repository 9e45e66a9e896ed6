/*
 * Checkpoint/restore benchmark (issue 4).  The monitor logs
 *   monitor: checkpoint paused N us, M bytes
 *   monitor: restore phases (us): open .., threads .., ..., free-old ..
 *   monitor: restore took N us, K caps; F us with freeing the old target
 * (host clock, in the monitor) and this program reads them from the
 * node's output.  N ends when the new target runs; F adds freeing the old
 * target's sessions and memory, which a same-node restore does after
 * that.  The figures use N: a restore into another node, or after the old
 * target died, has no old target to free, so N is the like-for-like
 * figure for "making a component from its checkpoint".  References,
 * measured in the same run: memcpy of the same 256 MiB between two
 * touched host buffers (best of REPEAT; a copy into fresh memory, what the
 * monitor's copy into a new malloc'd buffer pays, is printed for context).
 * Figures:
 *   1. checkpoint of bench_cr_mem (256 MiB, half zero pages), same node
 *      (<test checkpoint_after_log="1" restore="same-node"/>:
 *      right after its "touched" line): bandwidth
 *      against memcpy's (target >= 0.7x);
 *   2. its restore: time against memcpy's (target <= 1.5x);
 *   3. restore of bench_cr_caps with N RPC objects: the slope of restore
 *      time over the caps in the cap map (K), in us per cap (target <= 2),
 *      for N in 1, 16, 64, 256, 1024, 2048, 3248 as far as they restore,
 *      then the largest N that restores (bisection) and why the next one
 *      does not.  Two series:
 *      same-node:  the test hook restores the target inside its node.
 *                  Core and the monitor then hold the old and the new
 *                  target's gates at once in their 4096-slot cap spaces:
 *                  that is its limit;
 *      other-node: node A (<test .. image=FILE then="exit"/>) checkpoints
 *                  the target to FILE and stops; node B, a fresh `capsule
 *                  run` (<restore image=FILE/>), restores it, CAPS_REPEAT times
 *                  from the one image.  Its limit is the target's own cap
 *                  space: fixed selectors, libbase's caps and a worker
 *                  thread's receive window beside the N gates.
 *      A run counts only if every object answers through its new gate
 *      afterwards.
 * Each node figure is the best of REPEAT runs, CAPS_REPEAT for figure 3
 * (the machine is noisy).
 * Never asserts a target: a missed one is printed as missed, exit 0; exit
 * 1 only if a node cannot be run at all.  Arguments choose the parts
 * (mem, same-node, other-node); none runs all.
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
/* a caps run is short (under 20 ms of restore in a 0.6 s node) and other
 * sessions' load hits it hard: more runs per size */
#define CAPS_REPEAT 5
#define LOG_MAX	    (64 * 1024)

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
    "      <test checkpoint_after_log=\"1\" restore=\"same-node\"/></config>\n"
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

/* Same node: the monitor's test hook restores the target inside its node.
 * Other node: node A checkpoints it to an image file and stops; node B, a
 * fresh `capsule run` with an empty monitor, restores that file. */
enum caps_mode { SAME_NODE, OTHER_NODE };
static const char *const mode_name[] = {"same-node", "other-node"};

static char why[512];	     /* why the last run did not measure its n */
static char phases[256];     /* the phase line of the best run of caps_best */
static char image[PATH_MAX]; /* node A's image file */

/* A node with one monitor whose <config> is inner.  Its quota: a cap per
 * object for the target, and room for a second copy of the target (a
 * same-node restore holds both). */
static void caps_config(char *buf, size_t size, unsigned long long n, const char *inner)
{
	snprintf(buf, size,
		 "<config>\n"
		 "  <default-route><any-service><parent/></any-service>"
		 "</default-route>\n"
		 "  <start name=\"caps\" caps=\"%llu\"><binary name=\"monitor\"/>\n"
		 "    <resource name=\"RAM\" quantum=\"40M\"/>\n"
		 "    <config>%s</config>\n"
		 "  </start>\n"
		 "</config>\n",
		 2 * (n + 150) + 300, inner);
}

static void caps_target(char *buf, size_t size, unsigned long long n, const char *test)
{
	snprintf(buf, size,
		 "<target binary=\"bench_cr_caps\" ram=\"16M\" caps=\"%llu\"/>\n"
		 "      %s",
		 n + 150, test);
}

/* The line of out[] that says best why a node did not do its part. */
static const char *refusal(char *buf, size_t size)
{
	static const char *const keys[] = {
	    "bench_cr_caps: cannot set up", "monitor: restore failed",
	    "monitor: restore refused",	    "monitor: checkpoint failed",
	    "monitor: image: cannot",	    "bench_cr_caps: an object does not answer",
	    "monitor: target exited",	    "monitor: "};

	for (unsigned k = 0; k < sizeof keys / sizeof keys[0]; k++)
		if (strstr(out, keys[k]))
			return line_with(keys[k], buf, size);
	return "no line of the monitor or the target";
}

/* After a node that restored n objects: its restore time and caps.  1 if
 * it exited 0, logged them and every object answered afterwards;
 * otherwise 0, with why set (prefixed by node). */
static int caps_restored(int rc, unsigned long long n, const char *node,
			 unsigned long long *us, unsigned long long *caps)
{
	char answer[64], line[256];

	snprintf(answer, sizeof answer, "bench_cr_caps: all %llu objects answer", n);
	if (!rc &&
	    !find2("monitor: restore took ", "%llu us, %llu caps", us, caps, NULL) &&
	    strstr(out, answer))
		return 1;
	snprintf(why, sizeof why, "%s%s", node, refusal(line, sizeof line));
	return 0;
}

/* One same-node run of n objects: 1 measured, 0 refused (why set), -1 the
 * node could not be run. */
static int caps_same(unsigned long long n, unsigned long long *us,
		     unsigned long long *caps)
{
	char inner[512], config[1024];
	int rc;

	caps_target(inner, sizeof inner, n,
		    "<test checkpoint_after_ms=\"300\" restore=\"same-node\"/>");
	caps_config(config, sizeof config, n, inner);
	if ((rc = run_node(config, n)) == -1)
		return -1;
	return caps_restored(rc, n, "", us, caps);
}

/* Node A: n objects checkpointed to image[], the target stopped.  1, 0
 * (why set) or -1 as caps_same. */
static int caps_image(unsigned long long n)
{
	char test[PATH_MAX + 128], inner[PATH_MAX + 256], config[PATH_MAX + 768],
	    line[256];
	int rc;

	snprintf(image, sizeof image, "%s/caps.img", tmpdir);
	unlink(image);
	snprintf(test, sizeof test,
		 "<test checkpoint_after_ms=\"300\" image=\"%s\" then=\"exit\"/>", image);
	caps_target(inner, sizeof inner, n, test);
	caps_config(config, sizeof config, n, inner);
	if ((rc = run_node(config, n)) == -1)
		return -1;
	if (!rc && strstr(out, "monitor: target stopped after its image was written"))
		return 1;
	snprintf(why, sizeof why, "node A: %s", refusal(line, sizeof line));
	return 0;
}

/* Node B: image[] restored by an empty monitor.  1, 0 or -1 as above. */
static int caps_other(unsigned long long n, unsigned long long *us,
		      unsigned long long *caps)
{
	char inner[PATH_MAX + 64], config[PATH_MAX + 512];
	int rc;

	snprintf(inner, sizeof inner, "<restore image=\"%s\"/>", image);
	caps_config(config, sizeof config, n, inner);
	if ((rc = run_node(config, n)) == -1)
		return -1;
	return caps_restored(rc, n, "node B: ", us, caps);
}

/* The fastest restore of `repeat` runs of n objects (other node: one
 * image, restored `repeat` times) and its phase line in phases[].  1
 * measured, 0 refused (why set), -1 a node could not be run. */
static int caps_best(enum caps_mode mode, unsigned long long n, int repeat,
		     unsigned long long *us, unsigned long long *caps)
{
	char line[256];
	int rc;

	if (mode == OTHER_NODE && (rc = caps_image(n)) != 1)
		return rc;
	*us = ~0ULL;
	for (int r = 0; r < repeat; r++) {
		unsigned long long t;
		rc = mode == SAME_NODE ? caps_same(n, &t, caps) : caps_other(n, &t, caps);
		if (rc != 1)
			return rc;
		if (t < *us)
			snprintf(phases, sizeof phases, "%s",
				 line_with("monitor: restore phases", line, sizeof line));
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

/* The largest n in (good, bad) that restores, by bisection (one run per
 * probe); the refusal of the smallest n that does not in stop[]. */
static long long caps_limit(enum caps_mode mode, unsigned long long good,
			    unsigned long long bad, char *stop, size_t size,
			    unsigned long long *first_bad)
{
	unsigned long long lo = good, hi = bad, us, caps;
	int rc;

	snprintf(stop, size, "%s", why);
	while (hi - lo > 1) {
		unsigned long long mid = lo + (hi - lo) / 2;
		if ((rc = caps_best(mode, mid, 1, &us, &caps)) == -1)
			return -1;
		if (!rc)
			snprintf(stop, size, "%s", why);
		*(rc ? &lo : &hi) = mid;
	}
	*first_bad = hi;
	return (long long)lo;
}

/* One series: restore time for each size of ns[] that fits and the
 * largest that fits, the table and the slope.  0 or -1. */
static int bench_caps(enum caps_mode mode)
{
	static const unsigned long long ns[] = {1, 16, 64, 256, 1024, 2048, 3248};
	const char *name = mode_name[mode];
	struct point p[NPOINTS];
	unsigned long long good = 0, bad = 0, us, caps, hi;
	char stop[sizeof why], last[sizeof phases] = "";
	long long lo;
	int k = 0, rc;

	for (unsigned i = 0; i < sizeof ns / sizeof ns[0]; i++) {
		if ((rc = caps_best(mode, ns[i], CAPS_REPEAT, &us, &caps)) == -1)
			return -1;
		if (!rc) {
			bad = ns[i];
			printf("bench_cr: %s: %4llu objects: refused: %s\n", name, ns[i],
			       why);
			break;
		}
		good = ns[i];
		p[k++] = (struct point){ns[i], caps, us};
		snprintf(last, sizeof last, "%s", phases);
	}
	if (bad && good) {
		if ((lo = caps_limit(mode, good, bad, stop, sizeof stop, &hi)) == -1)
			return -1;
		if ((unsigned long long)lo > good &&
		    (rc = caps_best(mode, lo, CAPS_REPEAT, &us, &caps)) == 1) {
			p[k++] = (struct point){lo, caps, us};
			snprintf(last, sizeof last, "%s", phases);
		}
		printf("bench_cr: %s: at most %lld objects restore (%llu: %s)\n", name,
		       lo, hi, stop);
	}
	for (int i = 0; i < k; i++)
		printf(
		    "bench_cr: %s: %4llu objects, %4llu caps in the map: restore %7llu "
		    "us\n",
		    name, p[i].n, p[i].caps, p[i].us);
	if (k)
		printf("bench_cr: %s: at %llu objects: %s\n", name, p[k - 1].n,
		       strstr(last, "restore phases") ? strstr(last, "restore phases")
						      : "no phase line");
	if (k < 2) {
		printf("bench_cr: %s: restore per cap: not measurable (fewer than two "
		       "sizes)\n",
		       name);
		return 0;
	}
	double per = slope(p, k);
	printf("bench_cr: %s: restore per cap: %.2f us (slope over %d sizes, %llu..%llu "
	       "caps)   (target <= 2 us)  %s\n",
	       name, per, k, p[0].caps, p[k - 1].caps, met(per <= 2.0));
	return 0;
}

/* Figures 1 and 2 against memcpy (warm, cold: its times).  0, or -1 if
 * the 256 MiB node could not be checkpointed and restored. */
static int report_mem(double warm, double cold)
{
	double paused, restore, full;
	unsigned long long bytes;

	if (bench_mem(&paused, &restore, &full, &bytes))
		return -1;
	double bw = bytes / paused, mbw = MEM_BYTES / warm;
	double rel = restore / (warm * bytes / MEM_BYTES);
	printf("bench_cr: checkpoint of %llu bytes: paused %.1f ms (%.0f MB/s); "
	       "memcpy %.0f MB/s: ratio %.2f   (target >= 0.7)  %s\n",
	       bytes, paused * 1e3, bw / 1e6, mbw / 1e6, bw / mbw, met(bw / mbw >= 0.7));
	printf("bench_cr:   (against memcpy into fresh memory, as the checkpoint's "
	       "copy is: ratio %.2f)\n",
	       bw / (MEM_BYTES / cold));
	printf("bench_cr: restore of it: %.1f ms; memcpy of as many bytes %.1f ms: "
	       "ratio %.2f   (target <= 1.5)  %s\n",
	       restore * 1e3, warm * bytes / MEM_BYTES * 1e3, rel, met(rel <= 1.5));
	printf("bench_cr:   (until the new target runs; with freeing the old "
	       "target after that: %.1f ms, ratio %.2f)\n",
	       full * 1e3, full / (warm * bytes / MEM_BYTES));
	return 0;
}

/* Arguments: which parts to run ("mem", "same-node", "other-node"); none:
 * all of them. */
int main(int argc, char **argv)
{
	static const char *const parts[] = {"mem", "same-node", "other-node"};
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
	int want[3] = {argc < 2, argc < 2, argc < 2}, rc = 0;
	double warm, cold;

	for (int a = 1; a < argc; a++) {
		int k = 0;
		while (k < 3 && strcmp(argv[a], parts[k]))
			k++;
		if (k == 3) {
			fprintf(stderr,
				"bench_cr: argument '%s': not one of mem, same-node, "
				"other-node\n",
				argv[a]);
			return 2;
		}
		want[k] = 1;
	}
	if (len < 0)
		return 1;
	self[len] = 0;
	/* the benchmark lives in $(B)/bench; capsule and components in $(B) */
	dirname(self);
	snprintf(capsule, sizeof capsule, "%.4000s/../capsule", self);
	snprintf(components, sizeof components, "%.4000s/../components", self);
	if (!mkdtemp(tmpdir)) {
		fprintf(stderr, "bench_cr: no temporary directory: %s\n",
			strerror(errno));
		return 1;
	}
	if (want[0]) {
		if (memcpy_ref(&warm, &cold)) {
			fprintf(stderr, "bench_cr: no memory for the memcpy reference\n");
			return 1;
		}
		printf("bench_cr: memcpy 256 MiB: %.1f ms (%.0f MB/s), into fresh memory "
		       "%.1f ms\n",
		       warm * 1e3, MEM_BYTES / warm / 1e6, cold * 1e3);
		rc = report_mem(warm, cold) ? 1 : 0;
	}
	for (int mode = SAME_NODE; mode <= OTHER_NODE; mode++)
		if (want[1 + mode] && bench_caps(mode))
			return 1;
	if (image[0])
		unlink(image);
	return rc;
}
