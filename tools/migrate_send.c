/*
 * The source of a migration (pre-copy with a commit), on the control
 * thread of `capsule node --key FILE` (docs/migration.md):
 *
 *   1. handshake: a wrong key or an unreachable peer is refused before
 *      the target is touched;
 *   2. round-N: checkpoint the running target into round-N.img (round 1
 *      full, then the pages written since the round before) and send it,
 *      until a round is small, the rounds or half the deadline are used
 *      up, or the rounds stop shrinking;
 *   3. final: freeze (the target stays paused here) into final.img, the
 *      pages written since the last round, and send it;
 *   4. wait for "ready" (restored, verified, paused there);
 *   5. commit: send "commit", end the target here (frozen since 3,
 *      never resumed after the commit went out) while the destination
 *      starts it, wait for "ok ... started".  Anything else before 5 (a
 *      refusal, a cut connection, no answer in time): send "abort" if
 *      we still can and resume the target here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "config/test_env.h"
#include "image/image.h"
#include "tools/migrate.h"
#include "tools/migrate_feed.h"
#include "tools/migrate_group.h"

struct mig {
	const char *name, *to;
	int deadline_ms, rounds, forced;
	uint64_t start;
	char dir[256];
	struct transport_conn c;
	uint64_t pages[MIGRATE_ROUNDS + 1], bytes[MIGRATE_ROUNDS + 1];
	atomic_int cancel;  /* the client's Ctrl-C (migrate_cancel) */
	control_line_fn fn; /* the client's lines: progress */
	void *fn_arg;
	/* the pause's steps (ms): frozen, final.img sent, "ready" read,
	 * "commit" sent, the target ended here (logged with the figures) */
	double t_frozen, t_sent, t_ready, t_committed, t_released;
	/* a round's steps (ms): taken and sent (the monitor's checkpoint, its
	 * bytes sent as they were written; wall and the sending thread's CPU:
	 * read, encrypt, write), acknowledged */
	double r_take, r_send, r_send_cpu, r_ack;
	double t_first; /* the first bytes of the image came out of the FIFO */
	double t_step;	/* the monitor's step was asked for */
	char err[TRANSPORT_ERR_MAX + CONTROL_LINE_MAX];
};

static double clock_ms(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double now_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

/* The monitor's byte meter of the image it writes (the client's
 * progress line): the bytes it wrote, which the FIFO holds to what was
 * sent. */
static void step_line(const char *line, void *arg)
{
	const struct mig *m = arg;

	if (m && !strncmp(line, "progress: bytes ", 16))
		m->fn(line, m->fn_arg);
}

/* One step at the target's monitor (its progress to m's client, if m);
 * 0 if it answered "ok", else -1 with its answer in last. */
static int migrate_step(enum control_op op, const char *name, const char *path,
			const char *parent, char *last, size_t size, struct mig *m)
{
	/* a round: a spool file (no fsync, the node's priority) */
	struct control_request req = {
	    .op = op, .flags = op == CONTROL_CHECKPOINT ? CONTROL_F_SPOOL : 0};

	snprintf(req.name, sizeof req.name, "%s", name);
	snprintf(req.path, sizeof req.path, "%s", path);
	snprintf(req.parent, sizeof req.parent, "%s", parent ? parent : "");
	return control_call_final_lines(&req, last, size, step_line, m);
}

/* Right before the freeze: the monitor reads what the freeze will
 * compare (the pages written since the last round and that round's
 * copies of them) into the caches, the target running (CONTROL_F_WARM).
 * The freeze then finds them there instead of in memory: 655 pages and
 * their bases were some 0.3 ms of its writer's 1 ms of CPU.  Best
 * effort: a monitor that cannot answers, and the freeze goes on. */
static void warm(const struct mig *m)
{
	struct control_request req = {.op = CONTROL_FREEZE, .flags = CONTROL_F_WARM};
	char last[CONTROL_LINE_MAX];

	snprintf(req.name, sizeof req.name, "%s", m->name);
	snprintf(req.path, sizeof req.path, "-");
	(void)control_call_final_lines(&req, last, sizeof last, NULL, NULL);
}

/* Cancelled by the client: 1 with m->err saying so. */
static int cancelled(struct mig *m)
{
	if (!atomic_load(&m->cancel))
		return 0;
	snprintf(m->err, sizeof m->err, "migration cancelled");
	return 1;
}

/* "progress: PHASE" when a phase begins (the bytes of an image are the
 * monitor's meter: step_line). */
static void progress(struct mig *m, const char *phase)
{
	char line[96];

	snprintf(line, sizeof line, "progress: %.80s", phase);
	m->fn(line, m->fn_arg);
}

static int answer(struct mig *m, char *buf);

/* After a round: wait for the destination's "ack FILE" (it has the
 * round and built it into its copy), by the deadline.  0, or -1 with
 * m->err: no ack in time, a cut stream, a refusal or another message. */
static int await_ack(struct mig *m, const char *file)
{
	char *ans = malloc(TRANSPORT_MSG_MAX + 1), line[160];
	int rc = -1;

	snprintf(line, sizeof line, "waiting for %.100s to build %s", m->to, file);
	progress(m, line);
	snprintf(line, sizeof line, "ack %s", file);
	if (!ans) {
		snprintf(m->err, sizeof m->err, "out of memory");
	} else if (answer(m, ans)) {
		snprintf(ans, TRANSPORT_MSG_MAX, "%s", m->err);
		snprintf(m->err, sizeof m->err, "%s was not acknowledged: %.200s", file,
			 ans);
	} else if (!strncmp(ans, "error: ", 7)) {
		snprintf(m->err, sizeof m->err, "refused %s: %.200s", file, ans + 7);
	} else if (strcmp(ans, line) || m->c.rx.final) {
		snprintf(m->err, sizeof m->err,
			 "'%.60s' instead of the acknowledgement of %s", ans, file);
	} else {
		rc = 0;
	}
	free(ans);
	return rc;
}

/* The send of file failed: did the destination say why before it closed
 * (a peer of another protocol version: "not a migration request")?  1
 * with m->err saying so, else 0. */
static int refused(struct mig *m, const char *file)
{
	char *ans = malloc(TRANSPORT_MSG_MAX + 1), why[64];
	size_t len;
	int rc = 0;

	address_set_timeout(m->c.fd, 1000);
	if (ans && !stream_recv(&m->c.rx, ans, &len, why, sizeof why)) {
		ans[len] = 0;
		if ((rc = !strncmp(ans, "error: ", 7)))
			snprintf(m->err, sizeof m->err, "refused %s: %.200s", file,
				 ans + 7);
	}
	free(ans);
	return rc;
}

/* Take image `file` (parent: the one before, or none) with op into the
 * FIFO of that name while feed_run sends it; its figures into slot k.
 * 0, or -1 with m->err (*taken: the monitor's step succeeded). */
static int take_and_send(struct mig *m, enum control_op op, const char *file,
			 const char *parent, int k, int *taken)
{
	struct feed f = {
	    .tx = &m->c.tx, .cancel = &m->cancel, .rc = 0, .final = op == CONTROL_FREEZE};
	char path[512], ppath[512], last[CONTROL_LINE_MAX];
	struct image_stats st;
	double t0 = now_ms();
	pthread_t t;
	int rc;

	*taken = 0;
	if (cancelled(m))
		return -1;
	snprintf(last, sizeof last, "taking and sending %s", file);
	progress(m, last);
	snprintf(path, sizeof path, "%s/%s", m->dir, file);
	snprintf(ppath, sizeof ppath, "%s/%s", m->dir, parent ? parent : "");
	snprintf(f.head, sizeof f.head, "image %s stream", file);
	unlink(path);
	if (mkfifo(path, 0600) ||
	    (f.fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
		snprintf(m->err, sizeof m->err, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* room for a final image of a few MB: the monitor's writer seldom
	 * waits for this thread to be scheduled (the default 64 KiB made
	 * it hand over some 40 times for 2.7 MB); best effort */
	(void)fcntl(f.fd, F_SETPIPE_SZ, MIGRATE_FIFO_BYTES);
	if (pthread_create(&t, NULL, feed_run, &f)) {
		snprintf(m->err, sizeof m->err, "no thread to send %s", path);
		close(f.fd);
		return -1;
	}
	m->t_step = now_ms(); /* the FIFO and its reader are ready before */
	rc = migrate_step(op, m->name, path, parent ? ppath : NULL, last, sizeof last,
			  op == CONTROL_FREEZE ? NULL : m);
	m->t_frozen = now_ms();
	atomic_store(&f.stop, 1); /* answered: the writer is done (or never came) */
	pthread_join(t, NULL);
	close(f.fd);
	if (rc) {
		if (!cancelled(m)) /* else the monitor's step was cancelled too */
			snprintf(m->err, sizeof m->err, "%s", last);
		return -1;
	}
	*taken = 1;
	if (f.rc && refused(m, file))
		return -1;
	if (f.rc || !f.eof || f.bytes < sizeof st) {
		snprintf(m->err, sizeof m->err, "%s: %s", file,
			 f.rc ? f.err : "the monitor's image ended early");
		return -1;
	}
	memcpy(&st, f.tail, sizeof st); /* the stats record that ends it */
	m->pages[k] = st.pages_written;
	m->bytes[k] = f.bytes;
	m->t_sent = now_ms();
	m->t_first = f.t_first;
	m->r_take = m->t_frozen - t0;
	m->r_send = m->t_sent - t0;
	m->r_send_cpu = f.cpu;
	if (op == CONTROL_FREEZE)
		return 0;
	if (await_ack(m, file))
		return -1;
	m->r_ack = now_ms() - m->t_sent;
	fprintf(stderr,
		"capsule node: migration of %s: %s: taken %.1f ms, sent with it (first "
		"bytes after %.1f ms, cpu %.1f ms), acknowledged %.1f ms after\n",
		m->name, file, m->r_take, m->t_first - t0, m->r_send_cpu, m->r_ack);
	return 0;
}

/* Rounds while the target runs.  0, or -1 with m->err (it runs on). */
static int precopy(struct mig *m)
{
	char file[32], prev[32];
	int taken;

	for (int r = 1; r <= MIGRATE_ROUNDS; r++) {
		snprintf(file, sizeof file, "round-%d.img", r);
		migrate_phase("round-%d", r);
		if (take_and_send(m, CONTROL_CHECKPOINT, file, r > 1 ? prev : NULL, r - 1,
				  &taken))
			return -1;
		m->rounds = r;
		snprintf(prev, sizeof prev, "%s", file);
		if (m->forced) { /* the test hook: exactly this many rounds */
			if (r == m->forced)
				return 0;
			continue;
		}
		if (m->pages[r - 1] <= MIGRATE_SMALL_PAGES ||
		    transport_now_ms() - m->start >=
			(uint64_t)m->deadline_ms * MIGRATE_ROUND_SHARE / 100 ||
		    (r > 1 && m->pages[r - 1] >= m->pages[r - 2]))
			return 0;
	}
	return 0;
}

/* Receive one message of the server into buf (room for
 * TRANSPORT_MSG_MAX + 1), NUL-ended, by the deadline.  0 or -1. */
static int answer(struct mig *m, char *buf)
{
	uint64_t now = transport_now_ms(),
		 end = m->start + m->deadline_ms + MIGRATE_GRACE_MS;
	char why[TRANSPORT_ERR_MAX / 2];
	size_t len;

	if (now >= end) {
		snprintf(m->err, sizeof m->err, "no answer in time");
		return -1;
	}
	address_set_timeout(m->c.fd, (int)(end - now));
	if (stream_recv(&m->c.rx, buf, &len, why, sizeof why)) {
		snprintf(m->err, sizeof m->err, "no answer (%s)", why);
		return -1;
	}
	buf[len] = 0;
	return 0;
}

/* Before the commit: tell the destination (if we can), resume here. */
static void give_up(struct mig *m, const char *why, control_line_fn fn, void *arg)
{
	char last[CONTROL_LINE_MAX], line[3 * CONTROL_LINE_MAX], e[64];

	stream_send(&m->c.tx, "abort", 5, 1, e, sizeof e);
	if (migrate_step(CONTROL_THAW, m->name, "-", NULL, last, sizeof last, NULL))
		snprintf(line, sizeof line, "%s; and it could not be resumed here: %s",
			 why, last);
	else
		snprintf(line, sizeof line, "%s; resumed here", why);
	fn(line, arg);
}

/* "rounds R (pages a+b, bytes a+b), final P pages B bytes" */
static void figures(const struct mig *m, char *out, size_t size)
{
	size_t n = (size_t)snprintf(out, size, "rounds %d (pages", m->rounds);

	for (int r = 0; r < m->rounds && n < size; r++)
		n += (size_t)snprintf(out + n, size - n, "%s%llu", r ? "+" : " ",
				      (unsigned long long)m->pages[r]);
	for (int r = 0; r < m->rounds && n < size; r++)
		n += (size_t)snprintf(out + n, size - n, "%s%llu", r ? "+" : ", bytes ",
				      (unsigned long long)m->bytes[r]);
	if (n < size)
		snprintf(out + n, size - n, "), final %llu pages %llu bytes",
			 (unsigned long long)m->pages[m->rounds],
			 (unsigned long long)m->bytes[m->rounds]);
}

/* After the commit: end the target here (it is frozen; nothing resumes
 * it any more).  last: "" or a progress line saying it could not be. */
static void release_here(struct mig *m, char *last, size_t size)
{
	char ans[CONTROL_LINE_MAX];

	last[0] = 0;
	if (migrate_step(CONTROL_RELEASE, m->name, "-", NULL, ans, sizeof ans, NULL))
		snprintf(last, size,
			 "%.80s could not be ended here (%.200s): it stays frozen "
			 "here, never resumed",
			 m->name, ans);
	m->t_released = now_ms();
}

/* The target is paused here and the destination said "ready": commit,
 * end it here, wait for the start.  The last line to fn. */
static void commit(struct mig *m, double t0, double tp, control_line_fn fn, void *arg)
{
	char last[CONTROL_LINE_MAX], line[4 * CONTROL_LINE_MAX], fig[512];
	char *ans = malloc(TRANSPORT_MSG_MAX + 1);
	uint64_t image = 0;
	double tstart; /* the destination's "started" read */
	int rc;

	migrate_phase("commit");
	if (test_env("CAPSULE_TEST_MIGRATE_DIE_AT_COMMIT")) /* loopback.sh: the source */
		_exit(9);   /* dies between the destination's ready and the commit */
	if (cancelled(m)) { /* the last moment it can be: nothing ended yet */
		snprintf(line, sizeof line,
			 "error: %s: %s: migration cancelled, %s drops "
			 "its copy",
			 m->name, m->to, m->to);
		give_up(m, line, fn, arg);
		free(ans);
		return;
	}
	if (!ans) {
		snprintf(line, sizeof line, "error: %s: out of memory", m->name);
		give_up(m, line, fn, arg);
		return;
	}
	/* commit first, then end it here once the destination started it:
	 * from the send on nothing here resumes it (it stays frozen until
	 * the release), so two copies never run, and the release is not
	 * part of the pause (one control round trip: 0.2-175 ms seen) */
	m->t_committed = now_ms();
	if (stream_send(&m->c.tx, "commit", 6, 1, m->err, sizeof m->err)) {
		/* it may have gone out in part: the destination may start it */
		release_here(m, last, sizeof last);
		snprintf(
		    line, sizeof line,
		    "error: %s: the commit did not reach %s (%s): ended here; it "
		    "waits there paused; `capsule resume --node SOCK %s` on %s starts "
		    "it%s%s",
		    m->name, m->to, m->err, m->name, m->to, last[0] ? "; " : "", last);
		fn(line, arg);
		free(ans);
		return;
	}
	/* ended here only once the start is answered: ending it frees its
	 * memory on the node's thread, which took one CPU of two while the
	 * destination's node thread ran the started copy on the other, and
	 * the threads that carry the answer waited for one (the pause was
	 * 5-10 ms instead of 3 in half the runs); frozen, it never runs
	 * here meanwhile */
	rc = answer(m, ans);
	tstart = now_ms();
	release_here(m, last, sizeof last);
	if (rc || strncmp(ans, "ok ", 3)) {
		snprintf(
		    line, sizeof line,
		    "error: %s: ended here and committed, but %s did not confirm the "
		    "start (%.200s): see its log%s%s",
		    m->name, m->to, m->err[0] ? m->err : ans, last[0] ? "; " : "", last);
		fn(line, arg);
		free(ans);
		return;
	}
	migrate_phase("done");
	for (int r = 0; r <= m->rounds; r++)
		image += m->bytes[r];
	figures(m, fig, sizeof fig);
	snprintf(
	    line, sizeof line,
	    "ok %s migrated to %s: total %.0f ms, paused %.2f ms, %s, image %llu "
	    "bytes, %llu bytes encrypted%s%s",
	    m->name, m->to, now_ms() - t0, tstart - tp, fig, (unsigned long long)image,
	    (unsigned long long)(m->c.tx.wire + m->c.rx.wire), last[0] ? "; " : "", last);
	fn(line, arg);
	fprintf(stderr,
		"capsule node: migration of %s: paused %.2f ms: freeze %.2f (its "
		"first bytes sent after %.2f), send final.img %.2f, the destination's "
		"restore until ready %.2f, commit until started %.2f (ended here "
		"after it, in %.2f)\n",
		m->name, tstart - tp, m->t_frozen - tp, m->t_first - tp,
		m->t_sent - m->t_frozen, m->t_ready - m->t_sent, tstart - m->t_committed,
		m->t_released - tstart);
	free(ans);
}

/* Rounds, the final copy, "ready": the rest is commit()'s. */
static void migrate_run(struct mig *m, double t0, control_line_fn fn, void *arg)
{
	char head[64], prev[32], line[3 * CONTROL_LINE_MAX], *ans;
	const char *v = test_env("CAPSULE_TEST_MIGRATE_ROUNDS");
	double tp;
	int taken;

	m->forced = v ? atoi(v) : 0;
	if (m->forced < 0 || m->forced > MIGRATE_ROUNDS)
		m->forced = 0;
	snprintf(head, sizeof head, MIGRATE_HEADER "%d", m->deadline_ms);
	if (stream_send(&m->c.tx, head, strlen(head), 0, m->err, sizeof m->err) ||
	    precopy(m)) {
		if (atomic_load(&m->cancel)) /* the destination drops what it has */
			stream_send(&m->c.tx, "abort", 5, 1, head, sizeof head);
		snprintf(line, sizeof line, "error: %s: %s: %s (the target runs on here)",
			 m->name, m->to, m->err);
		fn(line, arg);
		return;
	}
	migrate_phase("final");
	warm(m); /* before the freeze's request: the pause counts from it */
	/* from here on the stop's hand-offs: this thread's wake-ups preempt
	 * busier threads (transport/prompt.c); the rounds' long sends and
	 * receives keep the default slice */
	transport_prompt_thread(1);
	snprintf(prev, sizeof prev, "round-%d.img", m->rounds);
	if (take_and_send(m, CONTROL_FREEZE, "final.img", prev, m->rounds, &taken)) {
		snprintf(line, sizeof line, "error: %s: %s: %s", m->name, m->to, m->err);
		if (taken) {
			give_up(m, line, fn, arg);
		} else if (atomic_load(&m->cancel)) { /* not frozen: it runs on */
			stream_send(&m->c.tx, "abort", 5, 1, head, sizeof head);
			snprintf(line, sizeof line,
				 "error: %s: %s: migration cancelled (the target runs "
				 "on here)",
				 m->name, m->to);
			fn(line, arg);
		} else {
			fn(m->err, arg); /* the monitor resumed it, or there is none */
		}
		return;
	}
	tp = m->t_step; /* the pause: from the freeze's request */
	snprintf(line, sizeof line, "progress: waiting for %.128s to restore it", m->to);
	fn(line, arg);
	if (!(ans = malloc(TRANSPORT_MSG_MAX + 1)) || answer(m, ans)) {
		snprintf(line, sizeof line, "error: %s: %s: %s", m->name, m->to,
			 ans ? m->err : "out of memory");
		give_up(m, line, fn, arg);
	} else if (strncmp(ans, "ready ", 6)) {
		snprintf(line, sizeof line, "error: %s: %s refused it: %.200s", m->name,
			 m->to, strncmp(ans, "error: ", 7) ? ans : ans + 7);
		give_up(m, line, fn, arg);
	} else {
		m->t_ready = now_ms();
		commit(m, t0, tp, fn, arg);
	}
	free(ans);
}

void migrate_send(const struct transport_key *key, const char *name, const char *to,
		  int deadline_ms, control_line_fn fn, void *arg)
{
	struct mig *m = calloc(1, sizeof *m);
	double t0 = now_ms();
	char why[CONTROL_LINE_MAX + TRANSPORT_ERR_MAX + 128];
	int fd;

	if (m && key && migrate_group_is(name)) { /* tools/migrate_group_send.c */
		free(m);
		migrate_group_send(key, name, to, deadline_ms, fn, arg);
		return;
	}
	if (!m || !key) {
		snprintf(why, sizeof why,
			 m ? "error: %s: this node has no key (start it with --key FILE)"
			   : "error: %s: out of memory",
			 name);
		fn(why, arg);
		free(m);
		return;
	}
	*m = (struct mig){
	    .name = name, .to = to, .deadline_ms = deadline_ms, .fn = fn, .fn_arg = arg};
	if (migrate_cancel_enter(name, &m->cancel)) {
		snprintf(why, sizeof why, "error: %s: a migration of it runs already",
			 name);
		fn(why, arg);
		free(m);
		return;
	}
	migrate_phase("handshake");
	fd = address_connect(to, deadline_ms, m->err, sizeof m->err);
	if (fd < 0 || handshake_client(fd, key, &m->c, m->err, sizeof m->err)) {
		snprintf(why, sizeof why, "error: %s: %s: %s (the target runs on here)",
			 name, to, m->err);
		fn(why, arg);
		if (fd >= 0)
			close(fd);
		migrate_cancel_leave(&m->cancel);
		free(m);
		return;
	}
	m->start = transport_now_ms();
	if (migrate_spool_dir(m->dir, sizeof m->dir)) {
		snprintf(why, sizeof why, "error: %s: no spool directory %s: %s", name,
			 m->dir, strerror(errno));
		fn(why, arg);
	} else {
		migrate_run(m, t0, fn, arg);
		/* this is the node's control thread: the stop's short slice
		 * (migrate_run) ends with the migration */
		transport_prompt_thread(0);
		migrate_spool_remove(m->dir);
	}
	transport_close(&m->c);
	migrate_cancel_leave(&m->cancel);
	free(m);
}
