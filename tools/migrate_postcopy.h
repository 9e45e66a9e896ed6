/*
 * Post-copy migration (`capsule migrate --postcopy`; docs/migration.md
 * "Post-copy"): the target runs on the destination as soon as its
 * threads, UTCBs, caps, dataspaces and region maps are restored there;
 * its pages follow, asked for when it touches them and pushed in the
 * background, from the source, which keeps its frozen copy until every
 * page has arrived.
 *
 * The client's (source's) stream after the handshake:
 *
 *   "capsule-postcopy 4 deadline_ms=N"
 *   "image preskel.img BYTES" and the file's BYTES (the running target's
 *   state, no page: the destination builds the PD, threads, sessions and
 *   dataspaces from it)
 *   "image skeleton.img BYTES" and the file's BYTES as messages,
 *                                      after the server's "built ..."
 *                                      (the frozen target's state, no page)
 *   page messages (struct postcopy_pages): first those the restore reads
 *   (POSTCOPY_EAGER), then on demand and pushed
 *   "end" (FINAL)                      after the server's "complete ..."
 *
 * The server's (destination's): "built NAME" or "built -" (nothing built
 * from the pre-skeleton); "started NAME" once it restored the skeleton
 * and started it (or a FINAL "error: ...": it never ran there); wants
 * (struct postcopy_want); "complete demand=D pushed=P" (FINAL) once every
 * page arrived.  The source is committed once the skeleton is sent
 * (until version 4 it sent "commit" after the destination's "ready").
 */
#ifndef TOOLS_MIGRATE_POSTCOPY_H
#define TOOLS_MIGRATE_POSTCOPY_H

#include <stdint.h>

#include "tools/migrate.h"

/* version 3: the skeleton carries only the pages the restore reads; the
 * destination's channel holds every dataspace a region attaches
 * (served_ds in migrate_postcopy_receive.c); version 4: the skeleton is
 * final.img, the restore's pages follow it as page messages, and the
 * destination starts the target once restored, with no commit */
#define POSTCOPY_HEADER "capsule-postcopy 4 deadline_ms="
#define POSTCOPY_PAGE	4096u
#define POSTCOPY_RUN	15u /* pages per page message at most (< 64 KiB) */
/* The destination gives the source up after this long without a page
 * while pages are missing (the source pushes without pause until all
 * are sent); the source resumes its copy after a lost connection only
 * this long plus POSTCOPY_MARGIN_MS later, when the destination's copy
 * has certainly been stopped. */
#define POSTCOPY_SILENCE_MS 3000
#define POSTCOPY_MARGIN_MS  1000

/* how a page message was sent: asked for, pushed, or with the skeleton
 * (a page the destination's restore reads) */
enum { POSTCOPY_DEMAND = 1, POSTCOPY_PUSHED = 2, POSTCOPY_EAGER = 3 };

/* 'P': count pages of dataspace ds_id (its image id) from first; bit i
 * of zero: page first + i is zero and not carried; the others follow
 * the header, in order, POSTCOPY_PAGE bytes each. */
struct postcopy_pages {
	uint8_t tag, how;
	uint16_t count;
	uint32_t pad;
	uint64_t ds_id, first, zero;
};

/* 'W': a target thread at the destination waits for this page. */
struct postcopy_want {
	uint8_t tag;
	uint8_t pad[7];
	uint64_t ds_id, page;
};

/* Source: the whole migration, on the control thread (as migrate_send). */
void migrate_postcopy_send(const struct transport_key *key, const char *name,
			   const char *to, int deadline_ms, control_line_fn fn,
			   void *arg);

/* Destination: after the request line (in buf, NUL-ended) arrived on c;
 * dir: the spool directory (created by the caller, removed after). */
void migrate_postcopy_receive(struct transport_conn *c, const char *request,
			      const char *dir);

#endif
