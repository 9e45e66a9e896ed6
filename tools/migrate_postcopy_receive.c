/*
 * The destination of a post-copy migration (migrate_postcopy.h,
 * docs/migration.md "Post-copy"), on the listener thread of `capsule node
 * --listen`:
 *
 *   0. receive the pre-skeleton (round 1's state, no page) while the
 *      target runs at the source; the monitor builds from it the PD, CPU
 *      session, threads and sessions the restore takes; "built ...";
 *   1. receive the skeleton (the target's state and a few pages) into the
 *      spool directory; make the page channel (monitor/page_channel.h)
 *      for its dataspaces, put the skeleton's pages in, offer it to the
 *      monitor, and start two threads: one receives everything the
 *      source sends from now on (pages into the channel, its words to
 *      this thread), one sends the channel's wants;
 *   2. restore the skeleton paused and post-copy (CONTROL_F_POSTCOPY):
 *      the restore's fix-ups wait for the pages they read; "ready";
 *   3. "commit": start it, "started" (phase postcopy); an "abort" or a
 *      lost source before that ends the paused copy;
 *   4. when every page arrived: "complete", and on the source's "end"
 *      phase done.  A source lost before that (the connection ends, or
 *      POSTCOPY_SILENCE_MS without a page while pages are missing): the
 *      channel fails and the monitor stops the target, naming how many
 *      pages never arrived; the source resumes its copy.  No "end" after
 *      "complete": the copy here is paused (the source may have resumed
 *      its own), with the commands that decide.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "image/image.h"
#include "monitor/page_channel.h"
#include "tools/migrate_postcopy.h"

struct pdst {
	struct transport_conn *c;
	const char *dir;
	char name[CONTROL_NAME_MAX], skel[512];
	char built[CONTROL_NAME_MAX]; /* the monitor that built from the
					 pre-skeleton ("": none) */
	int deadline_ms;
	struct page_channel *ch;
	uint8_t *buf;		     /* receiver's, TRANSPORT_MSG_MAX + 1 */
	pthread_mutex_t lock;	     /* tx, and what follows */
	pthread_cond_t cond;	     /* a word arrived, or the receiver ended */
	char word[64];		     /* the source's last word (commit, abort, end) */
	int stop, rx_done, postcopy; /* postcopy: the silence rule applies */
	char why[TRANSPORT_ERR_MAX]; /* why the receiver ended */
	uint64_t last_ms;
	/* the pause's steps here (ms): the skeleton began, was all here, the
	 * channel made, the restore answered, the commit came, started */
	double t_skel0, t_skel, t_chan, t_restored, t_commit, t_started;
	uint64_t restore_wants; /* pages the restore asked the source for */
};

static double dst_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int dst_step(struct pdst *d, enum control_op op, unsigned flags, const char *path,
		    char *last, size_t size)
{
	struct control_request req = {.op = op, .flags = flags};

	snprintf(req.name, sizeof req.name, "%s", d->name);
	snprintf(req.path, sizeof req.path, "%s", path);
	return control_call_final(&req, last, size);
}

static int dst_send(struct pdst *d, const char *line, int final)
{
	char err[TRANSPORT_ERR_MAX];
	int rc;

	pthread_mutex_lock(&d->lock);
	rc = stream_send(&d->c->tx, line, strlen(line), final, err, sizeof err);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

/* The file ("image NAME BYTES", NAME as want) into the spool directory
 * as path. */
static int receive_file(struct pdst *d, const char *want, char *path, size_t n, char *err,
			size_t size)
{
	unsigned long long bytes;
	char file[64];
	size_t len;
	int fd, rc = -1;

	if (stream_recv(&d->c->rx, d->buf, &len, err, size))
		return -1;
	d->buf[len] = 0;
	if (d->c->rx.final ||
	    sscanf((char *)d->buf, "image %63s %llu", file, &bytes) != 2 ||
	    strcmp(file, want) || bytes > MIGRATE_IMAGE_MAX) {
		snprintf(err, size, "not the %s of a post-copy migration", want);
		return -1;
	}
	if (!strcmp(want, "skeleton.img")) {
		migrate_phase("final");
		d->t_skel0 = dst_now_ms();
	}
	snprintf(path, n, "%s/%s", d->dir, want);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		snprintf(err, size, "%.300s: %s", path, strerror(errno));
		return -1;
	}
	while (bytes) {
		if (stream_recv(&d->c->rx, d->buf, &len, err, size))
			goto out;
		if (len > bytes || d->c->rx.final ||
		    write(fd, d->buf, len) != (ssize_t)len) {
			snprintf(err, size, "%s: a bad or unwritable message", want);
			goto out;
		}
		bytes -= len;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

/* Does ch have exactly these dataspaces, in this order? */
static int channel_fits(const struct page_channel *ch, uint32_t n, const uint64_t *ids,
			const uint64_t *pages)
{
	if (!ch || page_channel_nds(ch) != n)
		return 0;
	for (uint32_t k = 0; k < n; k++)
		if (page_channel_id(ch, k) != ids[k] ||
		    page_channel_pages(ch, k) != pages[k])
			return 0;
	return 1;
}

/* The dataspaces of im whose pages the source serves: as its list_ds,
 * every one a region attaches that is not a managed region map's (the
 * freeze attaches exactly those), in im's order.  Their ids and pages
 * into ids and pages; how many, or -1 if there are too many. */
static int served_ds(const struct image_model *im, uint64_t *ids, uint64_t *pages)
{
	int n = 0;

	for (uint32_t i = 0; i < im->ndataspaces; i++) {
		const struct image_dataspace *d = &im->dataspaces[i];
		int attached = 0;

		if (d->kind == IMAGE_DS_MANAGED || d->kind == IMAGE_DS_MEMBER)
			continue;
		for (uint32_t k = 0; k < im->nregions && !attached; k++)
			attached = im->regions[k].ds_id == d->id;
		if (!attached)
			continue;
		if (n == PAGE_CHANNEL_MAX_DS)
			return -1;
		ids[n] = d->id;
		pages[n++] = d->size / POSTCOPY_PAGE;
	}
	return n;
}

/* While the target still runs at the source: the channel for the
 * pre-skeleton's dataspaces, which the skeleton's are unless one was
 * made, resized or attached since (then make_channel makes another).
 * Its mappings and bitmaps are then not made in the pause (16 of each
 * for a 256 MiB bench_wset).  Nothing if the pre-skeleton is unusable. */
static void early_channel(struct pdst *d, const char *preskel)
{
	uint64_t ids[PAGE_CHANNEL_MAX_DS], pages[PAGE_CHANNEL_MAX_DS];
	struct image_model *im;
	char err[256];
	int n;

	if (image_read_flags(preskel, IMAGE_READ_STREAM, &im, err, sizeof err))
		return;
	if ((n = served_ds(im, ids, pages)) > 0)
		d->ch = page_channel_new((uint32_t)n, ids, pages);
	image_model_free(im);
}

/* The channel for the skeleton's dataspaces (the early one if it fits),
 * with its pages in. */
static int make_channel(struct pdst *d, char *err, size_t size)
{
	uint64_t ids[PAGE_CHANNEL_MAX_DS], pages[PAGE_CHANNEL_MAX_DS];
	struct image_model *im;
	int rc = -1, n;

	/* streamed: its pages go from the file's chunks straight into the
	 * channel's buffers (read whole, each dataspace-sized model of a
	 * 256 MiB target cost some 40 ms to map, fill and unmap) */
	if (image_read_flags(d->skel, IMAGE_READ_STREAM, &im, err, size))
		return -1;
	if (!(im->flags & IMAGE_F_PARTIAL) || (n = served_ds(im, ids, pages)) <= 0) {
		snprintf(err, size, "skeleton.img: not a post-copy skeleton");
		goto out;
	}
	if (!channel_fits(d->ch, (uint32_t)n, ids, pages)) {
		page_channel_free(d->ch);
		d->ch = page_channel_new((uint32_t)n, ids, pages);
	}
	if (!d->ch) {
		snprintf(err, size, "skeleton.img: no page channel for its dataspaces");
		goto out;
	}
	/* the receiver does not run yet: nothing reads the buffers until a
	 * page is marked arrived, which put does with no data (in place) */
	for (uint32_t k = 0; k < im->nmemory; k++) {
		const struct image_memory *e = &im->memory[k];
		int c = page_channel_index(d->ch, e->ds_id);
		uint64_t got, np = e->size / POSTCOPY_PAGE;

		if (c < 0 || page_channel_pages(d->ch, (unsigned)c) != np) {
			snprintf(err, size,
				 "skeleton.img: pages of dataspace %llu, not served",
				 (unsigned long long)e->ds_id);
			goto out;
		}
		if (image_memory_apply(im, e->ds_id, page_channel_buf(d->ch, (unsigned)c),
				       np * POSTCOPY_PAGE, &got, err, size))
			goto out;
		for (uint64_t p = 0; p < np; p++) {
			if (!e->present[p / 8]) { /* a byte at a time: 8 pages */
				p |= 7;
				continue;
			}
			if (e->present[p / 8] >> (p % 8) & 1)
				page_channel_put(d->ch, (unsigned)c, p, 1, NULL,
						 PAGE_EAGER);
		}
	}
	rc = 0;
out:
	image_model_free(im);
	return rc;
}

/* A page message into the channel: 0, or -1 (malformed). */
static int put_pages(struct pdst *d, size_t len)
{
	struct postcopy_pages h;
	const uint8_t *data;
	int ds;

	if (len < sizeof h)
		return -1;
	memcpy(&h, d->buf, sizeof h);
	data = d->buf + sizeof h;
	ds = page_channel_index(d->ch, h.ds_id);
	if (ds < 0 || !h.count || h.count > POSTCOPY_RUN || (h.zero >> h.count) ||
	    len != sizeof h +
		       (size_t)(h.count - __builtin_popcountll(h.zero)) * POSTCOPY_PAGE ||
	    h.first >= page_channel_pages(d->ch, (unsigned)ds) ||
	    h.count > page_channel_pages(d->ch, (unsigned)ds) - h.first)
		return -1;
	for (unsigned i = 0; i < h.count; i++) {
		int zero = h.zero >> i & 1;
		page_channel_put(d->ch, (unsigned)ds, h.first + i, 1, zero ? NULL : data,
				 h.how == POSTCOPY_DEMAND ? PAGE_DEMAND : PAGE_PUSHED);
		data += zero ? 0 : POSTCOPY_PAGE;
	}
	return 0;
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

/* The receiver: everything the source sends after the skeleton. */
static void *receiver(void *arg)
{
	struct pdst *d = arg;
	struct page_channel_stats st;
	char err[TRANSPORT_ERR_MAX / 2], why[TRANSPORT_ERR_MAX];
	size_t len;

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
			if (put_pages(d, len)) {
				receiver_end(d, "a malformed page message");
				return NULL;
			}
			continue;
		}
		d->buf[len < 63 ? len : 63] = 0;
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
static void *wanter(void *arg)
{
	struct pdst *d = arg;
	struct postcopy_want w = {.tag = 'W'};
	char err[TRANSPORT_ERR_MAX];
	unsigned ds;
	int rc;

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

/* The source's next word (commit, abort, end) until end_ms: 0 with it
 * in word, or -1 (the receiver ended, or no word in time). */
static int await_word(struct pdst *d, uint64_t end_ms, char *word, size_t size)
{
	int rc = -1;

	pthread_mutex_lock(&d->lock);
	while (!d->word[0] && !d->rx_done && transport_now_ms() < end_ms) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&d->cond, &d->lock, &ts);
	}
	if (d->word[0]) {
		snprintf(word, size, "%s", d->word);
		d->word[0] = 0;
		rc = 0;
	} else {
		snprintf(word, size, "%s", d->rx_done ? d->why : "no answer in time");
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

/* Every page arrived (1), or the source was lost (0). */
static int await_pages(struct pdst *d, struct page_channel_stats *st)
{
	for (;;) {
		page_channel_stats(d->ch, st);
		if (st->arrived == st->total)
			return 1;
		if (page_channel_failed(d->ch, NULL, 0))
			return 0;
		usleep(2000);
	}
}

/* After "complete": the source's "end", or the copy here is paused. */
static void await_end(struct pdst *d)
{
	char word[TRANSPORT_ERR_MAX], last[CONTROL_LINE_MAX], held[600];

	if (!await_word(d, transport_now_ms() + POSTCOPY_SILENCE_MS, word, sizeof word) &&
	    !strcmp(word, "end")) {
		migrate_phase("done");
		return;
	}
	snprintf(held, sizeof held, "%s/held.img", d->dir);
	for (int i = 0; i < 100; i++) { /* the fill may still be writing pages */
		if (!dst_step(d, CONTROL_FREEZE, 0, held, last, sizeof last) ||
		    !strstr(last, "still being restored"))
			break;
		usleep(20000);
	}
	unlink(held);
	fprintf(stderr,
		"capsule node: migration from %s: no end after every page arrived (%s): "
		"%s is kept paused here, since the source may have resumed its copy; if "
		"it does not run there, `capsule resume --node SOCK %s` starts it here, "
		"else `capsule discard --node SOCK %s` ends it\n",
		d->c->peer, word, d->name, d->name, d->name);
}

/* After "ready": the commit, the start, the pages. */
static void run_postcopy(struct pdst *d)
{
	uint64_t end = d->c->start_ms + d->deadline_ms + MIGRATE_GRACE_MS;
	char word[TRANSPORT_ERR_MAX], last[CONTROL_LINE_MAX], line[CONTROL_LINE_MAX];
	struct page_channel_stats st;

	if (await_word(d, end, word, sizeof word) || strcmp(word, "commit") ||
	    page_channel_failed(d->ch, word, sizeof word)) { /* lost meanwhile */
		dst_step(d, CONTROL_RELEASE, 0, "-", last, sizeof last);
		fprintf(
		    stderr,
		    "capsule node: migration from %s: no commit (%s): %s ended here\n",
		    d->c->peer, word, d->name);
		return;
	}
	migrate_phase("commit");
	d->t_commit = dst_now_ms();
	if (dst_step(d, CONTROL_THAW, 0, "-", last, sizeof last)) {
		snprintf(line, sizeof line, "error: %s: cannot start it: %.200s", d->name,
			 last);
		dst_step(d, CONTROL_RELEASE, 0, "-", last, sizeof last);
		dst_send(d, line, 1);
		return;
	}
	d->last_ms = transport_now_ms();
	d->postcopy = 1;
	snprintf(line, sizeof line, "started %s", d->name);
	dst_send(d, line, 0);
	d->t_started = dst_now_ms();
	fprintf(stderr,
		"capsule node: migration from %s (post-copy): skeleton received in "
		"%.2f ms, channel and checks %.2f, restored until ready %.2f (%llu pages "
		"asked of the source), waited for the commit %.2f, started in %.2f\n",
		d->c->peer, d->t_skel - d->t_skel0, d->t_chan - d->t_skel,
		d->t_restored - d->t_chan, (unsigned long long)d->restore_wants,
		d->t_commit - d->t_restored, d->t_started - d->t_commit);
	migrate_phase("postcopy");
	if (!await_pages(d, &st)) {
		page_channel_failed(d->ch, word, sizeof word);
		fprintf(
		    stderr,
		    "capsule node: migration from %s: post-copy failed: the source was "
		    "lost (%s): %llu of %llu pages never arrived; %s is stopped here "
		    "(the "
		    "source resumes its copy)\n",
		    d->c->peer, word, (unsigned long long)(st.total - st.arrived),
		    (unsigned long long)st.total, d->name);
		return;
	}
	snprintf(line, sizeof line, "complete demand=%llu pushed=%llu",
		 (unsigned long long)st.demand, (unsigned long long)st.pushed);
	fprintf(
	    stderr,
	    "capsule node: migration from %s: post-copy: every page arrived: %llu pages, "
	    "%llu with the skeleton, %llu on demand (%llu wants), %llu pushed\n",
	    d->c->peer, (unsigned long long)st.total, (unsigned long long)st.eager,
	    (unsigned long long)st.demand, (unsigned long long)st.wants,
	    (unsigned long long)st.pushed);
	if (dst_send(d, line, 1))
		snprintf(d->why, sizeof d->why, "the complete could not be sent");
	await_end(d);
}

/* The pre-skeleton (round 1's state, no page) while the target still
 * runs at the source: the monitor it names builds from it what the
 * restore takes in the pause (CONTROL_PREBUILD, monitor/
 * restore_prebuild.c: PD, CPU session, threads never started,
 * sessions); "built ..." tells the source to freeze.  A copy that
 * cannot be built is logged and the restore makes everything itself.
 * The monitor logs what it built and its end: no line of the
 * migration's here for either (a failed migration's is its error). */
static int prebuild(struct pdst *d, char *err, size_t size)
{
	struct control_request req = {.op = CONTROL_PREBUILD};
	char path[512], line[CONTROL_NAME_MAX + 32], last[CONTROL_LINE_MAX];

	if (receive_file(d, "preskel.img", path, sizeof path, err, size))
		return -1;
	early_channel(d, path);
	if (control_image_target(path, req.name, last, sizeof last) ||
	    (snprintf(req.path, sizeof req.path, "%s", path),
	     control_call_final(&req, last, sizeof last)))
		fprintf(stderr,
			"capsule node: migration from %s (post-copy): nothing built from "
			"the pre-skeleton (%s): the restore makes it all\n",
			d->c->peer, last);
	else
		snprintf(d->built, sizeof d->built, "%s", req.name);
	snprintf(line, sizeof line, "built %s", d->built[0] ? d->built : "-");
	if (dst_send(d, line, 0)) {
		snprintf(err, size, "the source was lost");
		return -1;
	}
	return 0;
}

/* The migration ends before the restore (or restores another monitor):
 * end the copy built from the pre-skeleton, so that the node keeps no
 * half-made target. */
static void prebuild_drop(struct pdst *d)
{
	struct control_request req = {.op = CONTROL_RELEASE};
	char last[CONTROL_LINE_MAX];

	if (!d->built[0])
		return;
	snprintf(req.name, sizeof req.name, "%s", d->built);
	snprintf(req.path, sizeof req.path, "-");
	if (control_call_final(&req, last, sizeof last))
		fprintf(
		    stderr,
		    "capsule node: migration from %s (post-copy): cannot end the copy "
		    "of %s built from the pre-skeleton: %s\n",
		    d->c->peer, d->built, last);
	d->built[0] = 0;
}

/* The request, the pre-skeleton and the skeleton, the channel: 0, or -1
 * with ans. */
static int prepare(struct pdst *d, const char *request, char *ans, size_t size)
{
	char err[512], *end;
	long v = strtol(request + strlen(POSTCOPY_HEADER), &end, 10);

	if (*end || v < 100 || v > 3600 * 1000) {
		snprintf(ans, size, "error: a bad deadline in the request");
		return -1;
	}
	d->deadline_ms = (int)v;
	/* the source takes its snapshot before it sends the skeleton */
	address_set_timeout(d->c->fd, d->deadline_ms);
	if (prebuild(d, err, sizeof err) ||
	    receive_file(d, "skeleton.img", d->skel, sizeof d->skel, err, sizeof err) ||
	    (d->t_skel = dst_now_ms(), 0) || make_channel(d, err, sizeof err) ||
	    control_image_target(d->skel, d->name, err, sizeof err)) {
		snprintf(ans, size, "error: %.400s", err);
		prebuild_drop(d);
		return -1;
	}
	if (strcmp(d->name, d->built)) /* the restore takes only its own */
		prebuild_drop(d);
	if (transport_now_ms() > d->c->start_ms + (uint64_t)d->deadline_ms) {
		snprintf(ans, size, "error: the skeleton came after the deadline (%d ms)",
			 d->deadline_ms);
		prebuild_drop(d);
		return -1;
	}
	return 0;
}

/* The restore, paused, its pages from the channel: 0, or -1 with ans. */
static int restore(struct pdst *d, char *ans, size_t size)
{
	char last[CONTROL_LINE_MAX];
	int rc;

	if (page_channel_offer(d->ch)) {
		snprintf(ans, size, "error: another post-copy restore is under way here");
		prebuild_drop(d);
		return -1;
	}
	d->t_chan = dst_now_ms();
	rc = dst_step(d, CONTROL_RESTORE, CONTROL_F_PAUSED | CONTROL_F_POSTCOPY, d->skel,
		      ans, size);
	d->t_restored = dst_now_ms();
	{
		struct page_channel_stats st;
		page_channel_stats(d->ch, &st);
		d->restore_wants = st.wants;
	}
	d->built[0] = 0;	      /* the restore took the copy or ended it */
	page_channel_withdraw(d->ch); /* if the restore did not claim it */
	if (rc)
		return -1;
	if (transport_now_ms() > d->c->start_ms + (uint64_t)d->deadline_ms) {
		dst_step(d, CONTROL_RELEASE, 0, "-", last, sizeof last);
		snprintf(ans, size,
			 "error: %s: restored after the deadline (%d ms); undone",
			 d->name, d->deadline_ms);
		return -1;
	}
	snprintf(ans, size, "ready %s", d->name);
	return 0;
}

void migrate_postcopy_receive(struct transport_conn *c, const char *request,
			      const char *dir)
{
	struct pdst d = {.c = c, .dir = dir, .buf = malloc(TRANSPORT_MSG_MAX + 1)};
	char ans[CONTROL_LINE_MAX];
	pthread_t rx, tx;
	int threads = 0, rc = -1;

	pthread_mutex_init(&d.lock, NULL);
	pthread_cond_init(&d.cond, NULL);
	if (!d.buf)
		snprintf(ans, sizeof ans, "error: out of memory");
	else if (!prepare(&d, request, ans, sizeof ans)) {
		threads = !pthread_create(&rx, NULL, receiver, &d);
		if (threads && pthread_create(&tx, NULL, wanter, &d)) {
			d.stop = 1;
			pthread_join(rx, NULL);
			threads = 0;
		}
		if (!threads) {
			snprintf(ans, sizeof ans, "error: no threads for the pages");
			prebuild_drop(&d);
		} else
			rc = restore(&d, ans, sizeof ans);
	}
	fprintf(stderr, "capsule node: migration from %s (post-copy): %s\n", c->peer,
		ans);
	if (dst_send(&d, ans, rc != 0) == 0 && !rc)
		run_postcopy(&d);
	else if (!rc) { /* the source cannot learn that it is ready: it resumes */
		char last[CONTROL_LINE_MAX];
		dst_step(&d, CONTROL_RELEASE, 0, "-", last, sizeof last);
		fprintf(stderr,
			"capsule node: migration from %s: the answer was lost: %s "
			"undone\n",
			c->peer, d.name);
	}
	d.stop = 1;
	if (d.ch)
		page_channel_fail(d.ch, "the migration ended"); /* the wanter returns */
	if (threads) {
		pthread_join(rx, NULL);
		pthread_join(tx, NULL);
	}
	page_channel_free(d.ch);
	pthread_cond_destroy(&d.cond);
	pthread_mutex_destroy(&d.lock);
	free(d.buf);
}
