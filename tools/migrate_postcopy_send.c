/*
 * The source of a post-copy migration (migrate_postcopy.h,
 * docs/migration.md "Post-copy"), on the control thread of `capsule node
 * --key FILE`:
 *
 *   1. handshake (as pre-copy: refused before the target is touched);
 *   2. the running target's state without any page (preskel.img, a
 *      checkpoint of its state only) sent, for the destination to build
 *      the PD, threads and sessions from while the target runs;
 *   3. final: freeze (the target stays paused here for good) with its
 *      state only (final.img, no page: the monitor keeps its memory
 *      attached and the page server reads it there, frozen_memory.h);
 *      the pages the destination's restore reads (the cap map's, the
 *      report's, the entrypoints' and their pools'), found and read in
 *      place, then final.img itself as the skeleton, sent;
 *   4. commit: from here the destination may run it; "started": it runs
 *      there (the pause ends); final.img read for the dataspaces to
 *      serve (postcopy_read_final: before, if a want comes first);
 *   5. postcopy: answer wants first, push the rest in address order,
 *      until the destination says "complete"; then end the copy here,
 *      send "end" (done).
 *
 * A failure before the skeleton is sent, or the destination's error
 * (it never ran there), resumes the target here at once.  A lost
 * connection after it resumes it after POSTCOPY_SILENCE_MS +
 * POSTCOPY_MARGIN_MS: by then the destination, which cannot get its
 * missing pages, has stopped its copy.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "tools/migrate_postcopy_src.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int step(enum control_op op, unsigned flags, const char *name, const char *path,
		const char *parent, char *last, size_t size)
{
	struct control_request req = {.op = op, .flags = flags};

	snprintf(req.name, sizeof req.name, "%s", name);
	snprintf(req.path, sizeof req.path, "%s", path);
	snprintf(req.parent, sizeof req.parent, "%s", parent ? parent : "");
	return control_call_final(&req, last, size);
}

/* The dataspaces of fin to serve: those with memory in the frozen
 * target (every attached one).  Their sent bytes are one allocation,
 * made in one piece: a large one is fresh memory, touched as pages are
 * sent, not in the pause (a calloc each was 0.2 ms of a 1 GiB target's
 * pause, mostly first touches).  0, or -1 with err. */
static int list_ds(struct psrc *s)
{
	uint64_t at = 0;

	for (uint32_t i = 0; i < s->fin->ndataspaces; i++) {
		const struct image_dataspace *d = &s->fin->dataspaces[i];
		uint64_t size;

		if (d->kind == IMAGE_DS_MANAGED || !frozen_mem_at(s->fm, d->id, &size))
			continue;
		if (size < d->size || s->nds == POSTCOPY_MAX_DS) {
			snprintf(s->err, sizeof s->err, "dataspace %llu: not all frozen",
				 (unsigned long long)d->id);
			return -1;
		}
		s->ds[s->nds++] = (struct src_ds){d->id, d->size / POSTCOPY_PAGE, NULL};
		s->left += d->size / POSTCOPY_PAGE;
	}
	if (!(s->sent = calloc(s->left + 1, 1))) {
		snprintf(s->err, sizeof s->err, "out of memory");
		return -1;
	}
	for (unsigned k = 0; k < s->nds; k++) {
		s->ds[k].sent = s->sent + at;
		at += s->ds[k].pages;
	}
	return 0;
}

/* "image NAME BYTES" and the file (as migrate_send does). */
static int send_file(struct psrc *s, const char *path, const char *file)
{
	FILE *f = fopen(path, "rb");
	char head[128];
	long size;
	size_t n;

	if (!f || fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET)) {
		snprintf(s->err, sizeof s->err, "%s: %s", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	snprintf(head, sizeof head, "image %s %ld", file, size);
	if (stream_send(&s->c.tx, head, strlen(head), 0, s->err, sizeof s->err))
		goto fail;
	while ((n = fread(s->msg, 1, TRANSPORT_MSG_MAX, f)) > 0)
		if (stream_send(&s->c.tx, s->msg, n, 0, s->err, sizeof s->err))
			goto fail;
	fclose(f);
	return 0;
fail:
	fclose(f);
	return -1;
}

/* Resume the target here (before the commit at once, after it once the
 * destination has surely stopped its copy); the line to fn. */
static void resume_here(struct psrc *s, int committed, const char *why,
			control_line_fn fn, void *arg)
{
	char last[CONTROL_LINE_MAX], line[3 * CONTROL_LINE_MAX], e[64];

	if (!committed)
		stream_send(&s->c.tx, "abort", 5, 1, e, sizeof e);
	else
		usleep((POSTCOPY_SILENCE_MS + POSTCOPY_MARGIN_MS) * 1000);
	if (step(CONTROL_THAW, 0, s->name, "-", NULL, last, sizeof last))
		snprintf(line, sizeof line,
			 "error: %s: %s: %s; and it could not be resumed here: %s",
			 s->name, s->to, why, last);
	else if (committed)
		snprintf(line, sizeof line,
			 "error: %s: %s: the destination was lost during post-copy (%s): "
			 "resumed here from the freeze (its run there since is lost)",
			 s->name, s->to, why);
	else
		snprintf(line, sizeof line, "error: %s: %s: %s; resumed here", s->name,
			 s->to, why);
	fn(line, arg);
}

/* While the target runs: preskel.img, its state without any page (a
 * checkpoint of its state only: IMAGE_F_PARTIAL, no memory records),
 * sent for the destination to build the target's PD, CPU session,
 * threads and sessions from before the freeze (CONTROL_PREBUILD); its
 * "built ..." awaited, so that the skeleton does not arrive while it
 * builds.  0, or -1 with s->err (the target runs on here). */
static int send_preskel(struct psrc *s, int ms)
{
	char path[512], last[CONTROL_LINE_MAX];
	size_t len;

	snprintf(path, sizeof path, "%s/preskel.img", s->dir);
	if (step(CONTROL_CHECKPOINT, CONTROL_F_STATE | CONTROL_F_SPOOL, s->name, path,
		 NULL, last, sizeof last)) {
		snprintf(s->err, sizeof s->err, "%s", last);
		return -1;
	}
	if (send_file(s, path, "preskel.img"))
		return -1;
	address_set_timeout(s->c.fd, ms > 0 ? ms : 1);
	if (stream_recv(&s->c.rx, s->msg, &len, s->err, sizeof s->err))
		return -1;
	s->msg[len] = 0;
	if (strncmp((char *)s->msg, "built ", 6) || s->c.rx.final) {
		snprintf(s->err, sizeof s->err, "refused: %.200s", (char *)s->msg);
		return -1;
	}
	return 0;
}

/* The pause sends some 150-200 KB (the restore's pages, the skeleton)
 * into a connection that has carried only the pre-skeleton: its send
 * buffer, 16 KiB at first and grown by the kernel as it is used, may
 * not hold it, and a full buffer makes the sender wait for the
 * destination's reads.  With room for it all, no send waits for them.
 * (The skeleton's send still takes 0.7-1.2 ms in some pauses on a busy
 * two-core host: the destination's threads it wakes take the sender's
 * CPU, docs/migration-performance.md, post-copy.)  A fixed size stops the kernel's
 * tuning of it: 4 MiB is its default ceiling anyway (net.ipv4.
 * tcp_wmem).  Best effort. */
static void wide_send_buffer(int fd)
{
	int size = 4 << 20;

	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
}

/* Once frozen: send the pages the destination's restore reads (found
 * with the frozen memory's regions), then the skeleton: final.img (at
 * path) as the monitor wrote it (the frozen target's state, no page).
 * final.img itself is read only after the pause (postcopy_read_final).
 * 0, or 1 (failed before the skeleton was all sent: the destination
 * cannot have started it), with s->err. */
static int send_frozen(struct psrc *s, const char *path)
{
	s->t_frozen = now_ms();
	if (!(s->fm = frozen_mem_claim(s->name))) {
		snprintf(s->err, sizeof s->err, "%s: its frozen memory is not there",
			 s->name);
		return 1;
	}
	/* ahead of the skeleton: in the destination's channel when the
	 * skeleton is there, so its restore asks for none of them */
	if (postcopy_send_restore_pages(s))
		return 1;
	s->t_pages = now_ms();
	if (send_file(s, path, "skeleton.img"))
		return 1;
	s->t_sent = now_ms();
	return 0;
}

int postcopy_read_final(struct psrc *s)
{
	double t = now_ms();

	if (s->fin)
		return 0;
	if (image_read_flags(s->final_path, IMAGE_READ_STREAM, &s->fin, s->err,
			     sizeof s->err) ||
	    list_ds(s))
		return -1;
	s->read_ms = now_ms() - t;
	return 0;
}

/* On the node's thread, as its monitor answers the freeze (control_
 * call_at; the target stays paused, the thread waits for nothing): the
 * pages and the skeleton go from there, not after this control thread
 * is woken (a hand-off at the start of the pause, more than 0.1 ms
 * when both CPUs are busy). */
static void frozen_at(const char *last, void *arg)
{
	struct psrc *s = arg;

	if (strncmp(last, "ok", 2))
		return;
	s->sent_rc = send_frozen(s, s->final_path);
	s->sent_at = 1;
}

/* Freeze, then send_frozen.  0, 1 (frozen, failed before the skeleton
 * was all sent: the destination cannot have started it), or -1 (not
 * frozen: it runs on here), with s->err. */
static int freeze_and_send(struct psrc *s)
{
	struct control_request req = {.op = CONTROL_FREEZE, .flags = CONTROL_F_STATE};
	char *path = s->final_path, last[CONTROL_LINE_MAX];
	int rc;

	migrate_phase("final");
	/* in memory, not a file: creating a file on the spool's file system
	 * (ext4 here) and reading it back was 150-350 us of the freeze; the
	 * node's monitor writes it through /proc/self/fd (same process) */
	if ((s->final_fd = memfd_create("final.img", MFD_CLOEXEC)) >= 0)
		snprintf(path, sizeof s->final_path, "/proc/self/fd/%d", s->final_fd);
	else
		snprintf(path, sizeof s->final_path, "%s/final.img", s->dir);
	snprintf(req.name, sizeof req.name, "%s", s->name);
	snprintf(req.path, sizeof req.path, "%s", path);
	s->sent_at = 0;
	rc = control_call_final_at(&req, last, sizeof last, frozen_at, s);
	if (s->sent_at) /* frozen, and sent or not from the node's thread */
		rc = s->sent_rc;
	else if (rc)
		snprintf(s->err, sizeof s->err, "%s", last);
	else /* frozen, no hook run: sent from here */
		rc = send_frozen(s, path);
	if (rc)
		return strncmp(last, "ok", 2) ? -1 : 1; /* frozen or not */
	/* committed: the destination starts it once restored (no "ready"
	 * and "commit" since version 4 of the protocol, a round trip and a
	 * hand-off less in the pause) */
	migrate_phase("commit");
	return 0;
}

/* "complete demand=D pushed=P" from the destination: end it here, "end". */
static void finish(struct psrc *s, double t0, double paused, control_line_fn fn,
		   void *arg)
{
	char last[CONTROL_LINE_MAX], line[4 * CONTROL_LINE_MAX], e[64];
	unsigned long long dd = 0, dp = 0;

	sscanf((char *)s->msg, "complete demand=%llu pushed=%llu", &dd, &dp);
	if (step(CONTROL_RELEASE, 0, s->name, "-", NULL, last, sizeof last))
		fprintf(
		    stderr,
		    "capsule node: migrate: %s: cannot end the frozen copy here: %s\n",
		    s->name, last);
	if (stream_send(&s->c.tx, "end", 3, 1, e, sizeof e)) {
		snprintf(
		    line, sizeof line,
		    "error: %s: ended here, but the end did not reach %s (%s): it waits "
		    "there paused; `capsule resume --node SOCK %s` on %s starts it",
		    s->name, s->to, e, s->name, s->to);
		fn(line, arg);
		return;
	}
	migrate_phase("done");
	snprintf(
	    line, sizeof line,
	    "ok %s migrated to %s (post-copy): total %.0f ms, paused %.2f ms, pages on "
	    "demand %llu, pages pushed %llu (%llu zero, not carried), there %llu+%llu, "
	    "bytes %llu, %llu bytes encrypted",
	    s->name, s->to, now_ms() - t0, paused, (unsigned long long)s->demand,
	    (unsigned long long)s->pushed, (unsigned long long)s->zero, dd, dp,
	    (unsigned long long)s->c.tx.plain,
	    (unsigned long long)(s->c.tx.wire + s->c.rx.wire));
	fn(line, arg);
}

/* Steps 2 to 5. */
static void postcopy_run(struct psrc *s, double t0, control_line_fn fn, void *arg)
{
	char head[64], line[3 * CONTROL_LINE_MAX];
	uint64_t end = s->start + s->deadline_ms + MIGRATE_GRACE_MS;
	double tp, paused;
	int rc, early;

	snprintf(head, sizeof head, POSTCOPY_HEADER "%d", s->deadline_ms);
	postcopy_progress(s, "checkpointing the running target");
	if (stream_send(&s->c.tx, head, strlen(head), 0, s->err, sizeof s->err) ||
	    send_preskel(s, (int)(end - transport_now_ms()))) {
		snprintf(line, sizeof line, "error: %s: %s: %s (the target runs on here)",
			 s->name, s->to, s->err);
		fn(line, arg);
		return;
	}
	wide_send_buffer(s->c.fd);
	/* from here the pause's hand-offs: this thread's wake-ups (the
	 * freeze's answer, "started") preempt busier threads (transport/
	 * prompt.c); serving the pages after takes the default slice back */
	transport_prompt_thread(1);
	tp = now_ms();
	postcopy_progress(s, "pausing it, sending its state (not its pages)");
	rc = freeze_and_send(s);
	if (rc) /* this is the node's control thread */
		transport_prompt_thread(0);
	if (rc < 0) {
		fn(s->err, arg); /* the monitor resumed it, or there is none */
		return;
	}
	if (rc)
		return resume_here(s, 0, s->err, fn, arg);
	snprintf(line, sizeof line, "waiting for %.128s to restore it", s->to);
	postcopy_progress(s, line);
	/* from here a lost destination may have started it: resumed here
	 * only once its copy has surely stopped (resume_here) */
	rc = postcopy_answer(s, (int)(end - transport_now_ms()));
	transport_prompt_thread(0);
	if (rc)
		return resume_here(s, 1, s->err, fn, arg);
	if (strncmp((char *)s->msg, "started ", 8)) { /* it never ran there */
		snprintf(s->err, sizeof s->err, "not started there: %.200s",
			 (char *)s->msg);
		return resume_here(s, s->c.rx.final ? 0 : 1, s->err, fn, arg);
	}
	paused = now_ms() - tp;
	/* read after the pause, unless a want came before "started" */
	early = s->fin != NULL;
	if (postcopy_read_final(s))
		return resume_here(s, 1, s->err, fn, arg);
	fprintf(stderr,
		"capsule node: migration of %s (post-copy): paused %.2f ms: freeze "
		"%.2f, the restore's %llu pages sent %.2f, the skeleton sent %.2f%s, "
		"the destination's restore and start %.2f; final.img read %.2f (%s)\n",
		s->name, paused, s->t_frozen - tp, (unsigned long long)s->eager,
		s->t_pages - s->t_frozen, s->t_sent - s->t_pages,
		s->sent_at ? " (from the node's thread)" : "", tp + paused - s->t_sent,
		s->read_ms, early ? "for a want, in the pause" : "after the pause");
	migrate_phase("postcopy");
	snprintf(line, sizeof line, "it runs at %.128s; sending its pages", s->to);
	postcopy_progress(s, line);
	s->total = 0;
	for (unsigned k = 0; k < s->nds; k++)
		s->total += s->ds[k].pages;
	postcopy_progress(s, NULL);
	if (postcopy_serve(s))
		return resume_here(s, 1, s->err, fn, arg);
	finish(s, t0, paused, fn, arg);
}

void migrate_postcopy_send(const struct transport_key *key, const char *name,
			   const char *to, int deadline_ms, control_line_fn fn, void *arg)
{
	struct psrc *s = calloc(1, sizeof *s);
	double t0 = now_ms();
	char why[CONTROL_LINE_MAX + TRANSPORT_ERR_MAX + 128];
	int fd;

	if (!s || !key || !(s->msg = malloc(TRANSPORT_MSG_MAX + 1))) {
		snprintf(
		    why, sizeof why,
		    s && !key
			? "error: %s: this node has no key (start it with --key FILE)"
			: "error: %s: out of memory",
		    name);
		fn(why, arg);
		free(s);
		return;
	}
	s->name = name;
	s->to = to;
	s->final_fd = -1;
	s->deadline_ms = deadline_ms;
	s->fn = fn;
	s->fn_arg = arg;
	migrate_phase("handshake");
	fd = address_connect(to, deadline_ms, s->err, sizeof s->err);
	if (fd < 0 || handshake_client(fd, key, &s->c, s->err, sizeof s->err)) {
		snprintf(why, sizeof why, "error: %s: %s: %s (the target runs on here)",
			 name, to, s->err);
		fn(why, arg);
		if (fd >= 0)
			close(fd);
	} else {
		s->start = transport_now_ms();
		if (migrate_spool_dir(s->dir, sizeof s->dir)) {
			snprintf(why, sizeof why, "error: %s: no spool directory %s: %s",
				 name, s->dir, strerror(errno));
			fn(why, arg);
		} else {
			postcopy_run(s, t0, fn, arg);
			migrate_spool_remove(s->dir);
		}
		transport_close(&s->c);
	}
	if (s->final_fd >= 0)
		close(s->final_fd);
	free(s->sent);
	frozen_mem_put(s->fm);
	if (s->fin)
		image_model_free(s->fin);
	free(s->msg);
	free(s);
}
