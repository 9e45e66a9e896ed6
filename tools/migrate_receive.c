/*
 * The destination of a migration, on the listener thread of `capsule
 * node --listen HOST:PORT --key FILE`: read the request line, receive
 * the image into a spool file up to the FINAL message (a tampered or
 * cut stream never reaches the monitor), restore it through this
 * node's monitor named in the image (as `capsule restore`, which
 * verifies before its commit), answer in one message.
 *
 * The deadline runs from the start of our handshake, before the
 * source's clock starts: a restore is not begun past it, and one that
 * finished past it is undone (frozen and released again), since the
 * source has given up and resumed its copy by then.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tools/migrate.h"

/* Test hooks of tests/migrate/loopback.sh, read from the environment of
 * the destination node.  This one: stall this long after the
 * handshake, before reading the stream (a destination killed or slow
 * while the image is in flight). */
static void migrate_test_stall(const char *peer)
{
	const char *v = getenv("CAPSULE_TEST_MIGRATE_STALL_MS");
	long ms = v ? strtol(v, NULL, 10) : 0;

	if (ms <= 0)
		return;
	fprintf(stderr, "capsule node: test: migration from %s stalls %ld ms\n", peer,
		ms);
	usleep((useconds_t)ms * 1000);
}

/* The test hook that shows the stream is the image: keep a copy of
 * what arrived (a hard link to the spool file) at this path. */
static void migrate_test_keep(const char *spool)
{
	const char *path = getenv("CAPSULE_TEST_MIGRATE_KEEP");

	if (path && path[0] && link(spool, path))
		fprintf(stderr, "capsule node: test: cannot keep the image as %s: %s\n",
			path, strerror(errno));
}

/* The request line: 0 with *deadline_ms, or -1 with err. */
static int migrate_request(struct transport_conn *c, int *deadline_ms, char *err,
			   size_t size)
{
	char buf[TRANSPORT_MSG_MAX + 1];
	size_t len;
	char *end;
	long v;

	if (stream_recv(&c->rx, buf, &len, err, size))
		return -1;
	buf[len] = 0;
	if (c->rx.final || strncmp(buf, MIGRATE_HEADER, strlen(MIGRATE_HEADER))) {
		snprintf(err, size, "not a migration request");
		return -1;
	}
	v = strtol(buf + strlen(MIGRATE_HEADER), &end, 10);
	if (*end || v < 100 || v > 3600 * 1000) {
		snprintf(err, size, "a bad deadline in the request");
		return -1;
	}
	*deadline_ms = (int)v;
	return 0;
}

/* A restore that finished past the deadline: end it again. */
static void migrate_undo(const char *name, const char *spool)
{
	struct control_request req = {.op = CONTROL_FREEZE};
	char last[CONTROL_LINE_MAX];

	snprintf(req.name, sizeof req.name, "%s", name);
	snprintf(req.path, sizeof req.path, "%s", spool);
	if (!control_call_final(&req, last, sizeof last)) {
		req.op = CONTROL_RELEASE;
		if (!control_call_final(&req, last, sizeof last))
			return;
	}
	fprintf(stderr,
		"capsule node: %s restored too late and could not be undone: %s\n", name,
		last);
}

/* Receive and restore: 0 with "ok ..." in ans, or -1 with the reason. */
static int migrate_restore(struct transport_conn *c, const char *spool, int fd,
			   char *name, char *ans, size_t size)
{
	struct control_request req = {.op = CONTROL_RESTORE};
	char err[512];
	int deadline_ms;

	if (migrate_request(c, &deadline_ms, err, sizeof err)) {
		snprintf(ans, size, "error: %.400s", err);
		return -1;
	}
	migrate_phase("final");
	if (stream_recv_file(&c->rx, fd, MIGRATE_IMAGE_MAX, err, sizeof err)) {
		snprintf(ans, size, "error: %.400s", err);
		return -1;
	}
	migrate_test_keep(spool);
	if (transport_now_ms() > c->start_ms + (uint64_t)deadline_ms) {
		snprintf(ans, size, "error: the image came after the deadline (%d ms)",
			 deadline_ms);
		return -1;
	}
	if (control_image_target(spool, name, err, sizeof err)) {
		snprintf(ans, size, "%.400s", err);
		return -1;
	}
	snprintf(req.name, sizeof req.name, "%s", name);
	snprintf(req.path, sizeof req.path, "%s", spool);
	migrate_phase("commit");
	if (control_call_final(&req, ans, size))
		return -1;
	if (transport_now_ms() > c->start_ms + (uint64_t)deadline_ms) {
		migrate_undo(name, spool);
		snprintf(ans, size,
			 "error: %s: restored after the deadline (%d ms); undone", name,
			 deadline_ms);
		return -1;
	}
	snprintf(ans, size, "ok %s restored", name);
	return 0;
}

void migrate_receive(struct transport_conn *c, void *arg)
{
	char spool[256], name[CONTROL_NAME_MAX] = "", ans[CONTROL_LINE_MAX];
	char err[TRANSPORT_ERR_MAX];
	int fd, rc;

	migrate_phase("handshake");
	migrate_test_stall(c->peer);
	fd = migrate_spool(spool, sizeof spool);
	if (fd < 0) {
		snprintf(ans, sizeof ans, "error: no spool file in %s: %s", spool,
			 strerror(errno));
		rc = -1;
	} else {
		rc = migrate_restore(c, spool, fd, name, ans, sizeof ans);
		close(fd);
	}
	fprintf(stderr, "capsule node: migration from %s: %s (%llu bytes received)\n",
		c->peer, ans, (unsigned long long)c->rx.plain);
	if (stream_send(&c->tx, ans, strlen(ans), 1, err, sizeof err) && !rc) {
		/* the source cannot learn that it runs here: it resumes its copy */
		fprintf(stderr,
			"capsule node: migration from %s: the answer was lost (%s): "
			"%s undone\n",
			c->peer, err, name);
		migrate_undo(name, spool);
	} else if (!rc)
		migrate_phase("done");
	if (fd >= 0)
		unlink(spool);
}
