/*
 * Whole reads and writes on a socket: a short read is only ever the
 * peer's end of the connection, reported as such; a read or write
 * timeout (SO_RCVTIMEO/SO_SNDTIMEO) is reported as one.  io_read2 reads
 * two pieces in one call where the socket holds both (a record's
 * ciphertext and its tag: one recvmsg instead of two a record).
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

int io_read2(int fd, void *a, size_t na, void *b, size_t nb, const char *what, char *err,
	     size_t size)
{
	struct iovec iov[2];
	struct msghdr msg = {.msg_iov = iov};
	size_t got = 0;

	if (na) /* an empty piece is no piece: nothing is read for it */
		iov[msg.msg_iovlen++] = (struct iovec){.iov_base = a, .iov_len = na};
	if (nb)
		iov[msg.msg_iovlen++] = (struct iovec){.iov_base = b, .iov_len = nb};

	while (msg.msg_iovlen) {
		ssize_t r = recvmsg(fd, &msg, 0);
		if (r > 0) {
			got += (size_t)r;
			/* past what was filled: the rest of a piece, or the next */
			while (msg.msg_iovlen && (size_t)r >= msg.msg_iov->iov_len) {
				r -= (ssize_t)msg.msg_iov->iov_len;
				msg.msg_iov++;
				msg.msg_iovlen--;
			}
			if (msg.msg_iovlen) {
				msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + r;
				msg.msg_iov->iov_len -= (size_t)r;
			}
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

int io_read(int fd, void *buf, size_t n, const char *what, char *err, size_t size)
{
	return io_read2(fd, buf, n, NULL, 0, what, err, size);
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
