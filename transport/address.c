/*
 * HOST:PORT for the transport: numeric addresses only (no name lookup,
 * so a node never waits on a resolver), IPv6 in brackets.  Listening
 * sockets set SO_REUSEADDR; connecting has a deadline.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "transport/transport.h"

int address_parse(const char *spec, char *host, size_t hsize, uint16_t *port, char *err,
		  size_t size)
{
	const char *colon, *h = spec;
	size_t hlen;
	char *end;
	unsigned long p;

	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');
		if (!close || close[1] != ':')
			goto bad;
		h = spec + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(spec, ':');
		if (!colon || memchr(spec, ':', (size_t)(colon - spec)))
			goto bad;
		hlen = (size_t)(colon - spec);
	}
	if (!hlen || hlen >= hsize)
		goto bad;
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || !p || p > 65535)
		goto bad;
	memcpy(host, h, hlen);
	host[hlen] = 0;
	*port = (uint16_t)p;
	return 0;
bad:
	snprintf(err, size,
		 "%.128s: not HOST:PORT (a numeric address and a port 1-65535)", spec);
	return -1;
}

/* spec as a socket address: 0 or -1. */
static int address_resolve(const char *spec, struct sockaddr_storage *sa, socklen_t *len,
			   char *err, size_t size)
{
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
				 .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai;
	char host[INET6_ADDRSTRLEN + 8], port[8];
	uint16_t p;
	int rc;

	if (address_parse(spec, host, sizeof host, &p, err, size))
		return -1;
	snprintf(port, sizeof port, "%u", p);
	if ((rc = getaddrinfo(host, port, &hints, &ai))) {
		snprintf(err, size, "%.128s: %s is not a numeric address", spec, host);
		return -1;
	}
	memcpy(sa, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

int address_listen(const char *spec, char *err, size_t size)
{
	struct sockaddr_storage sa;
	socklen_t len;
	int fd, one = 1;

	if (address_resolve(spec, &sa, &len, err, size))
		return -1;
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
	    bind(fd, (struct sockaddr *)&sa, len) || listen(fd, 4)) {
		snprintf(err, size, "listen on %.128s: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int address_connect(const char *spec, int timeout_ms, char *err, size_t size)
{
	struct sockaddr_storage sa;
	struct pollfd p;
	socklen_t len, elen = sizeof(int);
	int fd, e = 0, one = 1;

	if (address_resolve(spec, &sa, &len, err, size))
		return -1;
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, size, "%.128s: %s", spec, strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, len)) {
		if (errno != EINPROGRESS) {
			e = errno;
		} else {
			p = (struct pollfd){.fd = fd, .events = POLLOUT};
			int n = poll(&p, 1, timeout_ms);
			if (n == 0)
				e = ETIMEDOUT;
			else if (n < 0)
				e = errno;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen))
				e = errno;
		}
	}
	if (e) {
		snprintf(err, size, "connect to %.128s: %s", spec, strerror(e));
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	address_set_timeout(fd, timeout_ms);
	return fd;
}

void address_set_timeout(int fd, int timeout_ms)
{
	struct timeval tv = {.tv_sec = timeout_ms / 1000,
			     .tv_usec = (timeout_ms % 1000) * 1000};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

void address_peer(int fd, char *buf, size_t size)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof sa;
	char host[INET6_ADDRSTRLEN], port[8];

	if (getpeername(fd, (struct sockaddr *)&sa, &len) ||
	    getnameinfo((struct sockaddr *)&sa, len, host, sizeof host, port, sizeof port,
			NI_NUMERICHOST | NI_NUMERICSERV)) {
		snprintf(buf, size, "peer");
		return;
	}
	snprintf(buf, size, sa.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}
