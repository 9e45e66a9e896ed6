/*
 * The control clients: `capsule ps|checkpoint|restore|migrate --node SOCK ...`
 * send one request line to a node's control socket (tools/control_server.c)
 * and print its answer.  Reply lines go to stdout; "progress: N%" lines
 * are shown on stderr only when it is a terminal; an "error: ..." line
 * goes to stderr and makes the exit code 1.  Image paths are made
 * absolute here: the node, another process, opens them itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "tools/control.h"

static int control_usage(const char *cmd)
{
	if (!strcmp(cmd, "ps"))
		fprintf(stderr, "usage: capsule ps --node SOCK\n");
	else if (!strcmp(cmd, "checkpoint"))
		fprintf(stderr, "usage: capsule checkpoint --node SOCK NAME -o IMAGE "
				"[--parent IMAGE] [--stop|--leave-running]\n");
	else if (!strcmp(cmd, "resume") || !strcmp(cmd, "discard"))
		fprintf(stderr, "usage: capsule %s --node SOCK NAME\n", cmd);
	else if (!strcmp(cmd, "migrate"))
		fprintf(stderr, "usage: capsule migrate --node SOCK NAME --to HOST:PORT "
				"[--timeout SECONDS]\n");
	else
		fprintf(stderr, "usage: capsule restore --node SOCK IMAGE [NAME]\n");
	return 2;
}

/* Absolute path of a file that may not exist yet (its directory must). */
static int control_abs_path(const char *cmd, const char *path, int must_exist, char *out,
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
		fprintf(stderr, "capsule %s: %s: directory: %s\n", cmd, path,
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

static int control_connect(const char *cmd, const char *sock)
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
	fprintf(stderr, "capsule %s: %s: no node listening (%s)\n", cmd, sock,
		strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Print one answer line; 1 if it was the last ("ok"/"error:"), with
 * *failed set for an error. */
static int control_show(const char *cmd, const char *line, int tty, int *failed)
{
	if (!strncmp(line, "progress: ", 10)) {
		if (tty)
			fprintf(stderr, "\r%s: %s", cmd, line + 10);
		return 0;
	}
	if (tty)
		fprintf(stderr, "\r\033[K");
	if (!strncmp(line, "error: ", 7)) {
		fprintf(stderr, "%s\n", line);
		*failed = 1;
		return 1;
	}
	if (!strncmp(line, "ok", 2) && (line[2] == ' ' || !line[2])) {
		if (strcmp(cmd, "ps"))
			printf("%s\n", line);
		return 1;
	}
	printf("%s\n", line);
	return 0;
}

/* Send request, print the answer; the exit code. */
static int control_request(const char *cmd, const char *sock, const char *request)
{
	char buf[CONTROL_PATH_MAX + 256];
	size_t n = 0;
	int fd = control_connect(cmd, sock), tty = isatty(2), failed = 0, done = 0;
	FILE *in;

	if (fd < 0)
		return 2;
	snprintf(buf, sizeof(buf), "%s\n", request);
	if (send(fd, buf, strlen(buf), MSG_NOSIGNAL) < 0 || !(in = fdopen(fd, "r"))) {
		fprintf(stderr, "capsule %s: %s: %s\n", cmd, sock, strerror(errno));
		close(fd);
		return 2;
	}
	while (!done && fgets(buf, sizeof(buf), in)) {
		n = strcspn(buf, "\n");
		buf[n] = 0;
		done = control_show(cmd, buf, tty, &failed);
	}
	fclose(in);
	fflush(stdout);
	if (!done) {
		fprintf(stderr,
			"capsule %s: %s: the node closed the connection without an "
			"answer\n",
			cmd, sock);
		return 2;
	}
	return failed;
}

/* `migrate NAME --to HOST:PORT [--timeout SECONDS]`: the node does it. */
static int control_migrate_cli(const char *sock, const char *name, const char *to,
			       const char *timeout)
{
	char req[CONTROL_NAME_MAX + 256], *end;
	double s = timeout ? strtod(timeout, &end) : 30;

	if (timeout && (*end || end == timeout || !(s >= 0.1 && s <= 3600))) {
		fprintf(stderr,
			"capsule migrate: --timeout %s: not a number of seconds "
			"from 0.1 to 3600\n",
			timeout);
		return 2;
	}
	if (strlen(name) >= CONTROL_NAME_MAX || strlen(to) > 128 ||
	    strpbrk(to, " \t\n")) {
		fprintf(stderr,
			"capsule migrate: %s: not a component name and HOST:PORT\n",
			name);
		return 2;
	}
	snprintf(req, sizeof(req), "migrate %s %s %ld", name, to, (long)(s * 1000));
	return control_request("migrate", sock, req);
}

int control_cli(const char *cmd, int argc, char **argv)
{
	const char *sock = NULL, *out = NULL, *pos[2] = {NULL, NULL};
	const char *to = NULL, *timeout = NULL, *parent = NULL;
	char req[2 * CONTROL_PATH_MAX + 256], path[CONTROL_PATH_MAX];
	char ppath[CONTROL_PATH_MAX] = "";
	int npos = 0, migrate = !strcmp(cmd, "migrate"), stop = -1;
	int ckpt = !strcmp(cmd, "checkpoint");

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--node") && i + 1 < argc) {
			sock = argv[++i];
		} else if (!strcmp(argv[i], "-o") && i + 1 < argc && !migrate) {
			out = argv[++i];
		} else if (!strcmp(argv[i], "--to") && i + 1 < argc && migrate) {
			to = argv[++i];
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc && migrate) {
			timeout = argv[++i];
		} else if (!strcmp(argv[i], "--parent") && i + 1 < argc && ckpt) {
			parent = argv[++i];
		} else if ((!strcmp(argv[i], "--stop") ||
			    !strcmp(argv[i], "--leave-running")) &&
			   ckpt && stop < 0) {
			stop = argv[i][2] == 's';
		} else if (argv[i][0] == '-' || npos == 2) {
			fprintf(stderr, "capsule %s: unexpected argument '%s'\n", cmd,
				argv[i]);
			return control_usage(cmd);
		} else {
			pos[npos++] = argv[i];
		}
	}
	if (!sock)
		return control_usage(cmd);
	if (migrate) {
		if (npos != 1 || !to)
			return control_usage(cmd);
		return control_migrate_cli(sock, pos[0], to, timeout);
	}
	if (!strcmp(cmd, "resume") || !strcmp(cmd, "discard")) {
		/* a target a migration left paused (docs/migration.md) */
		if (npos != 1 || out || strlen(pos[0]) >= CONTROL_NAME_MAX)
			return control_usage(cmd);
		snprintf(req, sizeof(req), "%s %s", cmd, pos[0]);
		return control_request(cmd, sock, req);
	}
	if (!strcmp(cmd, "ps")) {
		if (npos || out)
			return control_usage(cmd);
		return control_request(cmd, sock, "ps");
	}
	if (!strcmp(cmd, "checkpoint")) {
		if (npos != 1 || !out)
			return control_usage(cmd);
		if (control_abs_path(cmd, out, 0, path, sizeof(path)) ||
		    (parent && control_abs_path(cmd, parent, 1, ppath, sizeof(ppath))))
			return 2;
		/* the default: leave it running (docs/cr.md, "After a checkpoint") */
		snprintf(req, sizeof(req), "checkpoint %s %s%s%s%s", pos[0], path,
			 ppath[0] ? " parent=" : "", ppath, stop > 0 ? " stop" : "");
		return control_request(cmd, sock, req);
	}
	if (npos < 1 || out)
		return control_usage(cmd);
	if (control_abs_path(cmd, pos[0], 1, path, sizeof(path)))
		return 2;
	snprintf(req, sizeof(req), "restore %s%s%s", path, pos[1] ? " " : "",
		 pos[1] ? pos[1] : "");
	return control_request(cmd, sock, req);
}
