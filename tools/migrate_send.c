/*
 * The source of a migration (stop-and-copy), on the control thread of
 * `capsule node --key FILE`:
 *
 *   1. connect to the destination and shake hands: a wrong key or an
 *      unreachable peer is refused before the target is touched;
 *   2. freeze: the monitor checkpoints the target into a spool file and
 *      keeps it paused (CONTROL_FREEZE);
 *   3. send the request line and the spool file;
 *   4. wait for the answer, until the deadline plus a grace;
 *   5. "ok": release the target here (CONTROL_RELEASE), it runs at the
 *      destination; anything else (a refusal, a dropped connection, no
 *      answer in time): resume it here (CONTROL_THAW).
 *
 * The destination starts the target only if it can answer by its own
 * deadline, which begins before ours (docs/migration.md): so when we
 * give up waiting, it has not started it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tools/migrate.h"

int migrate_spool(char *path, size_t size)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	if (!dir || dir[0] != '/' || strpbrk(dir, " \t\n"))
		dir = "/tmp";
	snprintf(path, size, "%s/capsule-migrate-XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	return fd;
}

/* One step at the target's monitor; 0 if it answered "ok", else -1
 * with its answer in last. */
static int migrate_step(enum control_op op, const char *name, const char *path,
			char *last, size_t size)
{
	struct control_request req = {.op = op};

	snprintf(req.name, sizeof req.name, "%s", name);
	snprintf(req.path, sizeof req.path, "%s", path);
	return control_call_final(&req, last, size);
}

/* After a failure with the target frozen: resume it, tell why. */
static void migrate_thaw(const char *name, const char *path, const char *why,
			 control_line_fn fn, void *arg)
{
	char last[CONTROL_LINE_MAX], line[2 * CONTROL_LINE_MAX];

	if (migrate_step(CONTROL_THAW, name, path, last, sizeof last))
		snprintf(line, sizeof line, "%s; and it could not be resumed here: %s",
			 why, last);
	else
		snprintf(line, sizeof line, "%s; resumed here", why);
	fn(line, arg);
}

/* Send the request line and the image; wait for the answer into ans.
 * 0, or -1 with err. */
static int migrate_transfer(struct transport_conn *c, int spool, int deadline_ms,
			    uint64_t start, uint64_t *image, char *ans, size_t *alen,
			    char *err, size_t size)
{
	char head[64], why[TRANSPORT_ERR_MAX / 2];
	uint64_t now;

	snprintf(head, sizeof head, MIGRATE_HEADER "%d", deadline_ms);
	if (stream_send(&c->tx, head, strlen(head), 0, err, size))
		return -1;
	*image = c->tx.plain;
	if (stream_send_file(&c->tx, spool, err, size))
		return -1;
	*image = c->tx.plain - *image;
	now = transport_now_ms();
	if (now >= start + deadline_ms + MIGRATE_GRACE_MS) {
		snprintf(err, size, "no answer in time");
		return -1;
	}
	address_set_timeout(c->fd, (int)(start + deadline_ms + MIGRATE_GRACE_MS - now));
	if (stream_recv(&c->rx, ans, alen, why, sizeof why)) {
		snprintf(err, size, "no answer (%s)", why);
		return -1;
	}
	if (!c->rx.final) {
		snprintf(err, size, "the answer is not one message");
		return -1;
	}
	ans[*alen < TRANSPORT_MSG_MAX ? *alen : TRANSPORT_MSG_MAX - 1] = 0;
	return 0;
}

void migrate_send(const struct transport_key *key, const char *name, const char *to,
		  int deadline_ms, control_line_fn fn, void *arg)
{
	char err[TRANSPORT_ERR_MAX], path[256], last[CONTROL_LINE_MAX];
	char why[CONTROL_LINE_MAX + TRANSPORT_ERR_MAX + 128], *ans = NULL;
	uint64_t t0 = transport_now_ms(), tp, tr, start, image = 0;
	struct transport_conn c;
	size_t alen = 0;
	int fd, spool;

	if (!key) {
		snprintf(why, sizeof why,
			 "error: %s: this node has no key (start it with --key FILE)",
			 name);
		fn(why, arg);
		return;
	}
	migrate_phase("handshake");
	fd = address_connect(to, deadline_ms, err, sizeof err);
	if (fd < 0 || handshake_client(fd, key, &c, err, sizeof err)) {
		snprintf(why, sizeof why, "error: %s: %s: %s (the target runs on here)",
			 name, to, err);
		fn(why, arg);
		if (fd >= 0)
			close(fd);
		return;
	}
	start = transport_now_ms();
	spool = migrate_spool(path, sizeof path);
	if (spool < 0 || !(ans = malloc(TRANSPORT_MSG_MAX))) {
		snprintf(why, sizeof why, "error: %s: no spool file in %s: %s", name,
			 path, strerror(errno));
		fn(why, arg);
		goto out;
	}
	migrate_phase("final");
	tp = transport_now_ms();
	if (migrate_step(CONTROL_FREEZE, name, path, last, sizeof last)) {
		fn(last, arg); /* the monitor resumed it, or there is none */
		goto out;
	}
	if (migrate_transfer(&c, spool, deadline_ms, start, &image, ans, &alen, err,
			     sizeof err)) {
		snprintf(why, sizeof why, "error: %s: %s: %s", name, to, err);
		migrate_thaw(name, path, why, fn, arg);
		goto out;
	}
	if (strncmp(ans, "ok", 2)) {
		snprintf(why, sizeof why, "error: %s: %s refused it: %.200s", name, to,
			 strncmp(ans, "error: ", 7) ? ans : ans + 7);
		migrate_thaw(name, path, why, fn, arg);
		goto out;
	}
	tr = transport_now_ms();
	migrate_phase("commit");
	if (migrate_step(CONTROL_RELEASE, name, path, last, sizeof last)) {
		snprintf(why, sizeof why,
			 "error: %s: it runs at %s, but could not be ended here: %s",
			 name, to, last);
		fn(why, arg);
		goto out;
	}
	migrate_phase("done");
	snprintf(why, sizeof why,
		 "ok %s migrated to %s: total %llu ms, paused %llu ms, image %llu bytes, "
		 "%llu bytes encrypted",
		 name, to, (unsigned long long)(transport_now_ms() - t0),
		 (unsigned long long)(tr - tp), (unsigned long long)image,
		 (unsigned long long)(c.tx.wire + c.rx.wire));
	fn(why, arg);
out:
	if (spool >= 0) {
		close(spool);
		unlink(path);
	}
	free(ans);
	transport_close(&c);
}
