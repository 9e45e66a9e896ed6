/*
 * The control clients: `capsule ps|checkpoint|restore|migrate --node SOCK`
 * send one request line to a node's control socket (tools/control_server.c)
 * and print its answer.  Reply lines go to stdout; the final "ok ..." line
 * too (with the total time added), unless -q; an "error: ..." line goes to
 * stderr and makes the exit code 1.  "progress: PHASE" lines are shown on
 * stderr only when it is a terminal (and not -q), redrawn with the time
 * so far; with -v each is also printed on a line of its own, terminal or
 * not, as are "info: ..." lines.  Image paths are made absolute here: the node, another
 * process on this host, opens them itself.
 *
 * A checkpoint is written to a temporary name next to IMAGE, created here
 * (so a file the node could not write is named before any work), and
 * renamed to IMAGE when the node answered "ok": an existing IMAGE is only
 * replaced with --force.  Ctrl-C sends "cancel NAME" on a second
 * connection: the node stops the checkpoint, the target runs on, and the
 * temporary file is removed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "tools/cli.h"
#include "tools/control.h"

/* One request as the client sees it. */
struct client {
	const char *cmd, *sock, *name;
	int tty, quiet, verbose, failed, done, cancel;
	double t0;
	char phase[160]; /* the last progress line's text */
	/* the phase's byte meter ("progress: bytes DONE TOTAL"): the first
	 * phase's start (or the meter's) and its time give the rate */
	uint64_t bdone, btotal, bdone0;
	double t_meter0;
	control_line_fn fn; /* takes the reply lines instead of stdout */
	void *fn_arg;
	char final[CONTROL_LINE_MAX];
};

static volatile sig_atomic_t client_interrupted;

static void client_sigint(int sig)
{
	(void)sig;
	client_interrupted = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int client_connect(const char *cmd, const char *sock)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(sock) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "capsule %s: %s: socket path too long\n", cmd, sock);
		return -1;
	}
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && !connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return fd;
	fprintf(stderr,
		"capsule %s: %s: no node listening (%s; start one with capsule node "
		"--control %s)\n",
		cmd, sock, strerror(errno), sock);
	if (fd >= 0)
		close(fd);
	return -1;
}

#define MIB (1024.0 * 1024.0)

/* On a terminal (and not -q): the phase, its bytes done and their rate
 * when the node counts them, and the time so far, redrawn in place. */
static void client_progress(struct client *c)
{
	char bytes[96] = "";
	double dt = now_s() - c->t_meter0;

	if (!c->tty || c->quiet || !c->phase[0])
		return;
	if (c->btotal && dt > 0.05 && c->bdone > c->bdone0)
		snprintf(bytes, sizeof bytes, " %.1f of %.1f MiB, %.1f MiB/s,",
			 c->bdone / MIB, c->btotal / MIB,
			 (c->bdone - c->bdone0) / MIB / dt);
	else if (c->btotal)
		snprintf(bytes, sizeof bytes, " %.1f of %.1f MiB,", c->bdone / MIB,
			 c->btotal / MIB);
	fprintf(stderr, "\r\033[K%s %s: %s,%s %.1f s", c->cmd, c->name ? c->name : "",
		c->phase, bytes, now_s() - c->t0);
}

/* "progress: bytes DONE TOTAL": the meter of the phase shown. */
static void client_meter(struct client *c, const char *s)
{
	unsigned long long done, total;

	if (sscanf(s, "%llu %llu", &done, &total) != 2)
		return;
	if ((c->btotal && total != c->btotal) || done < c->bdone) {
		c->bdone0 = 0; /* a new meter in the same phase */
		c->t_meter0 = now_s();
	}
	c->bdone = done;
	c->btotal = total;
	client_progress(c);
}

/* Print one answer line; sets c->done on the last ("ok"/"error:"). */
static void client_show(struct client *c, const char *line)
{
	if (!strncmp(line, "progress: bytes ", 16)) {
		client_meter(c, line + 16);
		return;
	}
	if (!strncmp(line, "progress: ", 10)) {
		snprintf(c->phase, sizeof c->phase, "%.150s", line + 10);
		c->btotal = c->bdone = c->bdone0 = 0;
		c->t_meter0 = now_s();
		if (c->verbose)
			fprintf(stderr, "%s%s %s: %s (at %.2f s)\n",
				c->tty ? "\r\033[K" : "", c->cmd, c->name ? c->name : "",
				c->phase, now_s() - c->t0);
		client_progress(c);
		return;
	}
	if (c->tty && !c->quiet && c->phase[0])
		fprintf(stderr, "\r\033[K");
	if (!strncmp(line, "info: ", 6)) {
		if (c->verbose)
			fprintf(stderr, "%s\n", line + 6);
		return;
	}
	if (!strncmp(line, "error: ", 7) ||
	    (!strncmp(line, "ok", 2) && (line[2] == ' ' || !line[2]))) {
		snprintf(c->final, sizeof c->final, "%.*s", (int)sizeof c->final - 1,
			 line);
		c->failed = line[0] == 'e';
		c->done = 1;
		return;
	}
	if (c->fn)
		c->fn(line, c->fn_arg);
	else
		printf("%s\n", line);
}

/* "cancel NAME" on its own connection; the answer is not waited for
 * beyond a second (the request's own connection brings the outcome). */
static void client_cancel(struct client *c)
{
	char req[CONTROL_NAME_MAX + 16], ans[256];
	int fd = client_connect(c->cmd, c->sock);
	struct pollfd p = {.fd = fd, .events = POLLIN};

	c->cancel = 1;
	if (fd < 0)
		return;
	snprintf(req, sizeof req, "cancel %s\n", c->name);
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) > 0 && poll(&p, 1, 1000) > 0)
		(void)!read(fd, ans, sizeof ans);
	close(fd);
}

/* Read the answer on fd into c until its last line. */
static void client_read(struct client *c, int fd)
{
	char buf[CONTROL_LINE_MAX + 2];
	size_t n = 0;

	while (!c->done) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;
		char *nl;
		if (client_interrupted && !c->cancel && c->name)
			client_cancel(c);
		if (poll(&p, 1, 200) <= 0) {
			client_progress(c);
			continue;
		}
		r = read(fd, buf + n, sizeof buf - 1 - n);
		if (r <= 0)
			return;
		n += (size_t)r;
		buf[n] = 0;
		while ((nl = memchr(buf, '\n', n)) || n == sizeof buf - 1) {
			size_t len = nl ? (size_t)(nl - buf) : n;
			buf[len] = 0;
			client_show(c, buf);
			len += nl ? 1 : 0;
			memmove(buf, buf + len, n - len);
			n -= len;
			if (c->done)
				return;
		}
	}
}

/* Send request, read the answer into c: 0, or CLI_USAGE (printed). */
static int client_request(struct client *c, const char *request)
{
	char buf[CONTROL_PATH_MAX + 256];
	int fd = client_connect(c->cmd, c->sock);

	c->tty = isatty(2);
	c->t0 = now_s();
	if (fd < 0)
		return CLI_USAGE;
	snprintf(buf, sizeof(buf), "%s\n", request);
	if (send(fd, buf, strlen(buf), MSG_NOSIGNAL) < 0) {
		fprintf(stderr, "capsule %s: %s: %s\n", c->cmd, c->sock, strerror(errno));
		close(fd);
		return CLI_USAGE;
	}
	client_read(c, fd);
	close(fd);
	fflush(stdout);
	if (!c->done) {
		fprintf(stderr,
			"capsule %s: %s: the node closed the connection without an "
			"answer (see the node's log)\n",
			c->cmd, c->sock);
		return CLI_USAGE;
	}
	return 0;
}

/* The final line: errors to stderr, "ok" with the total time to stdout. */
static int client_finish(struct client *c)
{
	if (c->failed) {
		fprintf(stderr, "%s\n", c->final);
		return CLI_FAILED;
	}
	if (c->quiet || !strcmp(c->cmd, "ps"))
		return CLI_OK;
	if (strstr(c->final, " total ")) /* the node measured it (migrate) */
		printf("%s\n", c->final);
	else
		printf("%s%s total %.0f ms\n", c->final,
		       strchr(c->final, ':') ? "," : ":", (now_s() - c->t0) * 1000);
	return CLI_OK;
}

static void client_init(struct client *c, const struct cli_args *a, const char *name)
{
	memset(c, 0, sizeof *c);
	c->cmd = a->cmd->name;
	c->sock = cli_get(a, "--node");
	c->name = name;
	c->quiet = a->quiet;
	c->verbose = a->verbose;
}

/* Absolute path of a file that may not exist yet (its directory must). */
static int client_abs_path(const char *cmd, const char *path, int must_exist, char *out,
			   size_t size)
{
	char dir[PATH_MAX], base[PATH_MAX], real[PATH_MAX];

	if (must_exist) {
		if (!realpath(path, real)) {
			fprintf(stderr, "capsule %s: %s: %s\n", cmd, path,
				strerror(errno));
			return -1;
		}
		if (snprintf(out, size, "%s", real) >= (int)size)
			goto toolong;
		goto check;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	snprintf(base, sizeof(base), "%s", path);
	if (!realpath(dirname(dir), real)) {
		fprintf(stderr, "capsule %s: %s: its directory: %s\n", cmd, path,
			strerror(errno));
		return -1;
	}
	if (snprintf(out, size, "%s/%s", real, basename(base)) >= (int)size)
		goto toolong;
check:
	if (strpbrk(out, " \t\n")) {
		fprintf(stderr, "capsule %s: %s: paths with blanks are not supported\n",
			cmd, out);
		return -1;
	}
	return 0;
toolong:
	fprintf(stderr, "capsule %s: %s: path too long\n", cmd, path);
	return -1;
}

int control_lines(const char *cmd, const char *sock, const char *request,
		  control_line_fn fn, void *arg, char *final, size_t size)
{
	struct client c = {.cmd = cmd, .sock = sock, .quiet = 1, .fn = fn, .fn_arg = arg};
	int rc = client_request(&c, request);

	snprintf(final, size, "%s", c.final);
	return rc;
}

int control_ps_raw_cli(const struct cli_args *a)
{
	struct client c;
	int rc;

	client_init(&c, a, NULL);
	c.quiet = 1;
	if ((rc = client_request(&c, "ps")))
		return rc;
	return client_finish(&c);
}

/* A request Ctrl-C cancels (restore, migrate): the node's answer says
 * what was left; a cancelled one exits 130. */
static int client_cancellable(struct client *c, const char *req)
{
	struct sigaction sa = {.sa_handler = client_sigint}, old;
	int rc;

	sigaction(SIGINT, &sa, &old);
	rc = client_request(c, req);
	sigaction(SIGINT, &old, NULL);
	if (rc)
		return rc;
	if (c->cancel && c->failed) {
		fprintf(stderr, "%s\n", c->final);
		return CLI_CANCELLED;
	}
	return client_finish(c);
}

int control_restore_cli(const struct cli_args *a)
{
	char req[CONTROL_PATH_MAX + 256], path[CONTROL_PATH_MAX], name[CONTROL_NAME_MAX],
	    err[CONTROL_PATH_MAX + 64];
	struct client c;

	client_init(&c, a, a->pos[1]);
	if (client_abs_path(c.cmd, a->pos[0], 1, path, sizeof(path)))
		return CLI_USAGE;
	snprintf(req, sizeof(req), "restore %s%s%s%s",
		 cli_get(a, "--lazy") ? "--lazy " : "", path, a->pos[1] ? " " : "",
		 a->pos[1] ? a->pos[1] : "");
	/* Ctrl-C cancels at the monitor the image names (a file that names
	 * none is the node's to refuse) */
	if (!c.name && !control_image_target(path, name, err, sizeof err))
		c.name = name;
	return client_cancellable(&c, req);
}

/* `resume|discard NAME`: start or end a copy a migration left paused. */
int control_held_cli(const struct cli_args *a)
{
	char req[CONTROL_NAME_MAX + 16];
	struct client c;
	int rc;

	if (strlen(a->pos[0]) >= CONTROL_NAME_MAX)
		return cli_usage_error(a->cmd, "%s: not a component name", a->pos[0]);
	client_init(&c, a, a->pos[0]);
	snprintf(req, sizeof(req), "%s %s", a->cmd->name, a->pos[0]);
	if ((rc = client_request(&c, req)))
		return rc;
	return client_finish(&c);
}

/* `migrate NAME --to HOST:PORT [--timeout SECONDS]`: the node does it. */
int control_migrate_cli(const struct cli_args *a)
{
	const char *name = a->pos[0], *to = cli_get(a, "--to");
	const char *timeout = cli_get(a, "--timeout");
	char req[CONTROL_NAME_MAX + 256], *end;
	double s = timeout ? strtod(timeout, &end) : 30;
	struct client c;

	if (timeout && (*end || end == timeout || !(s >= 0.1 && s <= 3600)))
		return cli_usage_error(a->cmd,
				       "--timeout %s: not a number of seconds from 0.1 "
				       "to 3600",
				       timeout);
	if (strlen(name) >= CONTROL_NAME_MAX || strlen(to) > 128 || strpbrk(to, " \t\n"))
		return cli_usage_error(a->cmd, "%s: not a component name and HOST:PORT",
				       name);
	client_init(&c, a, name);
	snprintf(req, sizeof(req), "migrate %s %s %ld%s", name, to, (long)(s * 1000),
		 cli_get(a, "--postcopy") ? " postcopy" : "");
	return client_cancellable(&c, req);
}

/* Create a new temporary file next to out: its path into tmp. */
static int client_tmp_file(const char *cmd, const char *out, char *tmp, size_t size)
{
	char dir[PATH_MAX], base[PATH_MAX];
	int fd;

	snprintf(dir, sizeof dir, "%s", out);
	snprintf(base, sizeof base, "%s", out);
	if (snprintf(tmp, size, "%s/.%s.tmp-%ld", dirname(dir), basename(base),
		     (long)getpid()) >= (int)size) {
		fprintf(stderr, "capsule %s: %s: path too long\n", cmd, out);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr,
			"capsule %s: %s: cannot create a file there: %s (give -o a "
			"path in a directory you can write to)\n",
			cmd, out, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

/* The complete image at tmp becomes out (replacing it only if force). */
static int client_commit(const char *cmd, const char *tmp, const char *out, int force)
{
	int rc = force ? rename(tmp, out) : link(tmp, out);

	if (rc) {
		fprintf(stderr, "capsule %s: %s: %s%s\n", cmd, out, strerror(errno),
			errno == EEXIST ? " (it appeared meanwhile; --force replaces it)"
					: "");
		unlink(tmp);
		return -1;
	}
	if (!force)
		unlink(tmp);
	return 0;
}

int control_checkpoint_cli(const struct cli_args *a)
{
	char req[2 * CONTROL_PATH_MAX + 256], path[CONTROL_PATH_MAX],
	    tmp[CONTROL_PATH_MAX];
	char ppath[CONTROL_PATH_MAX] = "";
	const char *name = a->pos[0], *out = cli_get(a, "--output");
	const char *parent = cli_get(a, "--parent");
	struct sigaction sa = {.sa_handler = client_sigint}, old;
	int force = cli_get(a, "--force") != NULL, rc;
	struct client c;
	char *at;

	client_init(&c, a, name);
	if (cli_get(a, "--stop") && cli_get(a, "--leave-running"))
		return cli_usage_error(a->cmd, "--stop and --leave-running exclude "
					       "each other");
	if (client_abs_path(c.cmd, out, 0, path, sizeof(path)) ||
	    (parent && client_abs_path(c.cmd, parent, 1, ppath, sizeof(ppath))))
		return CLI_USAGE;
	if (!force && !access(path, F_OK)) {
		fprintf(stderr, "capsule checkpoint: %s exists (--force replaces it)\n",
			out);
		return CLI_FAILED;
	}
	sigaction(SIGINT, &sa, &old); /* before the file: a test waits for it */
	if (client_tmp_file(c.cmd, path, tmp, sizeof tmp)) {
		sigaction(SIGINT, &old, NULL);
		return CLI_FAILED;
	}
	/* the default: leave it running (docs/cr.md, "After a checkpoint") */
	snprintf(req, sizeof(req), "checkpoint %s %s%s%s%s", name, tmp,
		 ppath[0] ? " parent=" : "", ppath, cli_get(a, "--stop") ? " stop" : "");
	rc = client_request(&c, req);
	sigaction(SIGINT, &old, NULL);
	if (rc || c.failed || c.cancel) {
		unlink(tmp);
		if (c.cancel) {
			fprintf(stderr,
				"capsule checkpoint: cancelled: %s runs on, no image "
				"written\n",
				name);
			return CLI_CANCELLED;
		}
		return rc ? rc : client_finish(&c);
	}
	if (client_commit(c.cmd, tmp, path, force))
		return CLI_FAILED;
	/* the node named the temporary file: show the image's name */
	if ((at = strstr(c.final, tmp)) &&
	    strlen(c.final) - strlen(tmp) + strlen(path) < sizeof c.final) {
		char rest[CONTROL_LINE_MAX];
		snprintf(rest, sizeof rest, "%s", at + strlen(tmp));
		snprintf(at, sizeof c.final - (size_t)(at - c.final), "%s%s", path, rest);
	}
	return client_finish(&c);
}
