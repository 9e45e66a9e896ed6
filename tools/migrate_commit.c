/*
 * The destination's last step of a migration, after it answered
 * "ready": the source's "commit" starts the restored copy here (its
 * answer, "ok NAME started" or why not, goes back), its "abort" ends what
 * was restored, both by the deadline plus MIGRATE_GRACE_MS.  Shared by
 * the receivers of one target (tools/migrate_receive.c) and of a group
 * (tools/migrate_group_receive.c); each reports an abort or a missing
 * commit in its own words.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tools/migrate.h"

int migrate_dest_step(const char *name, const char *path, enum control_op op,
		      unsigned flags, char *last, size_t size)
{
	return migrate_dest_step_answer(name, path, op, flags, last, size, NULL);
}

/* On the node's thread, as its monitor answers (control_call_at): the
 * answer's message to the source if the step succeeded and a->ok (if
 * set) agrees. */
static void answer_at(const char *last, void *arg)
{
	struct migrate_answer *a = arg;

	if (a->prompt < 0) /* before the copy it started runs here */
		transport_prompt_thread(0);
	if (strncmp(last, "ok", 2) || (a->ok && !a->ok(a->ok_arg)))
		return;
	a->sent = stream_send(&a->c->tx, a->msg, strlen(a->msg), a->final, a->err,
			      sizeof a->err)
		      ? -1
		      : 1;
	if (a->sent > 0 && a->prompt > 0) {
		a->tid = transport_thread_id();
		transport_prompt_thread(1);
	}
}

int migrate_dest_step_answer(const char *name, const char *path, enum control_op op,
			     unsigned flags, char *last, size_t size,
			     struct migrate_answer *a)
{
	struct control_request req = {.op = op, .flags = flags};

	snprintf(req.name, sizeof req.name, "%s", name);
	snprintf(req.path, sizeof req.path, "%s", path);
	if (a)
		a->sent = 0;
	return control_call_final_at(&req, last, size, a ? answer_at : NULL, a);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int migrate_await_commit(struct transport_conn *c, int deadline_ms, char *buf,
			 const char *name, const char *path, char *err, size_t errlen)
{
	uint64_t end = c->start_ms + deadline_ms + MIGRATE_GRACE_MS,
		 now = transport_now_ms();
	char last[CONTROL_LINE_MAX], ok[CONTROL_LINE_MAX];
	size_t len = 0;

	address_set_timeout(c->fd, now < end ? (int)(end - now) : 1);
	if (!stream_recv(&c->rx, buf, &len, err, errlen)) {
		buf[len] = 0;
		snprintf(err, errlen, "'%.40s' instead of commit or abort", buf);
	}
	if (len == 6 && !memcmp(buf, "commit", 6) && c->rx.final) {
		struct migrate_answer a = {.c = c, .msg = ok, .final = 1, .prompt = -1};
		double t = now_ms();
		migrate_phase("commit");
		/* "started" goes back from the node's thread as the monitor
		 * answers, not after this thread is woken again (the stop's
		 * last hand-over here: 0.1-2 ms of waiting for a CPU) */
		snprintf(ok, sizeof ok, "ok %s started", name);
		if (migrate_dest_step_answer(name, path, CONTROL_THAW, 0, last,
					     sizeof last, &a))
			snprintf(ok, sizeof ok, "error: %s: cannot start it: %.200s",
				 name, last);
		/* the stop's last step here: the monitor's start of the copy,
		 * through the node's control thread */
		fprintf(stderr, "capsule node: migration from %s: %s (in %.2f ms%s)\n",
			c->peer, ok, now_ms() - t,
			a.sent > 0 ? ", answered from the node's thread" : "");
		if (!a.sent)
			stream_send(&c->tx, ok, strlen(ok), 1, err, errlen);
		migrate_phase("done");
		return 0;
	}
	if (len == 5 && !memcmp(buf, "abort", 5)) {
		migrate_dest_step(name, path, CONTROL_RELEASE, 0, last, sizeof last);
		return 1;
	}
	return -1;
}
