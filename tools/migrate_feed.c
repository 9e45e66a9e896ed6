/*
 * The thread that sends an image of a migration's source as its monitor
 * writes it into a FIFO (migrate_feed.h): each piece read is sent at
 * once, behind the image's head, and an empty message ends it; the
 * last bytes are kept for the stats record that ends every image.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/migrate_feed.h"

static double feed_clock_ms(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void feed_tail(struct feed *f, const unsigned char *buf, size_t n)
{
	size_t t = sizeof f->tail;

	if (n >= t) {
		memcpy(f->tail, buf + n - t, t);
	} else {
		memmove(f->tail, f->tail + n, t - n);
		memcpy(f->tail + t - n, buf, n);
	}
}

void *feed_run(void *arg)
{
	struct feed *f = arg;
	unsigned char *buf = malloc(TRANSPORT_MSG_MAX), drop[4096];
	const char *head = f->head;

	if (!buf) {
		snprintf(f->err, sizeof f->err, "out of memory");
		f->rc = -1;
	}
	if (f->final) /* its bytes are the stop's (transport/prompt.c) */
		transport_prompt_thread(1);
	while (!f->eof) {
		struct pollfd p = {.fd = f->fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 20) <= 0) { /* no writer yet, or no bytes */
			if (atomic_load(&f->stop))
				break;
			continue;
		}
		n = read(f->fd, buf ? buf : drop, buf ? TRANSPORT_MSG_MAX : sizeof drop);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0) { /* the writer closed it: the image is whole */
			f->eof = 1;
			break;
		}
		if (!f->bytes)
			f->t_first = feed_clock_ms(CLOCK_MONOTONIC);
		if (buf)
			feed_tail(f, buf, (size_t)n);
		if (!f->rc && atomic_load(f->cancel)) { /* Ctrl-C: drop the rest */
			snprintf(f->err, sizeof f->err, "migration cancelled");
			f->rc = -1;
		}
		if (!f->rc && !f->bytes &&
		    stream_send(f->tx, head, strlen(head), 0, f->err, sizeof f->err))
			f->rc = -1;
		f->bytes += (uint64_t)n;
		if (!f->rc &&
		    stream_send(f->tx, buf, (size_t)n, 0, f->err, sizeof f->err))
			f->rc = -1;
	}
	if (f->eof && f->bytes && !f->rc &&
	    stream_send(f->tx, "", 0, 0, f->err, sizeof f->err))
		f->rc = -1;
	f->cpu = feed_clock_ms(CLOCK_THREAD_CPUTIME_ID);
	free(buf);
	return NULL;
}
