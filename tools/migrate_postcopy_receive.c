/*
 * The destination of a post-copy migration (migrate_postcopy.h,
 * docs/migration.md "Post-copy"), on the listener thread of `capsule node
 * --listen`:
 *
 *   0. receive the pre-skeleton (round 1's state, no page) while the
 *      target runs at the source; the monitor builds from it the PD, CPU
 *      session, threads and sessions the restore takes; "built ...";
 *   1. receive the pages the restore reads into the page channel
 *      (monitor/page_channel.h) made from the pre-skeleton, then the
 *      skeleton (the frozen target's state, final.img) into the spool
 *      directory; check the channel against its dataspaces (or make
 *      another), offer it to the monitor, and let two threads start (made
 *      before step 0, they waited for the skeleton): one
 *      receives everything the source sends from now on (pages into the
 *      channel, its words to this thread), one sends the channel's wants;
 *   2. (commit) restore the skeleton post-copy (CONTROL_F_POSTCOPY) and
 *      start it: the restore's fix-ups wait for any page they read that
 *      is not there yet; "started" (phase postcopy);
 *   3. an "abort" or a lost source from here stops the copy here;
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
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "image/image.h"
#include "monitor/page_channel.h"
#include "monitor/postcopy_pages.h"
#include "tools/migrate_postcopy.h"
#include "tools/migrate_postcopy_dst.h"

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
 * as path.  Before the skeleton come the pages its restore reads: into
 * the channel made from the pre-skeleton (if there is none, or another
 * is made for the skeleton, they are asked for again). */
static int receive_file(struct pdst *d, const char *want, char *path, size_t n, char *err,
			size_t size)
{
	unsigned long long bytes;
	char file[64];
	size_t len;
	int fd, rc = -1;

	for (;;) {
		if (stream_recv(&d->c->rx, d->buf, &len, err, size))
			return -1;
		if (strcmp(want, "skeleton.img") || !len || d->buf[0] != 'P' ||
		    d->c->rx.final)
			break;
		if (d->t_skel0 == 0)
			d->t_skel0 = dst_now_ms(); /* the pause's first bytes */
		/* one that does not fit the channel is asked for again */
		if (d->ch)
			pdst_put_pages(d, len);
	}
	if (d->t_skel0 == 0 && !strcmp(want, "skeleton.img"))
		d->t_skel0 = dst_now_ms();
	d->buf[len] = 0;
	if (d->c->rx.final ||
	    sscanf((char *)d->buf, "image %63s %llu", file, &bytes) != 2 ||
	    strcmp(file, want) || bytes > MIGRATE_IMAGE_MAX) {
		snprintf(err, size, "not the %s of a post-copy migration", want);
		return -1;
	}
	if (!strcmp(want, "skeleton.img"))
		migrate_phase("final");
	/* the skeleton in memory, not a file: read twice in the pause (the
	 * channel's check, the monitor's restore through /proc/self/fd, same
	 * process), and a new file on the spool's file system (ext4 here)
	 * cost 100-300 us to create and read back */
	if (!strcmp(want, "skeleton.img") &&
	    (d->skel_fd = memfd_create(want, MFD_CLOEXEC)) >= 0) {
		snprintf(path, n, "/proc/self/fd/%d", d->skel_fd);
		fd = dup(d->skel_fd);
	} else {
		snprintf(path, n, "%s/%s", d->dir, want);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	}
	if (fd < 0) {
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

/* The channel for the skeleton's dataspaces: the early one if it fits,
 * else another (the pages put into the early one are asked for again). */
static int make_channel(struct pdst *d, char *err, size_t size)
{
	struct page_channel *ch =
	    postcopy_skeleton_channel(d->ch, d->skel, &d->skel_im, err, size);

	if (!ch)
		return -1;
	if (ch != d->ch)
		page_channel_free(d->ch);
	d->ch = ch;
	return 0;
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

/* After the start ("started" sent, or lost): the pages. */
static void run_postcopy(struct pdst *d)
{
	char word[TRANSPORT_ERR_MAX], line[CONTROL_LINE_MAX];
	struct page_channel_stats st;

	fprintf(stderr,
		"capsule node: migration from %s (post-copy): skeleton received in "
		"%.2f ms, channel and checks %.2f, restored and started in %.2f, "
		"answered in %.2f%s\n",
		d->c->peer, d->t_skel - d->t_skel0, d->t_chan - d->t_skel,
		d->t_restored - d->t_chan, d->t_started - d->t_restored,
		d->answered > 0 ? " (from the node's thread)" : "");
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
	d->ch = postcopy_early_channel(path);
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
	/* the pause's hand-offs from here: this thread's wake-ups (the
	 * skeleton's first bytes, the restore's answer) preempt busier
	 * threads (transport/prompt.c), until the answer */
	transport_prompt_thread(1);
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

/* On the node's thread, as its monitor answers the restore (control_
 * call_at: it started the target before): "started NAME" to the source
 * from there, not after the listener's thread is woken again (a hand-off
 * in the pause: 0.05-0.3 ms quiet, more when both CPUs are busy). */
static void started_at(const char *last, void *arg)
{
	struct pdst *d = arg;
	char line[CONTROL_NAME_MAX + 16];

	if (strncmp(last, "ok", 2))
		return;
	d->t_restored = dst_now_ms();
	/* the silence rule applies from the start */
	d->last_ms = transport_now_ms();
	d->postcopy = 1;
	snprintf(line, sizeof line, "started %s", d->name);
	d->answered = dst_send(d, line, 0) ? -1 : 1;
	d->t_started = dst_now_ms();
}

/* The restore, its pages from the channel, and the start (the commit:
 * the source is committed once it sent the skeleton, and the target
 * cannot run on here without it): 0 with "started NAME" in ans, or -1
 * with ans (it never ran here). */
static int restore(struct pdst *d, char *ans, size_t size)
{
	struct control_request req = {0};
	int rc;

	/* read once: published with the channel, the monitor's restore takes
	 * it (until session 14 it read the skeleton again, 40-70 us of the
	 * pause); freed with the channel if not */
	page_channel_set_skeleton(d->ch, d->skel, d->skel_im);
	d->skel_im = NULL;
	if (page_channel_offer(d->ch)) {
		snprintf(ans, size, "error: another post-copy restore is under way here");
		prebuild_drop(d);
		return -1;
	}
	d->t_chan = dst_now_ms();
	migrate_phase("commit");
	/* not CONTROL_F_PAUSED: started by the restore's own request (until
	 * version 4 of the protocol it was kept paused, "ready" sent, and
	 * started by a CONTROL_THAW on the source's "commit": 0.15-0.5 ms
	 * of the pause, and 1-2 ms when a thread waited for a core) */
	req.op = CONTROL_RESTORE;
	req.flags = CONTROL_F_POSTCOPY;
	snprintf(req.name, sizeof req.name, "%s", d->name);
	snprintf(req.path, sizeof req.path, "%s", d->skel);
	rc = control_call_final_at(&req, ans, size, started_at, d);
	d->built[0] = 0;	      /* the restore took the copy or ended it */
	page_channel_withdraw(d->ch); /* if the restore did not claim it */
	if (rc)
		return -1;
	if (!d->answered) { /* answered here (migrate_postcopy_receive) */
		d->t_restored = dst_now_ms();
		d->last_ms = transport_now_ms();
		d->postcopy = 1;
	}
	snprintf(ans, size, "started %s", d->name);
	return 0;
}

void migrate_postcopy_receive(struct transport_conn *c, const char *request,
			      const char *dir)
{
	struct pdst d = {
	    .c = c, .dir = dir, .skel_fd = -1, .buf = malloc(TRANSPORT_MSG_MAX + 1)};
	char ans[CONTROL_LINE_MAX];
	pthread_t rx, tx;
	int threads = 0, rc = -1;

	pthread_mutex_init(&d.lock, NULL);
	pthread_cond_init(&d.cond, NULL);
	/* made first, they wait for the skeleton (await_go) */
	threads = !pthread_create(&rx, NULL, pdst_receiver, &d);
	if (threads && pthread_create(&tx, NULL, pdst_wanter, &d)) {
		pdst_set_go(&d, 1);
		pthread_join(rx, NULL);
		threads = 0;
	}
	if (!d.buf)
		snprintf(ans, sizeof ans, "error: out of memory");
	else if (!threads)
		snprintf(ans, sizeof ans, "error: no threads for the pages");
	else if (!prepare(&d, request, ans, sizeof ans)) {
		pdst_set_go(&d, 0);
		rc = restore(&d, ans, sizeof ans);
	}
	/* a lost answer: the source cannot learn that it runs here, and the
	 * copy here stops once the connection is found lost */
	if ((d.answered ? d.answered < 0 : dst_send(&d, ans, rc != 0)) && !rc)
		fprintf(stderr,
			"capsule node: migration from %s: the answer was lost (%s)\n",
			c->peer, ans);
	if (!d.answered)
		d.t_started = dst_now_ms();
	transport_prompt_thread(0); /* the pause ended: the default slice */
	fprintf(stderr, "capsule node: migration from %s (post-copy): %s\n", c->peer,
		ans);
	if (!rc)
		run_postcopy(&d);
	pdst_set_go(&d, 1); /* the threads end (or never start) */
	if (d.ch)
		page_channel_fail(d.ch, "the migration ended"); /* the wanter returns */
	if (threads) {
		pthread_join(rx, NULL);
		pthread_join(tx, NULL);
	}
	page_channel_free(d.ch);
	if (d.skel_im)
		image_model_free(d.skel_im);
	if (d.skel_fd >= 0)
		close(d.skel_fd);
	pthread_cond_destroy(&d.cond);
	pthread_mutex_destroy(&d.lock);
	free(d.buf);
}
