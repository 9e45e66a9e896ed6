/*
 * The destination of a group's migration (tools/migrate_group.h), on the
 * listener thread of `capsule node --listen HOST:PORT --key FILE`:
 * receive the group image into the spool directory (a tampered or cut
 * stream never reaches the monitor), restore it at this node's monitor
 * of the group's name (the name in the image's header) with every member
 * built, verified and paused, nothing committed (monitor/
 * group_migrate.c), answer "ready", and commit it only on the source's
 * "commit" (the group's members before it, if any, go then), undo it on
 * "abort" (they run on).
 *
 * As for one target: the deadline runs from our handshake; a restore is
 * not begun past it and one that ended past it is undone (the source has
 * resumed its members by then).  After "ready" nothing is undone by
 * guesswork: without a commit or an abort the restore stays held, with a
 * report.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "config/test_env.h"
#include "image/group.h"
#include "tools/migrate_group.h"

struct gdest {
	struct transport_conn *c;
	const char *dir;
	char path[512], name[CONTROL_NAME_MAX];
	int deadline_ms;
	char *buf; /* TRANSPORT_MSG_MAX + 1 */
	double t_recv, t_restored;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A step at the monitor of d->name; 0 if it answered "ok". */
static int dest_step(struct gdest *d, enum control_op op, unsigned flags, char *last,
		     size_t size)
{
	return migrate_dest_step(d->name, d->path, op, flags, last, size);
}

/* The test hook of tests/migrate/group_migrate.sh (as loopback.sh's):
 * keep a copy of the group image (a hard link) in this directory. */
static void test_keep(const struct gdest *d)
{
	const char *dir = test_env("CAPSULE_TEST_MIGRATE_KEEP");
	char to[512];

	if (!dir || !dir[0])
		return;
	snprintf(to, sizeof to, "%s/" MIGRATE_GROUP_FILE, dir);
	unlink(to);
	if (link(d->path, to))
		fprintf(stderr, "capsule node: test: cannot keep %s: %s\n", to,
			strerror(errno));
}

/* "image group.img BYTES" and its bytes into the spool directory.  0, or
 * -1 with err. */
static int receive_image(struct gdest *d, char *err, size_t size)
{
	unsigned long long bytes;
	char file[64];
	size_t len;
	int fd, rc = -1;

	if (stream_recv(&d->c->rx, d->buf, &len, err, size))
		return -1;
	d->buf[len] = 0;
	if (d->c->rx.final || sscanf(d->buf, "image %63s %llu", file, &bytes) != 2 ||
	    strcmp(file, MIGRATE_GROUP_FILE) || bytes > MIGRATE_IMAGE_MAX) {
		snprintf(err, size, "not the group image of a migration");
		return -1;
	}
	snprintf(d->path, sizeof d->path, "%s/" MIGRATE_GROUP_FILE, d->dir);
	if ((fd = open(d->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		snprintf(err, size, "%.300s: %s", d->path, strerror(errno));
		return -1;
	}
	while (bytes) {
		if (stream_recv(&d->c->rx, d->buf, &len, err, size))
			goto out;
		if (len > bytes || d->c->rx.final ||
		    write(fd, d->buf, len) != (ssize_t)len) {
			snprintf(err, size,
				 MIGRATE_GROUP_FILE ": a bad or unwritable "
						    "image message");
			goto out;
		}
		bytes -= len;
	}
	test_keep(d);
	rc = 0;
out:
	close(fd);
	return rc;
}

/* The group's name from the image's header (the restore checks the
 * rest).  0, or -1 with err. */
static int group_name(struct gdest *d, char *err, size_t size)
{
	struct image_group_header h;
	int fd = open(d->path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, &h, sizeof h);

	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)sizeof h || h.magic != IMAGE_GROUP_MAGIC) {
		snprintf(err, size, "the image sent is no group image");
		return -1;
	}
	h.name[sizeof h.name - 1] = 0;
	if (!h.name[0] || strlen(h.name) >= sizeof d->name) {
		snprintf(err, size, "the group image names no group");
		return -1;
	}
	snprintf(d->name, sizeof d->name, "%s", h.name);
	return 0;
}

static int past_deadline(const struct gdest *d)
{
	return transport_now_ms() > d->c->start_ms + (uint64_t)d->deadline_ms;
}

/* The request, the image, the held restore: 0 with "ready NAME" in
 * ans, or -1 with "error: ..." in ans. */
static int group_restore_held(struct gdest *d, char *ans, size_t size)
{
	char err[512], last[CONTROL_LINE_MAX], *end;
	long v = strtol(d->buf + strlen(MIGRATE_GROUP_HEADER), &end, 10);

	if (*end || v < 100 || v > 3600 * 1000) {
		snprintf(ans, size, "error: a bad deadline in the request");
		return -1;
	}
	d->deadline_ms = (int)v;
	address_set_timeout(d->c->fd, d->deadline_ms + MIGRATE_GRACE_MS);
	migrate_phase("final");
	if (receive_image(d, err, sizeof err) || group_name(d, err, sizeof err)) {
		snprintf(ans, size, "error: %.400s", err);
		return -1;
	}
	d->t_recv = now_ms();
	if (past_deadline(d)) {
		snprintf(ans, size, "error: the image came after the deadline (%d ms)",
			 d->deadline_ms);
		return -1;
	}
	if (!migrate_group_is(d->name)) {
		snprintf(ans, size,
			 "error: %s: no group of that name here (a monitor whose "
			 "<config> holds its members, running or waiting for a restore)",
			 d->name);
		return -1;
	}
	if (dest_step(d, CONTROL_RESTORE, CONTROL_F_PAUSED, ans, size))
		return -1;
	d->t_restored = now_ms();
	fprintf(stderr,
		"capsule node: migration from %s: group %s restored in %.2f ms, "
		"held until the commit\n",
		d->c->peer, d->name, d->t_restored - d->t_recv);
	if (past_deadline(d)) {
		dest_step(d, CONTROL_RELEASE, 0, last, sizeof last);
		snprintf(ans, size,
			 "error: %s: restored after the deadline (%d ms); undone",
			 d->name, d->deadline_ms);
		return -1;
	}
	snprintf(ans, size, "ready %s", d->name);
	return 0;
}

/* After "ready": the source's commit or abort, by the deadline. */
static void await_commit(struct gdest *d)
{
	char err[TRANSPORT_ERR_MAX];
	int rc = migrate_await_commit(d->c, d->deadline_ms, d->buf, d->name, d->path, err,
				      sizeof err);

	if (rc == 0)
		return;
	if (rc == 1) {
		fprintf(stderr,
			"capsule node: migration from %s: aborted by the source: the "
			"restore of group %s undone here\n",
			d->c->peer, d->name);
		return;
	}
	fprintf(stderr,
		"capsule node: migration from %s: no commit (%s): the restore of group "
		"%s is held here, since the source may have ended its members; if "
		"they do not run there, `capsule resume --node SOCK %s` starts them "
		"here, else `capsule discard --node SOCK %s` undoes it\n",
		d->c->peer, err, d->name, d->name, d->name);
}

void migrate_group_receive(struct transport_conn *c, char *buf, const char *dir)
{
	struct gdest d = {.c = c, .dir = dir, .buf = buf};
	char ans[CONTROL_LINE_MAX], err[TRANSPORT_ERR_MAX], last[CONTROL_LINE_MAX];
	int rc = group_restore_held(&d, ans, sizeof ans);

	fprintf(stderr, "capsule node: migration from %s: %s (%llu bytes received)\n",
		c->peer, ans, (unsigned long long)c->rx.plain);
	if (stream_send(&c->tx, ans, strlen(ans), rc != 0, err, sizeof err) && !rc) {
		/* the source cannot learn that it is ready here: it resumes */
		fprintf(stderr,
			"capsule node: migration from %s: the answer was lost (%s): "
			"the restore of group %s undone\n",
			c->peer, err, d.name);
		dest_step(&d, CONTROL_RELEASE, 0, last, sizeof last);
	} else if (!rc) {
		await_commit(&d);
	}
}
