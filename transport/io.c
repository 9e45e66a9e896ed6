/*
 * Whole reads and writes on a socket: a short read is only ever the
 * peer's end of the connection, reported as such; a read or write
 * timeout (SO_RCVTIMEO/SO_SNDTIMEO) is reported as one.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "transport/transport.h"

static void io_error(int e, const char *what, char *err, size_t size)
{
	if (e == EAGAIN || e == EWOULDBLOCK)
		snprintf(err, size, "%s: timed out", what);
	else
		snprintf(err, size, "%s: %s", what, strerror(e));
}

int io_read(int fd, void *buf, size_t n, const char *what, char *err, size_t size)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = recv(fd, (char *)buf + got, n - got, 0);
		if (r > 0) {
			got += (size_t)r;
		} else if (r == 0) {
			snprintf(err, size, "%s: the peer closed the connection%s", what,
				 got ? " in mid-message" : "");
			return -1;
		} else if (errno != EINTR) {
			io_error(errno, what, err, size);
			return -1;
		}
	}
	return 0;
}

int io_write(int fd, const void *buf, size_t n, const char *what, char *err, size_t size)
{
	size_t put = 0;

	while (put < n) {
		ssize_t r = send(fd, (const char *)buf + put, n - put, MSG_NOSIGNAL);
		if (r >= 0) {
			put += (size_t)r;
		} else if (errno != EINTR) {
			io_error(errno, what, err, size);
			return -1;
		}
	}
	return 0;
}
