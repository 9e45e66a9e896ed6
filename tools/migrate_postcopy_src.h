/*
 * The source of a post-copy migration, shared by its steps
 * (migrate_postcopy_send.c) and its page server
 * (migrate_postcopy_serve.c).
 */
#ifndef TOOLS_MIGRATE_POSTCOPY_SRC_H
#define TOOLS_MIGRATE_POSTCOPY_SRC_H

#include "image/image.h"
#include "monitor/frozen_memory.h"
#include "monitor/page_channel.h"
#include "tools/migrate_postcopy.h"

#define POSTCOPY_MAX_DS PAGE_CHANNEL_MAX_DS /* as the destination takes */

/* A dataspace to serve: its bytes are the frozen target's
 * (postcopy_data), read only while s->fm is held. */
struct src_ds {
	uint64_t id, pages;
	uint8_t *sent; /* a byte per page, in psrc.sent */
};

struct psrc {
	const char *name, *to;
	int deadline_ms;
	uint64_t start;
	char dir[256];
	int final_fd; /* final.img in memory (memfd), or -1: in dir */
	struct transport_conn c;
	struct image_model *fin; /* final.img: the frozen target's state */
	struct frozen_mem *fm;	 /* its memory, in place (frozen_memory.h) */
	unsigned nds;
	struct src_ds ds[POSTCOPY_MAX_DS];
	uint8_t *sent; /* the ds' sent bytes, one allocation */
	uint64_t demand, pushed, zero, left;
	uint64_t eager; /* sent ahead of the skeleton (and again later) */
	/* the client's progress lines (postcopy_progress) */
	control_line_fn fn;
	void *fn_arg;
	uint64_t total, shown_ms; /* the pages to serve; the last meter's time */
	uint8_t *msg;		  /* TRANSPORT_MSG_MAX + 1 */
	/* the pause's steps (ms): frozen, final.img read, the restore's
	 * pages sent, the skeleton (final.img) sent (logged by
	 * postcopy_run) */
	double t_frozen, t_pages, t_sent;
	double read_ms;	      /* final.img's read (postcopy_read_final) */
	char final_path[512]; /* final.img (a memfd's /proc/self/fd path) */
	/* send_frozen ran on the node's thread as the freeze was answered
	 * (frozen_at), with sent_rc */
	int sent_at, sent_rc;
	char err[TRANSPORT_ERR_MAX + CONTROL_LINE_MAX];
};

/* Read final.img (s->final_path) once: s->fin, and the dataspaces to
 * serve with their sent bytes (s->ds).  Not in the pause: after
 * "started", or at the first want if one comes before it (until session
 * 16 it was read first in the pause, 0.04 ms at 16 MiB and 0.07-0.1 at
 * 1 GiB, its records growing with the dataspaces).  0, or -1 with
 * s->err. */
int postcopy_read_final(struct psrc *s);
/* d's bytes in the frozen target, s->fm held. */
const uint8_t *postcopy_data(struct psrc *s, const struct src_ds *d);
/* The pages the destination's restore reads (migrate_postcopy_skel.c),
 * read from the frozen target and sent just before the skeleton
 * (final.img), not marked sent.  0, or -1 with s->err. */
int postcopy_send_restore_pages(struct psrc *s);
/* Send the run of unsent pages of d from page on (at most max, at most
 * POSTCOPY_RUN), copied from the frozen target while it is held; how:
 * POSTCOPY_DEMAND, _PUSHED or _EAGER.  0, or -1 with s->err. */
int postcopy_send_run(struct psrc *s, struct src_ds *d, uint64_t page, unsigned max,
		      int how);
/* The destination's next word within ms, answering its wants meanwhile
 * (the restore there reads pages before "ready", and the target may run
 * into one before "started" arrives): 0 with it in s->msg, or -1. */
int postcopy_answer(struct psrc *s, int ms);
/* Serve pages until the destination says "complete" (0, its line in
 * s->msg) or is lost (-1, s->err). */
int postcopy_serve(struct psrc *s);
/* "progress: PHASE" to the client; with phase NULL, the page meter
 * ("progress: bytes DONE TOTAL": pages sent of those to serve) at most
 * every 1/4 s and when the last page went. */
void postcopy_progress(struct psrc *s, const char *phase);

#endif
