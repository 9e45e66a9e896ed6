/*
 * `capsule migrate` between two nodes (stop-and-copy), over the
 * transport (transport/transport.h).  docs/migration.md has the protocol
 * and what each failure leaves behind.
 *
 * The client's stream: one request message "capsule-migrate 1
 * deadline_ms=N", then the image file's bytes as messages, the last one
 * FINAL: the messages after the first, written to a file, are the image
 * (capsule inspect decodes it).  The server's stream: one FINAL message,
 * the destination's answer ("ok NAME restored" or "error: ...").
 */
#ifndef TOOLS_MIGRATE_H
#define TOOLS_MIGRATE_H

#include "tools/control.h"
#include "transport/transport.h"

#define MIGRATE_HEADER	   "capsule-migrate 1 deadline_ms="
#define MIGRATE_TIMEOUT_MS 30000 /* default deadline (capsule migrate --timeout) */
/* The source waits this much past the deadline for the answer: the
 * destination answers by its deadline, which begins before ours. */
#define MIGRATE_GRACE_MS 2000
/* The largest image a destination takes. */
#define MIGRATE_IMAGE_MAX (4ull << 30)

/*
 * Source (the control thread of `capsule node --key`): shake hands with
 * `to`, freeze target `name` into a spool file, send it, and on the
 * destination's "ok" release the target here; on any failure before
 * that, resume it here.  Every line goes to fn; the last starts with
 * "ok" (with the figures) or "error: ".  key NULL: the node has none.
 */
void migrate_send(const struct transport_key *key, const char *name, const char *to,
		  int deadline_ms, control_line_fn fn, void *arg);

/* A new spool file (TMPDIR or /tmp, mode 0600) named into path: its
 * fd, or -1 (errno). */
int migrate_spool(char *path, size_t size);

/* Destination (the listener's handler, `capsule node --listen`):
 * receive the image into a spool file, restore it into this node's
 * monitor of the image's name, answer. */
void migrate_receive(struct transport_conn *c, void *arg);

/* Log "migrate: phase NAME" as this node enters a phase (handshake,
 * round-N, final, commit, postcopy, done); tools/migrate_phase.c. */
void migrate_phase(const char *name);

#endif
