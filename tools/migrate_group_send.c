/*
 * The source of a group's migration (tools/migrate_group.h), on the
 * control thread of `capsule node --key FILE`, stop-and-copy:
 *
 *   1. handshake: a wrong key or an unreachable peer is refused before
 *      any member is touched;
 *   2. freeze: the group's monitor cuts the group and writes its group
 *      image (as `capsule checkpoint` of the group does); every member
 *      stays paused (monitor/group_migrate.c);
 *   3. send the image as "image group.img BYTES" and its bytes;
 *   4. wait for "ready" (every member restored, verified and paused
 *      there);
 *   5. commit: send "commit", end the members here (the group then
 *      waits for a restore), wait for "ok ... started".  Anything else
 *      before 5 (a refusal, a cut connection, no answer in time): send
 *      "abort" if we still can and resume the members here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "tools/migrate_group.h"

struct gmig {
	const char *name, *to;
	int deadline_ms;
	uint64_t start; /* transport_now_ms at the handshake's end */
	char dir[256];
	struct transport_conn c;
	atomic_int cancel;
	control_line_fn fn;
	void *arg;
	uint64_t bytes; /* the group image's */
	/* the pause's steps (ms): begun, frozen (the image written), sent,
	 * "ready" read, "commit" sent, the members ended here */
	double t_pause, t_frozen, t_sent, t_ready, t_committed, t_released;
	char err[TRANSPORT_ERR_MAX + CONTROL_LINE_MAX];
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One step at the group's monitor; 0 if it answered "ok", else -1 with
 * its answer in last. */
static int step(enum control_op op, const char *name, const char *path, char *last,
		size_t size)
{
	struct control_request req = {.op = op};

	snprintf(req.name, sizeof req.name, "%s", name);
	snprintf(req.path, sizeof req.path, "%s", path);
	return control_call_final(&req, last, size);
}

int migrate_group_is(const char *name)
{
	char last[CONTROL_LINE_MAX];

	return !step(CONTROL_STATUS, name, "-", last, sizeof last) &&
	       strstr(last, " group=") != NULL;
}

/* "image group.img BYTES", then the file's bytes as messages. */
static int send_image(struct gmig *m, const char *path)
{
	unsigned char *buf = malloc(TRANSPORT_MSG_MAX);
	char head[96];
	uint64_t left = 0;
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;

	if (!buf || fd < 0 || fstat(fd, &sb)) {
		snprintf(m->err, sizeof m->err, "%s: %s", path, strerror(errno));
		goto out;
	}
	m->bytes = left = (uint64_t)sb.st_size;
	snprintf(head, sizeof head, "image " MIGRATE_GROUP_FILE " %llu",
		 (unsigned long long)left);
	if (stream_send(&m->c.tx, head, strlen(head), 0, m->err, sizeof m->err))
		goto out;
	while (left) {
		size_t n = left < TRANSPORT_MSG_MAX ? (size_t)left : TRANSPORT_MSG_MAX;
		if (read(fd, buf, n) != (ssize_t)n) {
			snprintf(m->err, sizeof m->err, "%s: short read", path);
			goto out;
		}
		if (atomic_load(&m->cancel)) {
			snprintf(m->err, sizeof m->err, "migration cancelled");
			goto out;
		}
		if (stream_send(&m->c.tx, buf, n, 0, m->err, sizeof m->err))
			goto out;
		left -= n;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

/* One message of the destination into buf (room for TRANSPORT_MSG_MAX
 * + 1), NUL-ended, by the deadline.  0, or -1 with m->err. */
static int answer(struct gmig *m, char *buf)
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

/* Before the commit: tell the destination (if we can), resume the
 * members here.  The line to the client. */
static void give_up(struct gmig *m, const char *why)
{
	char last[CONTROL_LINE_MAX], line[3 * CONTROL_LINE_MAX], e[64];

	stream_send(&m->c.tx, "abort", 5, 1, e, sizeof e);
	if (step(CONTROL_THAW, m->name, "-", last, sizeof last))
		snprintf(line, sizeof line,
			 "%s; and its members could not be resumed here: %s", why, last);
	else
		snprintf(line, sizeof line, "%s; its members resumed here, unchanged",
			 why);
	m->fn(line, m->arg);
}

/* The members are paused here and the destination said "ready": commit,
 * end them here, wait for the start.  The last line to the client. */
static void commit(struct gmig *m, double t0, char *ans)
{
	char last[CONTROL_LINE_MAX], line[4 * CONTROL_LINE_MAX],
	    gone[2 * CONTROL_LINE_MAX];

	migrate_phase("commit");
	if (atomic_load(&m->cancel)) { /* the last moment it can be */
		snprintf(line, sizeof line, "error: %s: %s: migration cancelled", m->name,
			 m->to);
		give_up(m, line);
		return;
	}
	m->t_committed = now_ms();
	/* from the send on nothing here resumes them: two copies never run */
	stream_send(&m->c.tx, "commit", 6, 1, m->err, sizeof m->err);
	gone[0] = 0;
	if (step(CONTROL_RELEASE, m->name, "-", last, sizeof last))
		snprintf(gone, sizeof gone,
			 "; its members could not be ended here (%.200s): they stay "
			 "paused here, never resumed",
			 last);
	m->t_released = now_ms();
	if (m->err[0]) {
		/* it may have gone out in part: the destination may start them */
		snprintf(line, sizeof line,
			 "error: %s: ended here; the commit did not reach %s (%.200s): "
			 "its members wait there paused; `capsule resume --node SOCK %s` "
			 "on %s starts them%s",
			 m->name, m->to, m->err, m->name, m->to, gone);
	} else if (answer(m, ans) || strncmp(ans, "ok ", 3)) {
		snprintf(line, sizeof line,
			 "error: %s: ended here and committed, but %s did not confirm "
			 "the start (%.200s): see its log%s",
			 m->name, m->to, m->err[0] ? m->err : ans, gone);
	} else {
		migrate_phase("done");
		snprintf(line, sizeof line,
			 "ok %s migrated to %s: total %.0f ms, paused %.2f ms (freeze "
			 "%.2f, send %.2f, the destination's restore until ready %.2f, "
			 "commit until started %.2f), stop-and-copy, group image %llu "
			 "bytes, %llu bytes encrypted%s",
			 m->name, m->to, now_ms() - t0, now_ms() - m->t_pause,
			 m->t_frozen - m->t_pause, m->t_sent - m->t_frozen,
			 m->t_ready - m->t_sent, now_ms() - m->t_committed,
			 (unsigned long long)m->bytes,
			 (unsigned long long)(m->c.tx.wire + m->c.rx.wire), gone);
	}
	m->fn(line, m->arg);
}

/* The header, the freeze, the image, "ready": the rest is commit()'s. */
static void group_run(struct gmig *m, double t0)
{
	char head[64], path[512], line[3 * CONTROL_LINE_MAX], *ans;

	snprintf(head, sizeof head, MIGRATE_GROUP_HEADER "%d", m->deadline_ms);
	snprintf(path, sizeof path, "%s/" MIGRATE_GROUP_FILE, m->dir);
	if (stream_send(&m->c.tx, head, strlen(head), 0, m->err, sizeof m->err)) {
		snprintf(line, sizeof line, "error: %s: %s: %s (the members run on here)",
			 m->name, m->to, m->err);
		m->fn(line, m->arg);
		return;
	}
	migrate_phase("final");
	m->fn("progress: freezing the group", m->arg);
	m->t_pause = now_ms();
	if (step(CONTROL_FREEZE, m->name, path, m->err, sizeof m->err)) {
		/* the monitor resumed the members, or none was paused */
		stream_send(&m->c.tx, "abort", 5, 1, head, sizeof head);
		m->fn(m->err, m->arg);
		return;
	}
	m->t_frozen = now_ms();
	m->fn("progress: sending " MIGRATE_GROUP_FILE, m->arg);
	if (send_image(m, path)) {
		snprintf(line, sizeof line, "error: %s: %s: %s", m->name, m->to, m->err);
		give_up(m, line);
		return;
	}
	m->t_sent = now_ms();
	snprintf(line, sizeof line, "progress: waiting for %.128s to restore the group",
		 m->to);
	m->fn(line, m->arg);
	if (!(ans = malloc(TRANSPORT_MSG_MAX + 1)) || answer(m, ans)) {
		snprintf(line, sizeof line, "error: %s: %s: %s", m->name, m->to,
			 ans ? m->err : "out of memory");
		give_up(m, line);
	} else if (strncmp(ans, "ready ", 6)) {
		snprintf(line, sizeof line, "error: %s: %s refused it: %.300s", m->name,
			 m->to, strncmp(ans, "error: ", 7) ? ans : ans + 7);
		give_up(m, line);
	} else {
		m->t_ready = now_ms();
		m->err[0] = 0;
		commit(m, t0, ans);
	}
	free(ans);
}

void migrate_group_send(const struct transport_key *key, const char *name, const char *to,
			int deadline_ms, control_line_fn fn, void *arg)
{
	struct gmig *m = calloc(1, sizeof *m);
	char why[CONTROL_LINE_MAX + TRANSPORT_ERR_MAX + 128];
	double t0 = now_ms();
	int fd;

	if (!m) {
		snprintf(why, sizeof why, "error: %s: out of memory", name);
		fn(why, arg);
		return;
	}
	*m = (struct gmig){
	    .name = name, .to = to, .deadline_ms = deadline_ms, .fn = fn, .arg = arg};
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
		snprintf(why, sizeof why, "error: %s: %s: %s (the members run on here)",
			 name, to, m->err);
		fn(why, arg);
		if (fd >= 0)
			close(fd);
	} else {
		m->start = transport_now_ms();
		if (migrate_spool_dir(m->dir, sizeof m->dir)) {
			snprintf(why, sizeof why, "error: %s: no spool directory %s: %s",
				 name, m->dir, strerror(errno));
			fn(why, arg);
		} else {
			group_run(m, t0);
			migrate_spool_remove(m->dir);
		}
		transport_close(&m->c);
	}
	migrate_cancel_leave(&m->cancel);
	free(m);
}
