/*
 * `capsule migrate` between two nodes, pre-copy with a commit, over the
 * transport (transport/transport.h).  docs/migration.md has the protocol
 * and what each failure leaves behind.
 *
 * The client's stream: the request "capsule-migrate 4 deadline_ms=N";
 * per image the line "image NAME stream" and then the image file's bytes
 * as messages, sent as its monitor writes them, up to an empty message
 * (NAME: round-1.img, the full image taken while the target runs,
 * round-N.img the pages written since round N-1, final.img the last
 * pages with the target stopped); after each round the server's "ack
 * NAME" once it is built into the copy there; then, after the server's
 * "ready", "commit" or "abort" (FINAL).  Written to files under their
 * names, the images are a chain `capsule inspect` decodes one by one and
 * `capsule restore` restores from final.img.  The server's stream:
 * "ready NAME" once the target is restored, verified and paused there
 * (or a FINAL "error: ..."), then after the commit a FINAL "ok NAME
 * started" (or "error: ...").
 */
#ifndef TOOLS_MIGRATE_H
#define TOOLS_MIGRATE_H

#include <stdatomic.h>
#include <stdint.h>

#include "tools/control.h"
#include "transport/transport.h"

#define MIGRATE_HEADER	   "capsule-migrate 4 deadline_ms="
#define MIGRATE_TIMEOUT_MS 30000 /* default deadline (capsule migrate --timeout) */
/* The source waits this much past the deadline for an answer: the
 * destination answers by its deadline, which begins before ours. */
#define MIGRATE_GRACE_MS 2000
/* The largest image a destination takes, and the most rounds. */
#define MIGRATE_IMAGE_MAX (4ull << 30)
#define MIGRATE_ROUNDS	  8 /* pre-copy rounds at most, the first one full */
/* A round that brings at most this many pages is the last one before
 * the stop: the final copy then pauses the target for about as long. */
#define MIGRATE_SMALL_PAGES 1024
/* Pre-copy stops after this share of the deadline, in percent. */
#define MIGRATE_ROUND_SHARE 50

/* "migrate: phase NAME" on stderr (the node's log) as this node enters a
 * phase (handshake, round-N, final, commit, postcopy, done; docs/
 * migration.md), for people and for fault-injection tests
 * (tools/migrate_phase.c, with its test hook). */
void migrate_phase(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Source (the control thread of `capsule node --key`): shake hands with
 * `to`, send pre-copy rounds while target `name` runs, stop it and send
 * the last pages, and on the destination's "ready" end it here and
 * commit; on any failure before that, resume it here.  Every line goes
 * to fn; the last starts with "ok" (with the figures) or "error: ".
 * key NULL: the node has none.
 */
void migrate_send(const struct transport_key *key, const char *name, const char *to,
		  int deadline_ms, control_line_fn fn, void *arg);

/* The migrations being sent, for their cancel (tools/migrate_cancel.c):
 * enter NAME with the flag migrate_send watches (0, -EBUSY one of NAME
 * runs already, -EAGAIN too many), leave it when done; migrate_cancel
 * sets the flag of NAME's: 0, or -ESRCH none runs. */
int migrate_cancel_enter(const char *name, atomic_int *flag);
void migrate_cancel_leave(atomic_int *flag);
int migrate_cancel(const char *name);

/* A new spool directory (TMPDIR or /tmp, mode 0700) named into path:
 * 0, or -1 (errno). */
int migrate_spool_dir(char *path, size_t size);
/* Remove the spool directory and the images in it. */
void migrate_spool_remove(const char *dir);
/* "round-N.img" / "final.img" (N = 1..MIGRATE_ROUNDS): 1 if name is one. */
int migrate_image_name_ok(const char *name);

/* The destination's paused copy, built while the rounds arrive
 * (tools/migrate_prebuild.c): the monitor's name, the rounds it holds
 * (0: none), off once a round could not be built (the final image is
 * then restored from the spool's chain). */
struct migrate_prebuild_feed;
struct migrate_prebuild {
	char name[CONTROL_NAME_MAX];
	int rounds, off;
	struct migrate_prebuild_feed *feed; /* round 1 as it arrives */
};
/* Round `round` (its image at path) into the copy; a failure is logged
 * and turns the building off. */
void migrate_prebuild_round(struct migrate_prebuild *pb, const char *path, int round,
			    const char *peer);
/* Round 1 built while it arrives (tools/migrate_prebuild.c): once the
 * first bytes are in its spool file at path (the header names the
 * monitor), a FIFO next to it is handed to the monitor on a thread of
 * its own, which reads the file as it grows; migrate_prebuild_grown
 * says (a byte into the FIFO) that more of it was written;
 * migrate_prebuild_fed closes the FIFO (the file is all there is: after
 * a failed receive, a stream that ended early) and waits for the build,
 * with its outcome as migrate_prebuild_round's.  Start: 0, or -1
 * (nothing started: the round is built from its file once it is in). */
int migrate_prebuild_start(struct migrate_prebuild *pb, const char *path,
			   const char *peer);
void migrate_prebuild_grown(struct migrate_prebuild *pb);
void migrate_prebuild_fed(struct migrate_prebuild *pb);
/* The migration ends before its final restore: end the copy, if any. */
void migrate_prebuild_drop(struct migrate_prebuild *pb, const char *peer);

/* tools/migrate_commit.c.  A step at this node's monitor name (req.path
 * path); 0 if it answered "ok", else its answer in last. */
int migrate_dest_step(const char *name, const char *path, enum control_op op,
		      unsigned flags, char *last, size_t size);
/* A message to the source sent by the node's thread the moment the
 * monitor answers a step "ok" (and ok(ok_arg), if set, says yes), not
 * after the step's caller is woken: "ready", "started".  sent: 0 not
 * sent (the caller decides), 1 sent, -1 the send failed (err). */
struct migrate_answer {
	struct transport_conn *c;
	const char *msg;
	int final, sent;
	/* the node's thread, once the message is sent: 1 take a short
	 * slice (it is woken next for the commit: transport/prompt.c) and
	 * set tid; -1 (sent or not) the default slice again */
	int prompt, tid;
	int (*ok)(void *ok_arg);
	void *ok_arg;
	char err[TRANSPORT_ERR_MAX];
};
/* migrate_dest_step, with a (if not NULL) sent as it answers. */
int migrate_dest_step_answer(const char *name, const char *path, enum control_op op,
			     unsigned flags, char *last, size_t size,
			     struct migrate_answer *a);
/* After "ready": the source's commit (name started here, the answer
 * sent back: 0) or abort (name released here: 1), by the deadline plus
 * MIGRATE_GRACE_MS; -1 if neither came, err says what did.  buf holds a
 * message (TRANSPORT_MSG_MAX + 1). */
int migrate_await_commit(struct transport_conn *c, int deadline_ms, char *buf,
			 const char *name, const char *path, char *err, size_t errlen);

/* Destination (the listener's handler, `capsule node --listen`):
 * receive the images, restore the chain paused in this node's monitor
 * of the image's name, answer "ready", start it on the commit. */
void migrate_receive(struct transport_conn *c, void *arg);

#endif
