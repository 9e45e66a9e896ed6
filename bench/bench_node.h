/*
 * Running whole nodes from a benchmark.  Guests have no clock, so a guest
 * figure is the difference of two `capsule run` nodes that differ only in
 * the count read from the ROM "bench.count": boot, loading and exit cancel.
 * Each node run is repeated and the fastest kept, because this machine is
 * noisy.  Header-only: each benchmark is one C file.
 */
#ifndef BENCH_NODE_H
#define BENCH_NODE_H

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/unix_rtt.h"

struct bench_node {
	const char *prog; /* for messages */
	char capsule[PATH_MAX], components[PATH_MAX];
	char tmpdir[64];
};

/* The benchmark lives in $(B)/bench; capsule and the components are in
 * $(B).  Makes a temporary directory for configs and ROMs.  0 or -1. */
static inline int bench_node_init(struct bench_node *b, const char *prog)
{
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);

	b->prog = prog;
	snprintf(b->tmpdir, sizeof b->tmpdir, "/tmp/capsule-bench-XXXXXX");
	if (len < 0 || !mkdtemp(b->tmpdir))
		return -1;
	self[len] = 0;
	dirname(self); /* in place: self is now $(B)/bench */
	snprintf(b->capsule, sizeof b->capsule, "%.4000s/../capsule", self);
	snprintf(b->components, sizeof b->components, "%.4000s/../components", self);
	return 0;
}

/* Write text to the file `name` in the temporary directory.  0 or -1. */
static inline int bench_node_file(struct bench_node *b, const char *name,
				  const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", b->tmpdir, name);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f)) {
		fprintf(stderr, "%s: %s: %s\n", b->prog, path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Run one node of `config` (in the temporary directory) with "COUNT
 * SUFFIX" in bench.count; wall time in seconds, < 0 on failure. */
static inline double bench_node_run(struct bench_node *b, const char *config,
				    unsigned long long count, const char *suffix)
{
	char text[64], cmd[4 * PATH_MAX];
	double t0;
	int rc;

	snprintf(text, sizeof text, "%llu%s\n", count, suffix);
	if (bench_node_file(b, "bench.count", text))
		return -1;
	snprintf(cmd, sizeof cmd, "%s run --rom %s --rom %s %s/%s >%s/out.log 2>&1",
		 b->capsule, b->tmpdir, b->components, b->tmpdir, config, b->tmpdir);
	t0 = now_ns() * 1e-9;
	rc = system(cmd);
	if (rc != 0) {
		fprintf(stderr, "%s: node run of %s failed (status %d), see %s/out.log\n",
			b->prog, config, rc, b->tmpdir);
		return -1;
	}
	return now_ns() * 1e-9 - t0;
}

/* Seconds per unit of count: the fastest of `repeat` runs at `small` and
 * at `big`, their difference divided by big - small.  < 0 on failure. */
static inline double bench_node_per_unit(struct bench_node *b, const char *config,
					 unsigned long long small, unsigned long long big,
					 const char *suffix, int repeat)
{
	double t[2] = {-1, -1};
	unsigned long long n[2] = {small, big};

	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < repeat; i++) {
			double r = bench_node_run(b, config, n[k], suffix);
			if (r < 0)
				return -1;
			if (t[k] < 0 || r < t[k])
				t[k] = r;
		}
	}
	return (t[1] - t[0]) / (double)(big - small);
}

/* ---- nodes that stay up, driven through their control socket ---------- */

#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>

/* Start `capsule node` of config (in the temporary directory) as node n:
 * control socket n.sock, log n.log there, extra args.  Its pid, or -1.
 * An earlier node n's log and socket are removed first: a wait for a log
 * line must not find the old node's, nor a command its socket. */
static inline pid_t bench_node_start(struct bench_node *b, const char *n,
				     const char *config, const char *args)
{
	char cmd[4 * PATH_MAX];
	pid_t pid;

	snprintf(cmd, sizeof cmd, "%s/%s.log", b->tmpdir, n);
	unlink(cmd);
	snprintf(cmd, sizeof cmd, "%s/%s.sock", b->tmpdir, n);
	unlink(cmd);
	pid = fork();
	if (pid == 0) {
		snprintf(cmd, sizeof cmd,
			 "exec %s node --rom %s --rom %s %s/%s --control %s/%s.sock %s "
			 ">%s/%s.log 2>&1",
			 b->capsule, b->tmpdir, b->components, b->tmpdir, config,
			 b->tmpdir, n, args, b->tmpdir, n);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static inline void bench_node_kill(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

/* Wait (60 s at most) until node n's log holds `count` lines with the
 * fixed string s.  0, or -1 with a line on stderr. */
static inline int bench_node_wait_log(struct bench_node *b, const char *n, const char *s,
				      int count)
{
	char cmd[2 * PATH_MAX];

	snprintf(cmd, sizeof cmd,
		 "test \"0$(grep -c -F '%s' %s/%s.log 2>/dev/null)\" -ge %d", s,
		 b->tmpdir, n, count);
	for (int i = 0; i < 600; i++) {
		if (!system(cmd))
			return 0;
		usleep(100000);
	}
	fprintf(stderr, "%s: node %s: fewer than %d lines '%s' in 60 s\n", b->prog, n,
		count, s);
	return -1;
}

/* Run a capsule command (printf-style, the capsule binary prepended) and
 * keep the first line of its output in line.  Wall time in seconds, < 0
 * if it did not answer "ok " (the answer is then in line). */
static inline double bench_capsule(struct bench_node *b, char *line, size_t size,
				   const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline double bench_capsule(struct bench_node *b, char *line, size_t size,
				   const char *fmt, ...)
{
	char args[3 * PATH_MAX], cmd[3 * PATH_MAX + 2 * PATH_MAX];
	double t0 = now_ns() * 1e-9, t;
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof cmd, "%s %s 2>&1", b->capsule, args);
	line[0] = 0;
	if (!(p = popen(cmd, "r")))
		return -1;
	if (!fgets(line, (int)size, p))
		line[0] = 0;
	while (fgetc(p) != EOF)
		;
	pclose(p);
	t = now_ns() * 1e-9 - t0;
	return strncmp(line, "ok ", 3) ? -1 : t;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The median of v[0..n) (v is sorted). */
static inline double bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
	return v[n / 2];
}

#endif
