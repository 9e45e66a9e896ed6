/*
 * The two threads of a post-copy migration's destination
 * (migrate_postcopy_receive.c) once the skeleton is here: the receiver
 * takes everything the source sends from then on (pages into the page
 * channel, the source's words to the listener's thread), the want
 * sender asks for the pages that target threads or the restore wait
 * for.  Both are made before the pre-skeleton and wait for their go.
 * A receiver that hears nothing for POSTCOPY_SILENCE_MS while pages are
 * missing, or finds the stream cut or malformed, fails the channel: the
 * monitor then stops the target, naming the pages that never arrived.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "monitor/page_channel.h"
#include "tools/migrate_postcopy.h"
#include "tools/migrate_postcopy_dst.h"

int pdst_put_pages(struct pdst *d, size_t len)
{
	return postcopy_put_pages(d->ch, d->buf, len);
}

static void receiver_end(struct pdst *d, const char *why)
{
	pthread_mutex_lock(&d->lock);
	if (!d->rx_done)
		snprintf(d->why, sizeof d->why, "%s", why);
	d->rx_done = 1;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	page_channel_fail(d->ch, why);
}

/* The threads are made before the pre-skeleton (making two took 60-110
 * us, and up to 3 ms on a loaded host, of the pause) and wait here until
 * the skeleton and its channel are there: 1, or 0 (the migration ended
 * before). */
static int await_go(struct pdst *d)
{
	pthread_mutex_lock(&d->lock);
	while (!d->go && !d->stop)
		pthread_cond_wait(&d->cond, &d->lock);
	pthread_mutex_unlock(&d->lock);
	return !d->stop;
}

void pdst_set_go(struct pdst *d, int stop)
{
	pthread_mutex_lock(&d->lock);
	if (stop)
		d->stop = 1;
	else
		d->go = 1;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

/* The receiver: everything the source sends after the skeleton. */
void *pdst_receiver(void *arg)
{
	struct pdst *d = arg;
	struct page_channel_stats st;
	char err[TRANSPORT_ERR_MAX / 2], why[TRANSPORT_ERR_MAX];
	size_t len;

	if (!await_go(d))
		return NULL;
	address_set_timeout(d->c->fd, POSTCOPY_SILENCE_MS);
	d->last_ms = transport_now_ms();
	while (!d->stop) {
		struct pollfd pfd = {.fd = d->c->fd, .events = POLLIN};
		if (poll(&pfd, 1, 50) <= 0) {
			page_channel_stats(d->ch, &st);
			if (d->postcopy && st.arrived < st.total &&
			    transport_now_ms() - d->last_ms > POSTCOPY_SILENCE_MS) {
				snprintf(why, sizeof why,
					 "no page from the source for %d ms",
					 POSTCOPY_SILENCE_MS);
				receiver_end(d, why);
				return NULL;
			}
			continue;
		}
		if (stream_recv(&d->c->rx, d->buf, &len, err, sizeof err)) {
			receiver_end(d, err);
			return NULL;
		}
		d->last_ms = transport_now_ms();
		if (len && d->buf[0] == 'P' && !d->c->rx.final) {
			if (pdst_put_pages(d, len)) {
				receiver_end(d, "a malformed page message");
				return NULL;
			}
			continue;
		}
		d->buf[len < 63 ? len : 63] = 0;
		if (!strcmp((char *)d->buf, "abort")) { /* the source resumes */
			receiver_end(d, "the source gave it up");
			return NULL;
		}
		pthread_mutex_lock(&d->lock);
		snprintf(d->word, sizeof d->word, "%s", (char *)d->buf);
		pthread_cond_broadcast(&d->cond);
		pthread_mutex_unlock(&d->lock);
		if (d->c->rx.final) {
			receiver_end(d, "the source ended the stream");
			return NULL;
		}
	}
	return NULL;
}

/* The want sender: the pages target threads (or the restore) wait for. */
void *pdst_wanter(void *arg)
{
	struct pdst *d = arg;
	struct postcopy_want w = {.tag = 'W'};
	char err[TRANSPORT_ERR_MAX];
	unsigned ds;
	int rc;

	if (!await_go(d))
		return NULL;
	while (!d->stop && (rc = page_channel_next_want(d->ch, &ds, &w.page, 50)) >= 0) {
		if (!rc)
			continue;
		w.ds_id = page_channel_id(d->ch, ds);
		pthread_mutex_lock(&d->lock);
		rc = stream_send(&d->c->tx, &w, sizeof w, 0, err, sizeof err);
		pthread_mutex_unlock(&d->lock);
		if (rc)
			break;
	}
	return NULL;
}
