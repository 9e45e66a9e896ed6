/*
 * transport/handshake.c and listener.c: both sides prove the key, a
 * peer without it is refused on both ends, a recorded client replayed
 * to a server is refused, a byte altered on the wire (handshake or
 * data) and a connection cut before FINAL are refused.  A relay thread
 * between client and server records, alters or cuts the client's bytes.
 * The listener test runs on 127.0.0.1 only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include "transport/transport.h"

#define REC_MAX (64 * 1024)

static struct transport_key key_a, key_b;

/* The server: handshake, receive messages up to FINAL, answer "ok N". */
struct server {
	int fd;
	const struct transport_key *key;
	int rc;	    /* 0: the whole stream arrived and was answered */
	int shook;  /* the handshake passed */
	size_t got; /* message bytes received */
	char err[TRANSPORT_ERR_MAX];
};

static void *server_main(void *arg)
{
	struct server *s = arg;
	struct transport_conn c;
	unsigned char buf[TRANSPORT_MSG_MAX];
	char answer[32];
	size_t len;

	s->rc = -1;
	address_set_timeout(s->fd, 5000);
	if (handshake_server(s->fd, s->key, &c, s->err, sizeof s->err)) {
		close(s->fd);
		return NULL;
	}
	s->shook = 1;
	while (!c.rx.final) {
		if (stream_recv(&c.rx, buf, &len, s->err, sizeof s->err))
			goto out;
		s->got += len;
	}
	snprintf(answer, sizeof answer, "ok %zu", s->got);
	s->rc = stream_send(&c.tx, answer, strlen(answer), 1, s->err, sizeof s->err);
out:
	transport_close(&c);
	return NULL;
}

/* The relay: client <-> server, recording the client's bytes; it flips
 * byte flip_at of them (if set) and cuts them after cut_at (if set). */
struct relay {
	int c, s;
	size_t flip_at, cut_at;
	unsigned char rec[REC_MAX];
	size_t len;
};

static void *relay_main(void *arg)
{
	struct relay *r = arg;
	struct pollfd p[2] = {{.fd = r->c, .events = POLLIN},
			      {.fd = r->s, .events = POLLIN}};
	unsigned char buf[4096];

	while (poll(p, 2, 5000) > 0) {
		if (p[0].revents) {
			ssize_t n = read(r->c, buf, sizeof buf);
			if (n <= 0)
				break;
			for (ssize_t i = 0; i < n; i++, r->len++) {
				if (r->flip_at && r->len == r->flip_at)
					buf[i] ^= 0x40;
				if (r->len < REC_MAX)
					r->rec[r->len] = buf[i];
			}
			if (r->cut_at && r->len >= r->cut_at) {
				size_t keep = (size_t)n - (r->len - r->cut_at);
				(void)!send(r->s, buf, keep, MSG_NOSIGNAL);
				break;
			}
			(void)!send(r->s, buf, (size_t)n, MSG_NOSIGNAL);
		}
		if (p[1].revents) {
			ssize_t n = read(r->s, buf, sizeof buf);
			if (n <= 0)
				break;
			(void)!send(r->c, buf, (size_t)n, MSG_NOSIGNAL);
		}
	}
	shutdown(r->s, SHUT_RDWR);
	shutdown(r->c, SHUT_RDWR);
	return NULL;
}

/* One session: a client with ckey sends nmsg messages of 1000 bytes
 * through the relay to a server with skey.  The client's result. */
static int session(const struct transport_key *ckey, const struct transport_key *skey,
		   struct relay *r, struct server *srv, char *err, size_t size)
{
	int a[2], b[2], rc;
	pthread_t ts, tr;
	struct transport_conn c;
	unsigned char msg[1000];
	size_t len;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
	memset(srv, 0, sizeof *srv);
	srv->fd = b[1];
	srv->key = skey;
	r->c = a[1];
	r->s = b[0];
	r->len = 0;
	pthread_create(&ts, NULL, server_main, srv);
	pthread_create(&tr, NULL, relay_main, r);
	address_set_timeout(a[0], 5000);
	memset(msg, 'm', sizeof msg);
	rc = handshake_client(a[0], ckey, &c, err, size);
	for (int i = 0; !rc && i < 5; i++)
		rc = stream_send(&c.tx, msg, sizeof msg, i == 4, err, size);
	if (!rc)
		rc = stream_recv(&c.rx, msg, &len, err, size);
	if (!rc && (len != 7 || memcmp(msg, "ok 5000", 7) || !c.rx.final)) {
		snprintf(err, size, "a wrong answer");
		rc = -1;
	}
	transport_close(&c); /* its socket, and its streams if it shook hands */
	pthread_join(ts, NULL);
	pthread_join(tr, NULL);
	close(a[1]);
	close(b[0]);
	return rc;
}

static void handshake_ok(void **state)
{
	struct relay *r = calloc(1, sizeof *r);
	struct server srv;
	char err[TRANSPORT_ERR_MAX] = "";

	assert_int_equal(session(&key_a, &key_a, r, &srv, err, sizeof err), 0);
	assert_int_equal(srv.rc, 0);
	assert_int_equal(srv.got, 5000);
	free(r);
}

static void wrong_key_refused(void **state)
{
	struct relay *r = calloc(1, sizeof *r);
	struct server srv;
	char err[TRANSPORT_ERR_MAX] = "";

	assert_int_equal(session(&key_a, &key_b, r, &srv, err, sizeof err), -1);
	assert_non_null(strstr(err, "does not hold our key"));
	assert_false(srv.shook);
	assert_int_equal(srv.got, 0);
	free(r);
}

static void replay_refused(void **state)
{
	struct relay *r = calloc(1, sizeof *r);
	struct server srv;
	char err[TRANSPORT_ERR_MAX] = "";
	unsigned char *rec;
	size_t len;
	int sv[2];
	pthread_t t;

	assert_int_equal(session(&key_a, &key_a, r, &srv, err, sizeof err), 0);
	rec = malloc(r->len);
	len = r->len;
	memcpy(rec, r->rec, len);
	/* the whole recorded client side, sent again to a new server */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	memset(&srv, 0, sizeof srv);
	srv.fd = sv[1];
	srv.key = &key_a;
	pthread_create(&t, NULL, server_main, &srv);
	(void)!send(sv[0], rec, len, MSG_NOSIGNAL);
	pthread_join(t, NULL);
	close(sv[0]);
	assert_false(srv.shook);
	assert_int_equal(srv.got, 0);
	assert_non_null(strstr(srv.err, "replays"));
	free(rec);
	free(r);
}

static void tampered_byte_refused(void **state)
{
	struct relay *r = calloc(1, sizeof *r);
	struct server srv;
	char err[TRANSPORT_ERR_MAX];

	/* in the client's proof (after its 72-byte hello): refused */
	r->flip_at = 72 + 5;
	assert_int_equal(session(&key_a, &key_a, r, &srv, err, sizeof err), -1);
	assert_false(srv.shook);
	/* in the data (past hello, proof and stream header) */
	r->flip_at = 72 + 32 + TRANSPORT_STREAM_HEADER + 100;
	assert_int_equal(session(&key_a, &key_a, r, &srv, err, sizeof err), -1);
	assert_true(srv.shook);
	assert_int_equal(srv.rc, -1);
	assert_non_null(strstr(srv.err, "failed authentication"));
	free(r);
}

static void truncated_refused(void **state)
{
	struct relay *r = calloc(1, sizeof *r);
	struct server srv;
	char err[TRANSPORT_ERR_MAX];

	r->cut_at = 72 + 32 + TRANSPORT_STREAM_HEADER + 2500;
	assert_int_equal(session(&key_a, &key_a, r, &srv, err, sizeof err), -1);
	assert_true(srv.shook);
	assert_int_equal(srv.rc, -1);
	assert_true(srv.got < 5000);
	assert_non_null(strstr(srv.err, "closed the connection"));
	free(r);
}

static void garbage_refused(void **state)
{
	struct server srv = {.key = &key_a};
	int sv[2];
	pthread_t t;
	char junk[200];

	memset(junk, 'G', sizeof junk);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	srv.fd = sv[1];
	pthread_create(&t, NULL, server_main, &srv);
	(void)!send(sv[0], junk, sizeof junk, MSG_NOSIGNAL);
	pthread_join(t, NULL);
	close(sv[0]);
	assert_false(srv.shook);
	assert_non_null(strstr(srv.err, "bad greeting"));
}

static void old_version_refused(void **state)
{
	struct server srv = {.key = &key_a};
	int sv[2];
	pthread_t t;
	char hello[72];

	/* a node of transport version 1 (secretstream records) greets */
	memset(hello, 'h', sizeof hello);
	memcpy(hello, "CPSLMIG1", 8);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	srv.fd = sv[1];
	pthread_create(&t, NULL, server_main, &srv);
	(void)!send(sv[0], hello, sizeof hello, MSG_NOSIGNAL);
	pthread_join(t, NULL);
	close(sv[0]);
	assert_false(srv.shook);
	assert_null(strchr(srv.err, '\n'));
	assert_non_null(strstr(srv.err, "transport version 1, this one is 2"));
}

/* ---- the listener, on 127.0.0.1 ------------------------------------------ */

static int served_nodelay = -1; /* TCP_NODELAY of the served connection */

static void on_conn(struct transport_conn *c, void *arg)
{
	char buf[TRANSPORT_MSG_MAX], err[TRANSPORT_ERR_MAX];
	socklen_t sl = sizeof served_nodelay;
	size_t len;

	if (getsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &served_nodelay, &sl))
		served_nodelay = -1;

	if (!stream_recv(&c->rx, buf, &len, err, sizeof err) && c->rx.final)
		stream_send(&c->tx, buf, len, 1, err, sizeof err); /* echo */
	(*(int *)arg)++;
}

static void listener_echo(void **state)
{
	struct listener l = {.timeout_ms = 2000};
	struct transport_conn c;
	struct sockaddr_storage sa;
	socklen_t sl = sizeof sa;
	char err[TRANSPORT_ERR_MAX], spec[64], buf[TRANSPORT_MSG_MAX];
	int served = 0, fd;
	size_t len;

	assert_int_equal(
	    listener_start(&l, "127.0.0.1:0", &key_a, on_conn, &served, err, sizeof err),
	    -1); /* port 0 is refused: a node names its port */
	assert_non_null(strstr(err, "not HOST:PORT"));
	for (int port = 47000; port < 47100; port++) {
		snprintf(spec, sizeof spec, "127.0.0.1:%d", port);
		if (!listener_start(&l, spec, &key_a, on_conn, &served, err, sizeof err))
			break;
	}
	assert_true(l.running);
	assert_int_equal(getsockname(l.fd, (struct sockaddr *)&sa, &sl), 0);
	/* a client with the wrong key: refused, the handler never runs */
	fd = address_connect(spec, 2000, err, sizeof err);
	assert_true(fd >= 0);
	assert_int_equal(handshake_client(fd, &key_b, &c, err, sizeof err), -1);
	close(fd);
	/* the right key: echoed */
	fd = address_connect(spec, 2000, err, sizeof err);
	assert_true(fd >= 0);
	assert_int_equal(handshake_client(fd, &key_a, &c, err, sizeof err), 0);
	assert_int_equal(stream_send(&c.tx, "hello", 5, 1, err, sizeof err), 0);
	assert_int_equal(stream_recv(&c.rx, buf, &len, err, sizeof err), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "hello", 5);
	transport_close(&c);
	listener_stop(&l);
	assert_int_equal(served, 1);
	/* an accepted connection sends small messages at once, as a
	 * connecting one does: no Nagle wait behind an unacknowledged one */
	assert_int_equal(served_nodelay, 1);
	/* nothing listens any more */
	assert_int_equal(address_connect(spec, 500, err, sizeof err), -1);
}

static void addresses(void **state)
{
	char host[64], err[TRANSPORT_ERR_MAX];
	uint16_t port;

	assert_int_equal(
	    address_parse("127.0.0.1:7001", host, sizeof host, &port, err, sizeof err),
	    0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 7001);
	assert_int_equal(
	    address_parse("[::1]:80", host, sizeof host, &port, err, sizeof err), 0);
	assert_string_equal(host, "::1");
	const char *bad[] = {"127.0.0.1",  "127.0.0.1:", ":80",	   "1.2.3.4:70000",
			     "1.2.3.4:8x", "::1:80",	 "[::1]80"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(
		    address_parse(bad[i], host, sizeof host, &port, err, sizeof err), -1);
	assert_int_equal(address_connect("localhost:80", 100, err, sizeof err), -1);
	assert_non_null(strstr(err, "not a numeric address"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(handshake_ok),
	    cmocka_unit_test(wrong_key_refused),
	    cmocka_unit_test(replay_refused),
	    cmocka_unit_test(tampered_byte_refused),
	    cmocka_unit_test(truncated_refused),
	    cmocka_unit_test(garbage_refused),
	    cmocka_unit_test(old_version_refused),
	    cmocka_unit_test(listener_echo),
	    cmocka_unit_test(addresses),
	};
	if (sodium_init() < 0)
		return 1;
	randombytes_buf(key_a.k, sizeof key_a.k);
	randombytes_buf(key_b.k, sizeof key_b.k);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
