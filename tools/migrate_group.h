/*
 * `capsule migrate` of a group (docs/migration.md, "Groups"):
 * stop-and-copy of a whole group, all members or none, over the same
 * authenticated stream as one target's migration.
 *
 * The client's (source's) stream after the handshake:
 *
 *   "capsule-migrate-group 1 deadline_ms=N"
 *   "image group.img BYTES" and the group image's BYTES as messages (the
 *   file `capsule checkpoint` writes for the group: written to a file
 *   under its name, `capsule inspect` decodes it)
 *   "commit" | "abort" (FINAL)          after the server's "ready NAME"
 *
 * The server's (destination's): "ready NAME" once every member is
 * restored, verified and paused there (or a FINAL "error: ..."), then
 * after the commit a FINAL "ok NAME started" (or "error: ...").
 *
 * The source's members stay paused from the cut on; they resume there
 * on any failure before "ready" and its commit, and end there only after
 * the commit went out.
 */
#ifndef TOOLS_MIGRATE_GROUP_H
#define TOOLS_MIGRATE_GROUP_H

#include "tools/migrate.h"

#define MIGRATE_GROUP_HEADER "capsule-migrate-group 1 deadline_ms="
#define MIGRATE_GROUP_FILE   "group.img"

/* 1 if NAME is the monitor of a group at this node (its status says
 * "group="), else 0. */
int migrate_group_is(const char *name);

/* Source (as migrate_send): freeze group NAME into its group image,
 * send it, and on the destination's "ready" commit and end the members
 * here; on any failure before that, resume them here. */
void migrate_group_send(const struct transport_key *key, const char *name, const char *to,
			int deadline_ms, control_line_fn fn, void *arg);

/* Destination: the request line is in buf (room for TRANSPORT_MSG_MAX +
 * 1); receive the group image into dir, restore it held at this node's
 * monitor of the group's name, answer "ready", commit or undo it. */
void migrate_group_receive(struct transport_conn *c, char *buf, const char *dir);

#endif
