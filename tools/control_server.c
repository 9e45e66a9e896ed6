/*
 * `capsule node CONFIG --control SOCK`: the node runs on the main thread
 * (node_boot with serve), a control thread serves the Unix socket SOCK,
 * a signal thread turns SIGINT/SIGTERM into a "stop" request to core.
 *
 * Protocol: one request line per connection --
 *     ps
 *     checkpoint NAME PATH
 *     restore PATH NAME
 * -- answered by lines, "progress: N%" while it runs, the last one
 * starting with "ok" or "error: ".  Requests are served one at a time;
 * each goes to a control endpoint (tools/control.c) whose component
 * does the work inside the node.  PATH is absolute: the node reads and
 * writes the image itself (same host).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "tools/control.h"
#include "tools/node.h"

#define CONTROL_LINE_MAX (CONTROL_PATH_MAX + 2 * CONTROL_NAME_MAX)

struct control_server {
	int lfd;     /* listening socket */
	int quit[2]; /* pipe: the node ended */
	atomic_int quitting;
	pthread_t sig_thread;
};

static void control_send(int fd, const char *line)
{
	size_t len = strlen(line);
	char buf[CONTROL_LINE_MAX + 2];

	if (len > CONTROL_LINE_MAX)
		len = CONTROL_LINE_MAX;
	memcpy(buf, line, len);
	buf[len++] = '\n';
	(void)!send(fd, buf, len, MSG_NOSIGNAL);
}

static void control_forward_line(const char *line, void *arg)
{
	control_send(*(int *)arg, line);
}

/* Read one line (without '\n') into buf; 0 or -1. */
static int control_read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;

	while (n + 1 < size) {
		ssize_t r = read(fd, buf + n, 1);
		if (r <= 0)
			return -1;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = 0;
	return n + 1 < size ? 0 : -1;
}

static void control_serve(int fd)
{
	char line[CONTROL_LINE_MAX], err[CONTROL_LINE_MAX];
	struct control_request req;
	const char *op;
	int rc;

	if (control_read_line(fd, line, sizeof(line))) {
		control_send(fd, "error: request line missing or too long");
		return;
	}
	if (control_parse(line, &req, err, sizeof(err))) {
		control_send(fd, err);
		return;
	}
	op = req.op == CONTROL_PS	    ? "ps"
	     : req.op == CONTROL_CHECKPOINT ? "checkpoint"
					    : "restore";
	rc = control_call(&req, control_forward_line, &fd);
	if (!rc)
		return;
	if (rc == -ENOENT && req.op == CONTROL_PS)
		snprintf(err, sizeof(err),
			 "error: core: no control endpoint (node starting?)");
	else if (rc == -ENOENT)
		snprintf(err, sizeof(err), "error: %s: not under a monitor", req.name);
	else if (rc == -EOPNOTSUPP)
		snprintf(err, sizeof(err), "error: %s: %s not supported", req.name, op);
	else if (rc == -EBUSY)
		snprintf(err, sizeof(err), "error: %s: busy with another request",
			 req.name);
	else if (rc == -ESHUTDOWN)
		snprintf(err, sizeof(err), "error: %s: gone (the node stopped)",
			 req.name);
	else
		snprintf(err, sizeof(err), "error: %s: cannot reach it (%s)", req.name,
			 strerror(-rc));
	control_send(fd, err);
}

static void *control_thread(void *arg)
{
	struct control_server *srv = arg;
	struct pollfd p[2] = {{.fd = srv->lfd, .events = POLLIN},
			      {.fd = srv->quit[0], .events = POLLIN}};
	struct timeval tv = {.tv_sec = 5};

	while (!atomic_load(&srv->quitting)) {
		int fd;
		if (poll(p, 2, -1) < 0 || (p[1].revents & POLLIN))
			continue; /* EINTR, or quitting: the loop condition decides */
		fd = accept4(srv->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		control_serve(fd);
		close(fd);
	}
	return NULL;
}

/* SIGINT/SIGTERM: ask core to stop the node (retried while core is busy
 * or not registered yet); the main thread's pthread_kill ends it. */
static void *control_signal_thread(void *arg)
{
	struct control_server *srv = arg;
	struct control_request stop = {.op = CONTROL_STOP, .name = "core"};
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	while (!sigwait(&set, &sig) && !atomic_load(&srv->quitting)) {
		while (!atomic_load(&srv->quitting) && control_call(&stop, NULL, NULL))
			usleep(10000);
	}
	return NULL;
}

/* Bind SOCK: a stale socket (nobody accepting) is removed; a live one
 * or a non-socket file is refused.  The fd, or -1 after one line on
 * stderr. */
static int control_listen(const char *sock)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	if (strlen(sock) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "capsule node: %s: socket path too long\n", sock);
		return -1;
	}
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto err_errno;
	if (!lstat(sock, &st)) {
		if (!S_ISSOCK(st.st_mode)) {
			fprintf(stderr, "capsule node: %s: exists and is not a socket\n",
				sock);
			goto err;
		}
		if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
			fprintf(stderr, "capsule node: %s: another node is live on it\n",
				sock);
			goto err;
		}
		close(fd);
		unlink(sock);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			goto err_errno;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 8))
		goto err_errno;
	return fd;
err_errno:
	fprintf(stderr, "capsule node: %s: %s\n", sock, strerror(errno));
err:
	if (fd >= 0)
		close(fd);
	return -1;
}

static int control_node_main(const char *config, const char *sock, const char **rom_dirs,
			     int nrom)
{
	struct control_server srv = {.lfd = -1, .quit = {-1, -1}};
	pthread_t ctl;
	sigset_t set, old;
	int code;

	srv.lfd = control_listen(sock);
	if (srv.lfd < 0)
		return 2;
	if (pipe2(srv.quit, O_CLOEXEC)) {
		fprintf(stderr, "capsule node: %s: %s\n", sock, strerror(errno));
		close(srv.lfd);
		unlink(sock);
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	if (pthread_create(&ctl, NULL, control_thread, &srv)) {
		fprintf(stderr, "capsule node: %s: cannot start the control thread\n",
			sock);
		code = 2;
		goto out;
	}
	if (pthread_create(&srv.sig_thread, NULL, control_signal_thread, &srv)) {
		fprintf(stderr, "capsule node: %s: cannot start the signal thread\n",
			sock);
		atomic_store(&srv.quitting, 1);
		(void)!write(srv.quit[1], "q", 1);
		pthread_join(ctl, NULL);
		code = 2;
		goto out;
	}
	code = node_boot(config, rom_dirs, nrom, 1);
	atomic_store(&srv.quitting, 1);
	control_reset();
	(void)!write(srv.quit[1], "q", 1);
	pthread_kill(srv.sig_thread, SIGTERM);
	pthread_join(ctl, NULL);
	pthread_join(srv.sig_thread, NULL);
out:
	close(srv.lfd);
	close(srv.quit[0]);
	close(srv.quit[1]);
	unlink(sock);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return code;
}

#define CONTROL_ROM_DIRS 8

int control_node_cli(int argc, char **argv)
{
	const char *rom[CONTROL_ROM_DIRS], *config = NULL, *sock = NULL;
	int nrom = 0;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--rom") && i + 1 < argc &&
		    nrom < CONTROL_ROM_DIRS) {
			rom[nrom++] = argv[++i];
		} else if (!strcmp(argv[i], "--control") && i + 1 < argc) {
			sock = argv[++i];
		} else if (argv[i][0] == '-' || config) {
			fprintf(stderr, "capsule node: unexpected argument '%s'\n",
				argv[i]);
			config = sock = NULL;
			break;
		} else {
			config = argv[i];
		}
	}
	if (!config || !sock) {
		fprintf(stderr,
			"usage: capsule node [--rom DIR]... CONFIG --control SOCK\n");
		return 2;
	}
	return control_node_main(config, sock, rom, nrom);
}
