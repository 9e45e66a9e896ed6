/*
 * The destination builds the target while the pre-copy rounds arrive
 * (docs/migration.md, monitor/restore_prebuild.c): each round goes to
 * the monitor the image names (CONTROL_PREBUILD): round 1 makes the
 * paused copy (PD, CPU session, dataspaces with their memory, threads
 * never started, the sessions at the parent), each later round writes
 * its pages into it.  The restore of final.img then takes that copy, so
 * that the source's stop covers only the last pages, registers, UTCBs
 * and caps.
 *
 * Round 1 is built while it arrives: the monitor reads its spool file
 * as the listener writes it, told by a byte in a FIFO next to it each
 * time the file grew (monitor/prebuild_stream.c), and the monitor's
 * answer is awaited on a thread of its own (a 256 MiB round 1 was
 * received in 1.4 s and then built in 3 s at load 9; now both at once).
 * Its bytes go through the FIFO too in the first version of this: 70 ms
 * more of the listener's CPU for 256 MiB than a byte per piece.  The
 * later rounds are a few MB: built from their spool file once it is in.
 *
 * A round the monitor cannot build (no monitor of that name, one that
 * runs a target, an image it refuses) ends the copy there and stops the
 * building: the final image is then restored from the spool's chain as
 * without it, and refused there with the same reason if it must be.  A
 * migration that ends before its final restore ends the copy
 * (migrate_prebuild_drop), so the node keeps no half-made target.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/migrate.h"

/* messages (64 KiB each, the last of a round shorter) between the bytes
 * that tell the monitor round 1's spool file grew */
#define PREBUILD_GROWN_EVERY 16

struct migrate_prebuild_feed {
	struct migrate_prebuild *pb;
	pthread_t thread;
	/* the FIFO's ends here: we write into fd; rfd, never read, keeps the
	 * pipe and what it holds there until the build ended, so that the
	 * monitor's open finds it even after fd was closed, and that fd
	 * never fails for want of a reader */
	int fd, rfd;
	int unsaid; /* times it grew since the last byte */
	char fifo[512], peer[128];
};

/* Round 1: the monitor its image names into pb->name; -1 (the building
 * off) if it names none. */
static int prebuild_name(struct migrate_prebuild *pb, const char *path, const char *peer)
{
	char last[CONTROL_LINE_MAX];

	if (!control_image_target(path, pb->name, last, sizeof last))
		return 0;
	pb->off = 1;
	fprintf(stderr,
		"capsule node: migration from %s: round-1 not built (%s): not "
		"prebuilding; the final image is read with its chain\n",
		peer, last);
	return -1;
}

/* The monitor builds round `round` from path (a file or the FIFO). */
static void prebuild_call(struct migrate_prebuild *pb, const char *path, int round,
			  const char *peer)
{
	struct control_request req = {.op = CONTROL_PREBUILD};
	char last[CONTROL_LINE_MAX];

	snprintf(req.name, sizeof req.name, "%s", pb->name);
	snprintf(req.path, sizeof req.path, "%s", path);
	if (control_call_final(&req, last, sizeof last)) {
		pb->off = 1;
		pb->rounds = 0; /* the monitor ended what it had built */
		fprintf(stderr,
			"capsule node: migration from %s: round-%d not built (%s): not "
			"prebuilding; the final image is read with its chain\n",
			peer, round, last);
		return;
	}
	pb->rounds = round;
	fprintf(stderr, "capsule node: migration from %s: prebuilt: %s\n", peer, last);
}

void migrate_prebuild_round(struct migrate_prebuild *pb, const char *path, int round,
			    const char *peer)
{
	if (pb->off || (round == 1 && prebuild_name(pb, path, peer)))
		return;
	prebuild_call(pb, path, round, peer);
}

static void *feed_build(void *arg)
{
	struct migrate_prebuild_feed *f = arg;

	prebuild_call(f->pb, f->fifo, 1, f->peer);
	return NULL;
}

int migrate_prebuild_start(struct migrate_prebuild *pb, const char *path,
			   const char *peer)
{
	struct migrate_prebuild_feed *f;

	if (pb->off || pb->feed || prebuild_name(pb, path, peer) ||
	    !(f = calloc(1, sizeof *f)))
		return -1;
	f->pb = pb;
	snprintf(f->peer, sizeof f->peer, "%s", peer);
	snprintf(f->fifo, sizeof f->fifo, "%.500s.pipe", path);
	f->fd = f->rfd = -1;
	if (mkfifo(f->fifo, 0600) ||
	    (f->rfd = open(f->fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0 ||
	    (f->fd = open(f->fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0 ||
	    pthread_create(&f->thread, NULL, feed_build, f)) {
		fprintf(stderr,
			"capsule node: migration from %s: %s: %s: round 1 is built once "
			"it is in\n",
			peer, f->fifo, strerror(errno));
		if (f->fd >= 0)
			close(f->fd);
		if (f->rfd >= 0)
			close(f->rfd);
		unlink(f->fifo);
		free(f);
		return -1;
	}
	pb->feed = f;
	return 0;
}

void migrate_prebuild_grown(struct migrate_prebuild *pb)
{
	struct migrate_prebuild_feed *f = pb->feed;
	ssize_t n;

	/* a byte per PREBUILD_GROWN_EVERY messages: each byte wakes the
	 * monitor's host worker, which reads the file to its end and waits
	 * again, so a byte per 64 KiB message was 4096 wake-ups (and a
	 * context switch each on a loaded host) for 256 MiB; the rest is
	 * read at the end (migrate_prebuild_fed closes the FIFO) */
	if (!f || ++f->unsaid < PREBUILD_GROWN_EVERY)
		return;
	f->unsaid = 0;
	/* a full FIFO (EAGAIN) holds bytes the monitor has not read yet: it
	 * reads the file on before it waits again */
	while ((n = write(f->fd, "+", 1)) < 0 && errno == EINTR)
		;
}

void migrate_prebuild_fed(struct migrate_prebuild *pb)
{
	struct migrate_prebuild_feed *f = pb->feed;

	if (!f)
		return;
	if (f->fd >= 0)
		close(f->fd); /* its end: the monitor's read sees it */
	pthread_join(f->thread, NULL);
	close(f->rfd);
	unlink(f->fifo);
	free(f);
	pb->feed = NULL;
}

void migrate_prebuild_drop(struct migrate_prebuild *pb, const char *peer)
{
	struct control_request req = {.op = CONTROL_RELEASE};
	char last[CONTROL_LINE_MAX];

	migrate_prebuild_fed(pb);
	if (pb->rounds <= 0)
		return;
	snprintf(req.name, sizeof req.name, "%s", pb->name);
	snprintf(req.path, sizeof req.path, "-");
	if (control_call_final(&req, last, sizeof last))
		fprintf(
		    stderr,
		    "capsule node: migration from %s: cannot end the prebuilt copy of "
		    "%s: %s\n",
		    peer, pb->name, last);
	else
		fprintf(stderr,
			"capsule node: migration from %s: the prebuilt copy of %s (%d "
			"rounds) ended\n",
			peer, pb->name, pb->rounds);
	pb->rounds = 0;
}
