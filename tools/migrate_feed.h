/*
 * A migration's image sent as its monitor writes it (migrate_feed.c,
 * migrate_send.c).
 */
#ifndef TOOLS_MIGRATE_FEED_H
#define TOOLS_MIGRATE_FEED_H

#include <stdatomic.h>
#include <stdint.h>

#include "image/image.h"
#include "transport/transport.h"

/* Every image is streamed (docs/migration.md, "Steps"): the
 * monitor writes it into a FIFO in the spool directory, and this thread
 * sends each piece as it comes out ("image NAME stream", the bytes, an
 * empty message at its end), so the write, the send and the
 * destination's receive run at once instead of one after the other (a
 * 256 MiB round 1 was written to a file in 1.4 s and only then read
 * and sent; final.img in the pause), and nothing is written to or read
 * back from a file here.  After a send failed it reads on and drops
 * what it reads, so that the monitor's writer never blocks on a full
 * pipe. */
#define MIGRATE_FIFO_BYTES (1 << 20) /* the default pipe-max-size */

struct feed {
	struct stream *tx;  /* the migration's stream */
	atomic_int *cancel; /* the client's Ctrl-C */
	int fd;
	atomic_int stop; /* the freeze failed: no writer is coming */
	int final;	 /* the final image: sent at a short slice */
	int rc, eof;	 /* rc: -1 once a send failed (err) */
	uint64_t bytes;
	unsigned char tail[sizeof(struct image_stats)]; /* the last bytes */
	double t_first, cpu; /* cpu: this thread's (read, encrypt, write) */
	char head[64];	     /* "image NAME stream" */
	char err[TRANSPORT_ERR_MAX];
};

/* The thread (arg: a struct feed): read f->fd until the writer closes
 * it, sending each piece; f->rc, f->eof, f->bytes and f->tail say how it
 * went. */
void *feed_run(void *arg);

#endif
