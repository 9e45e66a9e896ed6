/*
 * Migration benchmark (issue 10): a target of SIZE MiB that rewrites a 1%
 * working set continuously (components/bench_wset: 655 of 65536 pages
 * at 256 MiB) is migrated between two `capsule node` processes over TCP
 * on 127.0.0.1; the reference, in the same run, is QEMU (Debian's
 * qemu-system-x86, TCG) migrating a guest of its own that touches the
 * same memory and rewrites the same working set (bench/qemu_wset.S, a
 * multiboot kernel) between two QEMU processes on 127.0.0.1 (-incoming
 * tcp:), read from QMP query-migrate (downtime, total-time).  Figures:
 * the median of RUNS migrations of each of capsule's downtime (the
 * "paused P ms" of migrate's final line) and total time ("total T ms"),
 * QEMU's, and capsule's over QEMU's.  Capsule migrates in each mode of
 * MIGRATE_MODES ("default": plain `capsule migrate`; another word M
 * adds --M; unset: "default postcopy").  QEMU runs with its defaults but
 * max-bandwidth, raised to 10 GiB/s so that its default 128 MiB/s
 * throttle does not decide its total time on loopback.
 *
 *   bench_migrate              256 MiB over 127.0.0.1; with "postcopy"
 *                              in MIGRATE_MODES also its downtime (the
 *                              freeze at the source to the target
 *                              running at the destination) at 16, 64 and
 *                              256 MiB (BENCH_MIGRATE_SLOPE_SIZES, e.g.
 *                              "16 64 256 1024" for 1 GiB too) and the
 *                              fitted slope
 *   bench_migrate --shaped     16 and 256 MiB between two network
 *                              namespaces joined by a veth pair shaped
 *                              with tc tbf 100mbit (root; make
 *                              bench-shaped), capsule and QEMU alike
 *
 * Never asserts a target: prints the figures, exit 0; exit 1 only if a
 * node, QEMU or a migration cannot be run at all.  No QEMU: it says so
 * and prints capsule's figures alone (make bench installs it through
 * mk/bench-deps.sh).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/qmp.h"

#define RUNS	  5
#define ARGS_MAX  40
#define WAIT_S	  120 /* for a node to come up and touch its memory */
#define MIG_S	  300 /* for one migration */
#define NS_A	  "capsule-bma"
#define NS_B	  "capsule-bmb"
#define ADDR_A_NS "10.77.1.1"
#define ADDR_B_NS "10.77.1.2"
#define QEMU	  "qemu-system-x86_64"

static char capsule[PATH_MAX], components[PATH_MAX], benchdir[PATH_MAX], tmp[64];
static int shaped, port;

struct fig {
	double down[RUNS], total[RUNS];
	int n;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	double s[RUNS];

	memcpy(s, v, n * sizeof *v);
	qsort(s, n, sizeof *s, cmp);
	return n ? (n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2) : -1;
}

/* Start argv (in namespace ns if not NULL) with stdout and stderr to
 * log; its pid or -1. */
static pid_t spawn(const char *ns, char *const argv[], const char *log)
{
	char *args[ARGS_MAX + 4];
	int i = 0, fd;
	pid_t pid;

	if (ns) {
		args[i++] = "ip";
		args[i++] = "netns";
		args[i++] = "exec";
		args[i++] = (char *)ns;
	}
	for (int j = 0; argv[j] && i < ARGS_MAX + 3; j++)
		args[i++] = argv[j];
	args[i] = NULL;
	pid = fork();
	if (pid)
		return pid;
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	setpgid(0, 0);
	execvp(args[0], args);
	fprintf(stderr, "bench_migrate: %s: %s\n", args[0], strerror(errno));
	_exit(127);
}

static void stop(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

/* The file's text (up to size - 1 bytes) into buf; its length. */
static size_t slurp(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, size - 1, f);
		fclose(f);
	}
	buf[n] = 0;
	return n;
}

/* Until the file at path contains text, at most s seconds: 0 or -1. */
static int wait_for(const char *path, const char *text, double s)
{
	static char buf[1 << 20];
	double t0 = now_s();

	while (now_s() - t0 < s) {
		slurp(path, buf, sizeof buf);
		if (strstr(buf, text))
			return 0;
		usleep(50000);
	}
	return -1;
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f)) {
		fprintf(stderr, "bench_migrate: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int sh(const char *cmd)
{
	int rc = system(cmd);

	return rc == 0 ? 0 : -1;
}

/* ---- the shaped link ---------------------------------------------------- */

static void net_down(void)
{
	if (shaped)
		(void)!system("ip netns del " NS_A " 2>/dev/null; ip netns del " NS_B
			      " 2>/dev/null");
}

static int net_up(void)
{
	net_down();
	return sh(
	    "ip netns add " NS_A " && ip netns add " NS_B " && "
	    "ip link add cbm-a type veth peer name cbm-b && "
	    "ip link set cbm-a netns " NS_A " && ip link set cbm-b netns " NS_B " && "
	    "ip -n " NS_A " addr add " ADDR_A_NS "/24 dev cbm-a && "
	    "ip -n " NS_B " addr add " ADDR_B_NS "/24 dev cbm-b && "
	    "ip -n " NS_A " link set lo up && ip -n " NS_B " link set lo up && "
	    "ip -n " NS_A " link set cbm-a up && ip -n " NS_B " link set cbm-b up && "
	    "tc -n " NS_A " qdisc add dev cbm-a root tbf rate 100mbit burst 32kb "
	    "latency 20ms && "
	    "tc -n " NS_B " qdisc add dev cbm-b root tbf rate 100mbit burst 32kb "
	    "latency 20ms");
}

/* ---- capsule ------------------------------------------------------------ */

static int node_config(const char *path, int mb, const char *what)
{
	char text[2048];

	snprintf(text, sizeof text,
		 "<config>\n"
		 "  <parent-provides> <service name=\"PD\"/> <service name=\"CPU\"/>\n"
		 "    <service name=\"LOG\"/> <service name=\"ROM\"/> <service "
		 "name=\"RM\"/>\n"
		 "    <service name=\"Timer\"/> <service name=\"IRQ\"/> "
		 "</parent-provides>\n"
		 "  <default-route> <any-service> <parent/> </any-service> "
		 "</default-route>\n"
		 "  <start name=\"wset\" caps=\"500\">\n"
		 "    <binary name=\"monitor\"/>\n"
		 "    <resource name=\"RAM\" quantum=\"%dM\"/>\n"
		 "    <config>%s</config>\n"
		 "  </start>\n"
		 "</config>\n",
		 2 * mb + 96, what);
	return write_file(path, text);
}

/* Where this run's pause went: the lines of log (a node's) from its
 * last "phase final" on that break it down (tools/migrate_send.c,
 * migrate_receive.c, monitor/checkpoint*.c, restore_image.c), indented. */
static void phases(const char *log)
{
	static char buf[1 << 20];
	const char *keys[] = {"incremental: ",	      "checkpoint paused",
			      " bytes written to ",   ": paused ",
			      "restore of the image", "received in",
			      "restore phases",	      " started (in "};
	char *line, *save, *from, *at;

	slurp(log, buf, sizeof buf);
	for (from = buf; (at = strstr(from, "phase final"));)
		from = at + 1;
	for (line = strtok_r(from, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		for (unsigned k = 0; k < sizeof keys / sizeof *keys; k++)
			if (strstr(line, keys[k])) {
				printf("      %s\n", line);
				break;
			}
}

/* One capsule migration of an mb MiB bench_wset: downtime and total in
 * ms.  0, or -1 with the reason printed. */
static int capsule_once(int mb, const char *mode, double *down, double *total)
{
	char a[PATH_MAX], bcfg[PATH_MAX], path[PATH_MAX], asock[PATH_MAX],
	    bsock[PATH_MAX];
	char alog[PATH_MAX], blog[PATH_MAX], listen[64], to[64], target[128],
	    cmd[4 * PATH_MAX];
	char line[1024] = "", flag[64] = "";
	const char *addr_b = shaped ? ADDR_B_NS : "127.0.0.1";
	pid_t pa = -1, pb = -1;
	int rc = -1;
	FILE *p;

	snprintf(path, sizeof path, "%s/bench.count", tmp);
	snprintf(target, sizeof target,
		 "<target binary=\"bench_wset\" ram=\"%dM\" caps=\"150\"/>", mb + 16);
	snprintf(a, sizeof a, "%s/a.xml", tmp);
	snprintf(bcfg, sizeof bcfg, "%s/b.xml", tmp);
	snprintf(line, sizeof line, "%d\n", mb);
	if (write_file(path, line) || node_config(a, mb, target) ||
	    node_config(bcfg, mb, "<restore/>"))
		return -1;
	snprintf(asock, sizeof asock, "%s/a.sock", tmp);
	snprintf(bsock, sizeof bsock, "%s/b.sock", tmp);
	snprintf(alog, sizeof alog, "%s/a.log", tmp);
	snprintf(blog, sizeof blog, "%s/b.log", tmp);
	snprintf(listen, sizeof listen, "%s:%d", addr_b, ++port);
	snprintf(to, sizeof to, "%s", listen);
	snprintf(path, sizeof path, "%s/key", tmp);
	unlink(asock);
	unlink(bsock);
	unlink(alog); /* not the last run's lines: the child opens them anew */
	unlink(blog);
	{
		char *bargs[] = {capsule,    "node",  "--rom",	   tmp,	  "--rom",
				 components, bcfg,    "--control", bsock, "--listen",
				 listen,     "--key", path,	   NULL};
		char *aargs[] = {capsule, "node",     "--rom", tmp,
				 "--rom", components, a,       "--control",
				 asock,	  "--key",    path,    NULL};
		pb = spawn(shaped ? NS_B : NULL, bargs, blog);
		pa = spawn(shaped ? NS_A : NULL, aargs, alog);
	}
	if (wait_for(blog, "waiting for a restore", WAIT_S) ||
	    wait_for(alog, "bench_wset: touched", WAIT_S)) {
		fprintf(stderr,
			"bench_migrate: the capsule nodes did not come up: see %s, %s\n",
			alog, blog);
		goto out;
	}
	usleep(300000); /* the working set is being rewritten */
	if (strcmp(mode, "default"))
		snprintf(flag, sizeof flag, "--%s", mode);
	/* the default deadline (30 s) is too short for 256 MiB at 100 Mbit/s */
	snprintf(cmd, sizeof cmd,
		 "timeout %d %s migrate --node %s wset --to %s --timeout %d %s 2>&1",
		 MIG_S, capsule, asock, to, MIG_S - 20, flag);
	p = popen(cmd, "r");
	if (!p || !fgets(line, sizeof line, p)) {
		if (p)
			pclose(p);
		fprintf(stderr, "bench_migrate: capsule migrate printed nothing\n");
		goto out;
	}
	{
		char next[sizeof line];
		while (fgets(next, sizeof next, p)) /* the last line has the figures */
			memcpy(line, next, sizeof next);
	}
	pclose(p);
	{
		const char *t = strstr(line, " total "), *d = strstr(line, " paused ");
		if (strncmp(line, "ok ", 3) || !t || !d) {
			fprintf(stderr, "bench_migrate: capsule migrate: %s", line);
			goto out;
		}
		*total = strtod(t + 7, NULL);
		*down = strtod(d + 8, NULL);
	}
	/* the destination runs it (post-copy: with every page there) */
	if (wait_for(blog, "migrate: phase done", 10)) {
		fprintf(stderr, "bench_migrate: the destination did not restore it: %s\n",
			blog);
		goto out;
	}
	phases(alog);
	phases(blog);
	rc = 0;
out:
	stop(pa);
	stop(pb);
	return rc;
}

/* ---- QEMU --------------------------------------------------------------- */

/* One QEMU migration of its guest for mb MiB: downtime and total in ms. */
static int qemu_once(int mb, double *down, double *total)
{
	char elf[PATH_MAX], mem[32], dbg[PATH_MAX], dbgarg[PATH_MAX + 8], qa[PATH_MAX],
	    qb[PATH_MAX], qaa[PATH_MAX + 40], qba[PATH_MAX + 40], inc[64], uri[160],
	    alog[PATH_MAX], blog[PATH_MAX], buf[8192];
	const char *addr_b = shaped ? ADDR_B_NS : "127.0.0.1";
	pid_t pa = -1, pb = -1;
	int fd = -1, rc = -1;
	double t0;

	snprintf(elf, sizeof elf, "%.4000s/qemu_wset_%d.elf", benchdir, mb);
	if (access(elf, R_OK)) {
		fprintf(
		    stderr,
		    "bench_migrate: %s: QEMU's guest is missing (make bench builds it)\n",
		    elf);
		return -1;
	}
	snprintf(mem, sizeof mem, "%dM", mb + 32);
	snprintf(dbg, sizeof dbg, "%s/q.dbg", tmp);
	snprintf(dbgarg, sizeof dbgarg, "file:%s", dbg);
	snprintf(qa, sizeof qa, "%s/qa.qmp", tmp);
	snprintf(qb, sizeof qb, "%s/qb.qmp", tmp);
	snprintf(qaa, sizeof qaa, "unix:%s,server=on,wait=off", qa);
	snprintf(qba, sizeof qba, "unix:%s,server=on,wait=off", qb);
	snprintf(inc, sizeof inc, "tcp:%s:%d", addr_b, ++port);
	snprintf(uri, sizeof uri,
		 "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"%s\"}}\n", inc);
	snprintf(alog, sizeof alog, "%s/qa.log", tmp);
	snprintf(blog, sizeof blog, "%s/qb.log", tmp);
	unlink(dbg);
	unlink(qa);
	unlink(qb);
	unlink(alog);
	unlink(blog);
	{
		char *common[] = {
		    QEMU,	 "-machine", "pc,accel=tcg", "-m",   mem,
		    "-kernel",	 elf,	     "-display",     "none", "-nodefaults",
		    "-debugcon", dbgarg,     "-qmp",	     NULL,   NULL,
		    NULL,	 NULL};
		common[13] = qba;
		common[14] = "-incoming";
		common[15] = inc;
		pb = spawn(shaped ? NS_B : NULL, common, blog);
		common[13] = qaa;
		common[14] = NULL;
		pa = spawn(shaped ? NS_A : NULL, common, alog);
	}
	if (wait_for(dbg, "T", WAIT_S) || (fd = qmp_open(qa)) < 0) {
		fprintf(stderr, "bench_migrate: QEMU did not come up: see %s, %s\n", alog,
			blog);
		goto out;
	}
	usleep(300000);
	if (qmp(fd,
		"{\"execute\":\"migrate-set-parameters\",\"arguments\":"
		"{\"max-bandwidth\":10737418240}}\n",
		buf, sizeof buf) ||
	    qmp(fd, uri, buf, sizeof buf)) {
		fprintf(stderr, "bench_migrate: QMP migrate: %s\n", buf);
		goto out;
	}
	t0 = now_s();
	while (now_s() - t0 < MIG_S) {
		if (qmp(fd, "{\"execute\":\"query-migrate\"}\n", buf, sizeof buf))
			break;
		if (strstr(buf, "\"completed\"")) {
			*down = json_num(buf, "\"downtime\": ");
			*total = json_num(buf, "\"total-time\": ");
			rc = *down < 0 || *total < 0 ? -1 : 0;
			break;
		}
		if (strstr(buf, "\"failed\"") || strstr(buf, "\"cancelled\""))
			break;
		usleep(20000);
	}
	if (rc)
		fprintf(stderr, "bench_migrate: QEMU's migration: %s\n", buf);
out:
	if (fd >= 0)
		close(fd);
	stop(pa);
	stop(pb);
	return rc;
}

/* ---- figures ------------------------------------------------------------ */

static int have_qemu(void)
{
	return sh("command -v " QEMU " >/dev/null 2>&1") == 0;
}

static int series(const char *what, int mb, const char *mode, struct fig *f)
{
	f->n = 0;
	for (int i = 0; i < RUNS; i++) {
		int rc = mode ? capsule_once(mb, mode, &f->down[f->n], &f->total[f->n])
			      : qemu_once(mb, &f->down[f->n], &f->total[f->n]);
		if (rc)
			return -1;
		f->n++;
	}
	printf("  %-22s %4d MiB: downtime median %8.1f ms, total median %8.1f ms  "
	       "(downtimes",
	       what, mb, median(f->down, f->n), median(f->total, f->n));
	for (int i = 0; i < f->n; i++)
		printf(" %.0f", f->down[i]);
	printf(")\n");
	fflush(stdout);
	return 0;
}

static int size_figures(int mb, const char *modes)
{
	struct fig q = {0}, c;
	char list[256], *save, *mode;
	int qemu = have_qemu();

	if (!qemu)
		printf("  QEMU (%s) is not installed: capsule's figures alone "
		       "(make bench installs it)\n",
		       QEMU);
	else if (series("QEMU (TCG)", mb, NULL, &q))
		return -1;
	snprintf(list, sizeof list, "%s", modes);
	for (mode = strtok_r(list, " ", &save); mode; mode = strtok_r(NULL, " ", &save)) {
		char what[64];
		snprintf(what, sizeof what, "capsule (%s)", mode);
		if (series(what, mb, mode, &c))
			return -1;
		if (qemu)
			printf("    capsule (%s) / QEMU at %d MiB: downtime %.2fx, total "
			       "%.2fx%s\n",
			       mode, mb, median(c.down, c.n) / median(q.down, q.n),
			       median(c.total, c.n) / median(q.total, q.n),
			       median(c.down, c.n) < median(q.down, q.n)
				   ? " (downtime below QEMU's)"
				   : " (downtime not below QEMU's)");
	}
	return 0;
}

/* Post-copy's downtime should not grow with the memory: capsule's median
 * downtime at each size of BENCH_MIGRATE_SLOPE_SIZES (MiB, default "16
 * 64 256"; add 1024 for 1 GiB) and the least-squares slope in ms per
 * GiB. */
static int slope_figures(const char *mode)
{
	const char *env = getenv("BENCH_MIGRATE_SLOPE_SIZES");
	char list[256], *save, *tok, what[64];
	double x[16], y[16], sx = 0, sy = 0, sxx = 0, sxy = 0;
	int n = 0;
	struct fig c;

	snprintf(list, sizeof list, "%s", env && *env ? env : "16 64 256");
	snprintf(what, sizeof what, "capsule (%s)", mode);
	for (tok = strtok_r(list, " ", &save); tok && n < 16;
	     tok = strtok_r(NULL, " ", &save)) {
		int mb = atoi(tok);
		if (mb < 1 || series(what, mb, mode, &c))
			return -1;
		x[n] = mb / 1024.0;
		y[n++] = median(c.down, c.n);
	}
	for (int i = 0; i < n; i++) {
		sx += x[i];
		sy += y[i];
		sxx += x[i] * x[i];
		sxy += x[i] * y[i];
	}
	if (n >= 2 && n * sxx - sx * sx > 0)
		printf("    capsule (%s): downtime slope %.2f ms per GiB over %d sizes\n",
		       mode, (n * sxy - sx * sy) / (n * sxx - sx * sx), n);
	return 0;
}

static void cleanup(void)
{
	char cmd[128];

	net_down();
	if (!getenv("BENCH_KEEP")) {
		snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
		(void)!system(cmd);
	}
}

int main(int argc, char **argv)
{
	char self[PATH_MAX], key[PATH_MAX + 160];
	const char *modes = getenv("MIGRATE_MODES");
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
	int rc = 0;

	shaped = argc > 1 && !strcmp(argv[1], "--shaped");
	if (len < 0)
		return 1;
	self[len] = 0;
	snprintf(benchdir, sizeof benchdir, "%s", dirname(self));
	snprintf(capsule, sizeof capsule, "%.4000s/../capsule", benchdir);
	snprintf(components, sizeof components, "%.4000s/../components", benchdir);
	snprintf(tmp, sizeof tmp, "/tmp/capsule-bench-migrate-XXXXXX");
	if (!mkdtemp(tmp))
		return 1;
	atexit(cleanup);
	signal(SIGPIPE, SIG_IGN);
	port = 30000 + getpid() % 20000;
	modes = modes && *modes ? modes : "default postcopy";
	snprintf(key, sizeof key, "%s keygen %s/key >/dev/null", capsule, tmp);
	if (sh(key))
		return 1;
	if (shaped) {
		if (getuid() || net_up()) {
			fprintf(stderr, "bench_migrate: --shaped needs root and network "
					"namespaces (ip netns, veth, tc tbf)\n");
			return 1;
		}
		printf("bench_migrate: two network namespaces, veth shaped by tc tbf "
		       "100mbit; "
		       "median of %d; modes: %s\n",
		       RUNS, modes);
		rc = size_figures(16, modes) || size_figures(256, modes);
	} else {
		printf("bench_migrate: 256 MiB, 1%% working set rewritten continuously, "
		       "127.0.0.1; median of %d; modes: %s\n",
		       RUNS, modes);
		rc = size_figures(256, modes);
		if (!rc && strstr(modes, "postcopy"))
			rc = slope_figures("postcopy");
	}
	return rc ? 1 : 0;
}
