/*
 * The destination of a migration, on the listener thread of `capsule
 * node --listen HOST:PORT --key FILE` (docs/migration.md): receive the
 * images into a spool directory (a tampered or cut stream never reaches
 * the monitor), build the paused copy from each round as it arrives
 * (tools/migrate_prebuild.c), restore final.img onto it (or, if it could
 * not be built, the chain from final.img) through this node's monitor
 * named in it, verified and kept paused, answer "ready", and start it
 * only on the source's "commit".
 *
 * The deadline runs from the start of our handshake, before the
 * source's clock starts: a restore is not begun past it, and one that
 * finished past it is undone, since the source has given up and resumed
 * its copy by then.  After "ready" nothing is undone by guesswork: on
 * "abort" the paused copy is ended, on "commit" started, and if the
 * connection ends without either it stays paused with a report (the
 * source may have ended its copy on our "ready").
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
#include "image/image.h"
#include "tools/migrate.h"
#include "tools/migrate_group.h"
#include "tools/migrate_postcopy.h"

struct dest {
	struct transport_conn *c;
	char dir[256], name[CONTROL_NAME_MAX], final[512];
	int deadline_ms;
	char *buf;		     /* TRANSPORT_MSG_MAX + 1 */
	struct migrate_prebuild pb;  /* the copy built from the rounds */
	double t_final, t_recv;	     /* final.img began, was all here (ms) */
	struct migrate_answer ready; /* "ready NAME", sent as the restore answers */
	char ready_msg[CONTROL_NAME_MAX + 8];
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* This thread's CPU time (ms). */
static double cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Test hooks of tests/migrate/loopback.sh, read from the environment of
 * the destination node.  This one: stall this long after the
 * handshake, before reading the stream (a destination killed or slow
 * while the image is in flight). */
static void migrate_test_stall(const char *peer)
{
	const char *v = test_env("CAPSULE_TEST_MIGRATE_STALL_MS");
	long ms = v ? strtol(v, NULL, 10) : 0;

	if (ms <= 0)
		return;
	fprintf(stderr, "capsule node: test: migration from %s stalls %ld ms\n", peer,
		ms);
	usleep((useconds_t)ms * 1000);
}

/* The test hook that shows the stream is a chain of images: keep a copy
 * of each one that arrived (hard links) in this directory. */
static void migrate_test_keep(const struct dest *d, const char *file)
{
	const char *dir = test_env("CAPSULE_TEST_MIGRATE_KEEP");
	char from[512], to[512];

	if (!dir || !dir[0])
		return;
	snprintf(from, sizeof from, "%s/%s", d->dir, file);
	snprintf(to, sizeof to, "%s/%s", dir, file);
	unlink(to);
	if (link(from, to))
		fprintf(stderr, "capsule node: test: cannot keep %s: %s\n", to,
			strerror(errno));
}

/* "ack round-N.img": the round is here and built into the copy (or
 * kept for the chain, if the building is off); the source takes the
 * next round or freezes only on it, so that the final image never
 * waits behind a round still being built.  The test hook
 * CAPSULE_TEST_MIGRATE_NO_ACK=1 makes this a peer that never acks. */
static int ack_round(struct dest *d, const char *file, char *err, size_t size)
{
	char line[96];

	if (test_env("CAPSULE_TEST_MIGRATE_NO_ACK"))
		return 0;
	snprintf(line, sizeof line, "ack %s", file);
	return stream_send(&d->c->tx, line, strlen(line), 0, err, size) ? -1 : 0;
}

/* The request line: 0 with d->deadline_ms, 1 for a post-copy request,
 * 2 for a group's (in d->buf), or -1 with err. */
static int migrate_request(struct dest *d, char *err, size_t size)
{
	size_t len;
	char *end;
	long v;

	if (stream_recv(&d->c->rx, d->buf, &len, err, size))
		return -1;
	d->buf[len] = 0;
	if (!d->c->rx.final && !strncmp(d->buf, POSTCOPY_HEADER, strlen(POSTCOPY_HEADER)))
		return 1; /* migrate_postcopy_receive's */
	if (!d->c->rx.final &&
	    !strncmp(d->buf, MIGRATE_GROUP_HEADER, strlen(MIGRATE_GROUP_HEADER)))
		return 2; /* migrate_group_receive's */
	if (d->c->rx.final || strncmp(d->buf, MIGRATE_HEADER, strlen(MIGRATE_HEADER))) {
		snprintf(err, size, "not a migration request");
		return -1;
	}
	v = strtol(d->buf + strlen(MIGRATE_HEADER), &end, 10);
	if (*end || v < 100 || v > 3600 * 1000) {
		snprintf(err, size, "a bad deadline in the request");
		return -1;
	}
	d->deadline_ms = (int)v;
	/* a round of a large target can take the source longer than the
	 * listener's bound on one read: the deadline bounds the wait now */
	address_set_timeout(d->c->fd, d->deadline_ms + MIGRATE_GRACE_MS);
	return 0;
}

/* One image streamed ("image NAME stream", NAME the one expected
 * next): the source sends it while its monitor writes it, as messages
 * up to an empty one; into the spool directory.  A round is then built
 * into the copy and acknowledged.  0 after a round, 1 after final.img,
 * or -1 with err. */
static int receive_image(struct dest *d, int round, char *err, size_t size)
{
	char file[32], want[64], path[512];
	uint64_t bytes = 0;
	size_t len;
	int fd, rc = -1, final, fed = 0, tried = 0,
		no_prebuild = !!test_env("CAPSULE_TEST_MIGRATE_NO_PREBUILD");
	double c0 = cpu_ms(), b0;

	if (stream_recv(&d->c->rx, d->buf, &len, err, size))
		return -1;
	d->buf[len] = 0;
	/* the next round, or (after round 1) the final image */
	snprintf(want, sizeof want, "image round-%d.img stream", round);
	final = round > 1 && !strcmp(d->buf, "image final.img stream");
	if (d->c->rx.final ||
	    (!final && (strcmp(d->buf, want) || round > MIGRATE_ROUNDS))) {
		snprintf(err, size, "not the next image of a migration");
		return -1;
	}
	snprintf(file, sizeof file, final ? "final.img" : "round-%d.img", round);
	d->t_final = now_ms();
	if (final) { /* the stop: its hand-offs wait for no slice (prompt.c) */
		transport_prompt_thread(1);
		migrate_phase("final");
	} else {
		migrate_phase("round-%d", round);
	}
	snprintf(path, sizeof path, "%s/%s", d->dir, file);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		snprintf(err, size, "%.300s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (stream_recv(&d->c->rx, d->buf, &len, err, size))
			goto out;
		if (!len && !d->c->rx.final)
			break; /* its end */
		if (d->c->rx.final || (bytes += len) > MIGRATE_IMAGE_MAX ||
		    write(fd, d->buf, len) != (ssize_t)len) {
			snprintf(err, size, "%s: a bad or unwritable image message",
				 file);
			goto out;
		}
		/* round 1: built while it arrives, once its header is here */
		if (round == 1 && !tried && bytes >= sizeof(struct image_header)) {
			tried = 1;
			fed = !no_prebuild &&
			      !migrate_prebuild_start(&d->pb, path, d->c->peer);
		}
		if (fed) /* the monitor reads the file as it grows */
			migrate_prebuild_grown(&d->pb);
	}
	migrate_test_keep(d, file);
	if (final) {
		snprintf(d->final, sizeof d->final, "%s", path);
		d->t_recv = now_ms();
		rc = 1;
		goto out;
	}
	b0 = now_ms();
	c0 = cpu_ms() - c0;
	if (fed) /* the rest of its build: the last pieces, the checks */
		migrate_prebuild_fed(&d->pb);
	else if (!no_prebuild) /* bench: before */
		migrate_prebuild_round(&d->pb, path, round, d->c->peer);
	rc = ack_round(d, file, err, size);
	fprintf(stderr,
		"capsule node: migration from %s: %s received in %.1f ms (cpu %.1f "
		"ms), built %s%.1f ms\n",
		d->c->peer, file, b0 - d->t_final, c0,
		fed && d->pb.rounds == round ? "while it came, done in " : "in ",
		now_ms() - b0);
out:
	if (rc < 0 && fed) /* a short stream: the monitor ends the copy */
		migrate_prebuild_fed(&d->pb);
	close(fd);
	return rc;
}

/* A step at the monitor of d->name; 0 if it answered "ok". */
static int dest_step(struct dest *d, enum control_op op, unsigned flags, char *last,
		     size_t size)
{
	return migrate_dest_step(d->name, d->final, op, flags, last, size);
}

/* The restore answered in time: "ready" may go (the node's thread asks,
 * migrate_answer). */
static int in_time(void *arg)
{
	const struct dest *d = arg;

	return transport_now_ms() <= d->c->start_ms + (uint64_t)d->deadline_ms;
}

/* Receive the chain and restore it paused: 0, or -1 with the answer
 * ("error: ...") in ans; 1 or 2 if the request is a post-copy or group one
 * (tools/migrate_postcopy_receive.c takes it from there). */
static int migrate_restore(struct dest *d, char *ans, size_t size)
{
	char err[512], last[CONTROL_LINE_MAX];
	int rc = migrate_request(d, err, sizeof err);

	if (rc > 0)
		return rc; /* a post-copy (1) or group (2) request */
	if (rc)
		goto fail;
	for (int round = 1; rc == 0 && round <= MIGRATE_ROUNDS + 1; round++)
		if ((rc = receive_image(d, round, err, sizeof err)) < 0)
			goto fail;
	if (rc != 1) {
		snprintf(err, sizeof err, "no final image");
		goto fail;
	}
	if (transport_now_ms() > d->c->start_ms + (uint64_t)d->deadline_ms) {
		snprintf(ans, size, "error: the image came after the deadline (%d ms)",
			 d->deadline_ms);
		migrate_prebuild_drop(&d->pb, d->c->peer);
		return -1;
	}
	if (control_image_target(d->final, d->name, err, sizeof err)) {
		snprintf(ans, size, "%.400s", err);
		migrate_prebuild_drop(&d->pb, d->c->peer);
		return -1;
	}
	if (strcmp(d->name, d->pb.name)) /* the restore takes only its own */
		migrate_prebuild_drop(&d->pb, d->c->peer);
	/* "ready" goes from the node's thread as the monitor answers, if in
	 * time (in_time), not after this thread is woken again: one
	 * hand-over between threads less in the stop */
	snprintf(d->ready_msg, sizeof d->ready_msg, "ready %s", d->name);
	d->ready = (struct migrate_answer){
	    .c = d->c, .msg = d->ready_msg, .prompt = 1, .ok = in_time, .ok_arg = d};
	if (migrate_dest_step_answer(d->name, d->final, CONTROL_RESTORE, CONTROL_F_PAUSED,
				     ans, size, &d->ready))
		return -1;
	fprintf(stderr,
		"capsule node: migration from %s: final.img received in %.2f ms, "
		"restored onto the copy in %.2f ms\n",
		d->c->peer, d->t_recv - d->t_final, now_ms() - d->t_recv);
	if (!d->ready.sent && !in_time(d)) {
		dest_step(d, CONTROL_RELEASE, 0, last, sizeof last);
		snprintf(ans, size,
			 "error: %s: restored after the deadline (%d ms); undone",
			 d->name, d->deadline_ms);
		return -1;
	}
	snprintf(ans, size, "ready %s", d->name);
	return 0;
fail:
	snprintf(ans, size, "error: %.400s", err);
	migrate_prebuild_drop(&d->pb, d->c->peer);
	return -1;
}

/* After "ready": the source's commit or abort, by the deadline. */
static void await_commit(struct dest *d)
{
	char err[TRANSPORT_ERR_MAX];
	int rc = migrate_await_commit(d->c, d->deadline_ms, d->buf, d->name, d->final,
				      err, sizeof err);

	if (rc == 0)
		return;
	if (rc == 1) {
		fprintf(stderr,
			"capsule node: migration from %s: aborted by the source: %s "
			"ended here\n",
			d->c->peer, d->name);
		return;
	}
	fprintf(stderr,
		"capsule node: migration from %s: no commit (%s): %s is kept paused "
		"here, since the source may have ended its copy; if it does not run "
		"there, `capsule resume --node SOCK %s` starts it here, else `capsule "
		"discard --node SOCK %s` ends it\n",
		d->c->peer, err, d->name, d->name, d->name);
}

void migrate_receive(struct transport_conn *c, void *arg)
{
	struct dest d = {.c = c, .buf = malloc(TRANSPORT_MSG_MAX + 1)};
	char ans[CONTROL_LINE_MAX], err[TRANSPORT_ERR_MAX], last[CONTROL_LINE_MAX];
	int rc = -1;

	(void)arg;
	migrate_phase("handshake");
	migrate_test_stall(c->peer);
	if (!d.buf)
		snprintf(ans, sizeof ans, "error: out of memory");
	else if (migrate_spool_dir(d.dir, sizeof d.dir))
		snprintf(ans, sizeof ans, "error: no spool directory %s: %s", d.dir,
			 strerror(errno));
	else if ((rc = migrate_restore(&d, ans, sizeof ans)) > 0) {
		if (rc == 2) /* tools/migrate_group_receive.c */
			migrate_group_receive(c, d.buf, d.dir);
		else
			migrate_postcopy_receive(c, d.buf, d.dir);
		migrate_spool_remove(d.dir);
		free(d.buf);
		return;
	}
	fprintf(stderr, "capsule node: migration from %s: %s (%llu bytes received%s)\n",
		c->peer, ans, (unsigned long long)c->rx.plain,
		!rc && d.ready.sent ? ", sent from the node's thread" : "");
	if (rc) {
		stream_send(&c->tx, ans, strlen(ans), 1, err, sizeof err);
	} else if (d.ready.sent < 0) { /* the node's thread could not send it */
		snprintf(err, sizeof err, "%s", d.ready.err);
		rc = 1;
	} else if (!d.ready.sent &&
		   stream_send(&c->tx, ans, strlen(ans), 0, err, sizeof err)) {
		rc = 1;
	}
	if (rc > 0) {
		/* the source cannot learn that it is ready here: it resumes */
		fprintf(stderr,
			"capsule node: migration from %s: the answer was lost (%s): "
			"%s undone\n",
			c->peer, err, d.name);
		dest_step(&d, CONTROL_RELEASE, 0, last, sizeof last);
	} else if (!rc) {
		await_commit(&d);
	}
	/* the spool's removal (a 256 MiB round 1: 90 ms of unlink) runs
	 * while the source reads our answer: at the default slice, so that
	 * the source's thread takes the CPU from it (transport/prompt.c) */
	if (d.ready.tid) /* the node's thread, if no commit started it */
		transport_prompt_tid(d.ready.tid, 0);
	transport_prompt_thread(0);
	if (d.dir[0])
		migrate_spool_remove(d.dir);
	free(d.buf);
}
