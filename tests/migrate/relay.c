/*
 * A TCP relay for tests/migrate/faults.sh, put between two nodes so the
 * test can break the connection of a migration where it wants:
 *
 *   relay LISTEN_PORT TO_PORT [CUT_BYTES]
 *
 * accepts connections on 127.0.0.1:LISTEN_PORT one after another and
 * forwards each, both ways, to 127.0.0.1:TO_PORT (loopback only).  The
 * connection is cut (both sides closed with a reset) when
 *   - SIGUSR1 arrives: cut now;
 *   - CUT_BYTES is given and the client has sent that many bytes: they
 *     are forwarded, then the cut (a stream cut mid-section);
 * SIGUSR2 holds the connection: nothing is forwarded any more either way
 * (what the peers send stays in the relay), until the cut.  Each event
 * is one line on stdout: "relay: listening", "relay: connection N",
 * "relay: held", "relay: cut (WHY) after C bytes to the server, S to
 * the client", "relay: closed ...".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t cut_now, hold_now;

static void on_usr1(int sig)
{
	(void)sig;
	cut_now = 1;
}

static void on_usr2(int sig)
{
	(void)sig;
	hold_now = 1;
}

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};

	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sa;
}

/* Close with a reset, as a broken link or a killed host would look. */
static void reset(int fd)
{
	struct linger l = {.l_onoff = 1, .l_linger = 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
	close(fd);
}

/* Forward up to limit bytes from one to other; the count, 0 at the
 * end of the stream, -1 on an error. */
static long pass(int from, int to, long limit)
{
	char buf[65536];
	long n = read(from, buf, limit < (long)sizeof buf ? (size_t)limit : sizeof buf);

	if (n <= 0)
		return n < 0 && errno == EINTR ? -2 : n;
	for (long off = 0; off < n;) {
		long w = send(to, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
		if (w < 0)
			return -1;
		off += w;
	}
	return n;
}

/* One connection: forward until either side ends or the cut. */
static void relay(int c, int s, long cut_bytes)
{
	long up = 0, down = 0, n;
	const char *why = NULL;
	int held = 0;

	for (;;) {
		struct pollfd p[2] = {{.fd = c, .events = POLLIN},
				      {.fd = s, .events = POLLIN}};

		if (cut_now)
			why = "on command";
		else if (cut_bytes >= 0 && up >= cut_bytes)
			why = "byte limit";
		if (why)
			break;
		if (hold_now && !held) {
			held = 1;
			printf("relay: held after %ld bytes to the server, %ld to the "
			       "client\n",
			       up, down);
			fflush(stdout);
		}
		if (held) { /* a signal between the test and a sleep: 20 ms late */
			usleep(20000);
			continue;
		}
		if (poll(p, 2, 100) <= 0)
			continue;
		if (p[0].revents) {
			n = pass(c, s, cut_bytes >= 0 ? cut_bytes - up : 1 << 30);
			if (n == -2)
				continue;
			if (n <= 0)
				goto closed;
			up += n;
		}
		if (p[1].revents) {
			n = pass(s, c, 1 << 30);
			if (n == -2)
				continue;
			if (n <= 0)
				goto closed;
			down += n;
		}
	}
	printf("relay: cut (%s) after %ld bytes to the server, %ld to the client\n", why,
	       up, down);
	fflush(stdout);
	reset(c);
	reset(s);
	return;
closed:
	printf("relay: closed after %ld bytes to the server, %ld to the client\n", up,
	       down);
	fflush(stdout);
	close(c);
	close(s);
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_usr1};
	struct sockaddr_in in, to;
	long cut_bytes = -1;
	int l, one = 1, nconn = 0;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: relay LISTEN_PORT TO_PORT [CUT_BYTES]\n");
		return 2;
	}
	in = loopback(atoi(argv[1]));
	to = loopback(atoi(argv[2]));
	if (argc == 4)
		cut_bytes = atol(argv[3]);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_usr2;
	sigaction(SIGUSR2, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (l < 0 || bind(l, (struct sockaddr *)&in, sizeof in) || listen(l, 4)) {
		perror("relay: listen");
		return 1;
	}
	printf("relay: listening\n");
	fflush(stdout);
	for (;;) {
		int c = accept(l, NULL, NULL), s;

		if (c < 0) {
			if (errno == EINTR)
				continue;
			perror("relay: accept");
			return 1;
		}
		s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0 || connect(s, (struct sockaddr *)&to, sizeof to)) {
			perror("relay: connect");
			reset(c);
			if (s >= 0)
				close(s);
			continue;
		}
		cut_now = hold_now = 0;
		printf("relay: connection %d\n", ++nconn);
		fflush(stdout);
		relay(c, s, cut_bytes);
	}
}
