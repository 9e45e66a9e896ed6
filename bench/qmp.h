/*
 * A QMP client for bench_migrate's QEMU peer: QEMU is driven through its
 * machine protocol on a Unix socket (one JSON object per line), asked to
 * migrate and polled with query-migrate for its own downtime and total
 * time.
 */
#ifndef BENCH_QMP_H
#define BENCH_QMP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Send one QMP command and read until a line with "return" or "error";
 * that line into out.  0 or -1. */
static inline int qmp(int fd, const char *cmd, char *out, size_t size)
{
	size_t n = 0;

	if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
		return -1;
	for (;;) {
		char *nl;
		ssize_t r = read(fd, out + n, size - 1 - n);
		if (r <= 0)
			return -1;
		n += (size_t)r;
		out[n] = 0;
		while ((nl = strchr(out, '\n'))) {
			*nl = 0;
			if (strstr(out, "\"return\"") || strstr(out, "\"error\""))
				return strstr(out, "\"error\"") ? -1 : 0;
			n -= (size_t)(nl + 1 - out);
			memmove(out, nl + 1, n + 1);
		}
		if (n >= size - 1)
			n = 0;
	}
}

/* Connect to QEMU's QMP socket at path (retrying for 10 s while it
 * comes up), read its greeting and enter command mode: the fd, or -1. */
static inline int qmp_open(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char buf[4096];
	int fd = -1;

	snprintf(sa.sun_path, sizeof sa.sun_path, "%.100s", path);
	for (int i = 0; i < 200; i++) {
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (!connect(fd, (struct sockaddr *)&sa, sizeof sa))
			break;
		close(fd);
		fd = -1;
		usleep(50000);
	}
	if (fd < 0 || read(fd, buf, sizeof buf) <= 0 || /* the greeting */
	    qmp(fd, "{\"execute\":\"qmp_capabilities\"}\n", buf, sizeof buf)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* The number after key in a QMP answer, or -1 if key is not there. */
static inline double json_num(const char *s, const char *key)
{
	const char *p = strstr(s, key);

	return p ? strtod(p + strlen(key), NULL) : -1;
}

#endif
