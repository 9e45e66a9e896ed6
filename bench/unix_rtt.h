/*
 * The Unix-domain-socket reference of the benchmarks: a one-word round
 * trip between two Linux processes (socketpair + fork), and a clock.
 * Header-only: each benchmark is one C file.
 */
#ifndef BENCH_UNIX_RTT_H
#define BENCH_UNIX_RTT_H

#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define UNIX_ITERS 200000

static inline double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static inline int full_io(int fd, void *buf, size_t n, int write_it)
{
	size_t off = 0;

	while (off < n) {
		ssize_t k = write_it ? write(fd, (char *)buf + off, n - off)
				     : read(fd, (char *)buf + off, n - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		off += (size_t)k;
	}
	return 0;
}

/* ns per one-word round trip between two processes, or negative */
static inline double bench_unix(void)
{
	int sv[2];
	uint64_t w = 0;
	double t0, ns;
	pid_t pid;
	int status;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) { /* echo each word back, incremented */
		close(sv[0]);
		while (!full_io(sv[1], &w, sizeof(w), 0)) {
			w++;
			if (full_io(sv[1], &w, sizeof(w), 1))
				break;
		}
		_exit(0);
	}
	close(sv[1]);
	t0 = now_ns();
	for (long i = 0; i < UNIX_ITERS; i++) {
		if (full_io(sv[0], &w, sizeof(w), 1) || full_io(sv[0], &w, sizeof(w), 0))
			return -1;
	}
	ns = (now_ns() - t0) / UNIX_ITERS;
	close(sv[0]);
	waitpid(pid, &status, 0);
	return w == UNIX_ITERS ? ns : -1;
}

#endif
