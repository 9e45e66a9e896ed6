/*
 * The listener: a host thread that accepts TCP connections on HOST:PORT,
 * bounds every read and write of a connection in time, shakes hands
 * with the key and hands each authenticated connection to the handler,
 * one connection at a time (a migration at a time).  A peer that fails
 * the handshake is closed and named in one line on stderr; nothing of
 * what it sent reaches the handler.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "transport/transport.h"

#define LISTENER_TIMEOUT_MS 10000

static void listener_serve(struct listener *l, int fd)
{
	struct transport_conn c;
	char err[TRANSPORT_ERR_MAX];
	int one = 1;

	/* as address_connect's: without it the kernel holds a small message
	 * while one sent before is unacknowledged, until the peer's delayed
	 * ACK (40 ms on Linux); a post-copy destination's "started" waited
	 * so behind a want the source answered with nothing (1 pause in 10) */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	address_set_timeout(fd, l->timeout_ms);
	if (handshake_server(fd, &l->key, &c, err, sizeof err)) {
		fprintf(stderr, "capsule node: refused %s: %s\n", c.peer, err);
		close(fd);
		return;
	}
	l->fn(&c, l->arg);
	transport_prompt_thread(0); /* as the handler may have left it */
	transport_close(&c);
}

static void *listener_thread(void *arg)
{
	struct listener *l = arg;
	struct pollfd p[2] = {{.fd = l->fd, .events = POLLIN},
			      {.fd = l->quit[0], .events = POLLIN}};

	for (;;) {
		int fd;
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			listener_serve(l, fd);
	}
	return NULL;
}

int listener_start(struct listener *l, const char *spec, const struct transport_key *key,
		   listener_fn fn, void *arg, char *err, size_t size)
{
	int timeout_ms = l->timeout_ms; /* the caller's, if set */

	memset(l, 0, sizeof *l);
	l->quit[0] = l->quit[1] = -1;
	l->timeout_ms = timeout_ms;
	if (sodium_init() < 0) {
		snprintf(err, size, "libsodium cannot start");
		return -1;
	}
	l->fd = address_listen(spec, err, size);
	if (l->fd < 0)
		return -1;
	if (pipe2(l->quit, O_CLOEXEC)) {
		snprintf(err, size, "listen on %s: %s", spec, strerror(errno));
		goto err;
	}
	l->key = *key;
	l->fn = fn;
	l->arg = arg;
	if (!l->timeout_ms)
		l->timeout_ms = LISTENER_TIMEOUT_MS;
	if (pthread_create(&l->thread, NULL, listener_thread, l)) {
		snprintf(err, size, "listen on %s: cannot start a thread", spec);
		goto err;
	}
	l->running = 1;
	return 0;
err:
	close(l->fd);
	if (l->quit[0] >= 0) {
		close(l->quit[0]);
		close(l->quit[1]);
	}
	l->fd = -1;
	return -1;
}

void listener_stop(struct listener *l)
{
	if (!l->running)
		return;
	(void)!write(l->quit[1], "q", 1);
	pthread_join(l->thread, NULL);
	close(l->fd);
	close(l->quit[0]);
	close(l->quit[1]);
	sodium_memzero(&l->key, sizeof l->key);
	l->running = 0;
}
