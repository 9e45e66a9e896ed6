/*
 * `capsule node CONFIG --control SOCK`: the node runs on the main thread
 * (node_boot with serve), a control thread serves the Unix socket SOCK,
 * a signal thread turns SIGINT/SIGTERM into a "stop" request to core.
 *
 * Protocol: one request line per connection --
 *     ps
 *     checkpoint NAME PATH
 *     restore PATH NAME
 *     migrate NAME HOST:PORT DEADLINE_MS   (tools/migrate_send.c)
 *     status NAME                          (a monitor: state and counts)
 *     cancel NAME                          (the request NAME is serving)
 * -- answered by lines, "progress: ..." while it runs, the last one
 * starting with "ok" or "error: ".  Each connection is served by a
 * thread of its own (at most CONTROL_CONNS at once), so that `ps` and
 * `cancel` are answered while a checkpoint, restore or migration runs;
 * each request goes to a control endpoint (tools/control.c) whose
 * component does the work inside the node (one request per endpoint at
 * a time: a second one is told the endpoint is busy).  PATH is absolute: the node reads
 * and writes the image itself (same host).  With --listen HOST:PORT and
 * --key FILE a listener thread takes migrations from other nodes
 * (tools/migrate_receive.c); --key alone lets this node send them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "tools/cli.h"
#include "tools/control.h"
#include "tools/migrate.h"
#include "tools/migrate_group.h"
#include "tools/migrate_postcopy.h"
#include "tools/node.h"

#define CONTROL_CONNS 16 /* connections served at once */

struct control_server {
	int lfd;     /* listening socket */
	int quit[2]; /* pipe: the node ended */
	atomic_int quitting;
	pthread_t sig_thread;
	const struct transport_key *key; /* --key: migrations to and from here */
	pthread_mutex_t lock;
	pthread_cond_t idle;
	int nconns; /* connection threads running (under lock) */
};

struct control_conn {
	struct control_server *srv;
	int fd;
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

/* The request's word in an error line: the migration's steps say "migrate". */
static const char *control_op_word(enum control_op op)
{
	if (op == CONTROL_FREEZE || op == CONTROL_THAW || op == CONTROL_RELEASE ||
	    op == CONTROL_PREBUILD)
		return "migrate";
	return control_op_name(op);
}

/* The answer for a request control_call could not deliver (rc < 0). */
static void control_error_line(const struct control_request *req, int rc, char *err,
			       size_t size)
{
	const char *op = control_op_word(req->op);

	if (rc == -ENOENT && req->op == CONTROL_PS)
		snprintf(err, size, "error: core: no control endpoint (node starting?)");
	else if (rc == -ENOENT)
		snprintf(err, size, "error: %s: not under a monitor", req->name);
	else if (rc == -EOPNOTSUPP)
		snprintf(err, size, "error: %s: %s not supported", req->name, op);
	else if (rc == -EBUSY)
		snprintf(err, size, "error: %s: busy with another request", req->name);
	else if (rc == -ESHUTDOWN)
		snprintf(err, size, "error: %s: gone (the node stopped)", req->name);
	else
		snprintf(err, size, "error: %s: cannot reach it (%s)", req->name,
			 strerror(-rc));
}

struct keep_last {
	char *last;
	size_t size;
	control_line_fn fn; /* the other lines, or NULL */
	void *arg;
};

static void control_keep_last(const char *line, void *arg)
{
	struct keep_last *k = arg;

	if (!strncmp(line, "ok", 2) || !strncmp(line, "error: ", 7))
		snprintf(k->last, k->size, "%s", line);
	else if (k->fn)
		k->fn(line, k->arg);
}

static int control_call_final_both(const struct control_request *req, char *last,
				   size_t size, control_line_fn fn, void *arg,
				   control_line_fn at, void *at_arg)
{
	struct keep_last k = {.last = last, .size = size, .fn = fn, .arg = arg};
	int rc;

	last[0] = 0;
	rc = control_call_at(req, control_keep_last, &k, at, at_arg);
	if (rc)
		control_error_line(req, rc, last, size);
	else if (!last[0])
		snprintf(last, size, "error: %s: no answer", req->name);
	return strncmp(last, "ok", 2) ? -1 : 0;
}

int control_call_final_lines(const struct control_request *req, char *last, size_t size,
			     control_line_fn fn, void *arg)
{
	return control_call_final_both(req, last, size, fn, arg, NULL, NULL);
}

int control_call_final(const struct control_request *req, char *last, size_t size)
{
	return control_call_final_lines(req, last, size, NULL, NULL);
}

int control_call_final_at(const struct control_request *req, char *last, size_t size,
			  control_line_fn at, void *at_arg)
{
	return control_call_final_both(req, last, size, NULL, NULL, at, at_arg);
}

/* "migrate NAME HOST:PORT DEADLINE_MS": the whole migration runs here,
 * on the control thread (other requests wait for it). */
static void control_migrate(struct control_server *srv, char *line, int fd)
{
	char *save, *name, *to, *ms, *end, *mode;
	long deadline;

	strtok_r(line, " ", &save);
	name = strtok_r(NULL, " ", &save);
	to = strtok_r(NULL, " ", &save);
	ms = strtok_r(NULL, " ", &save);
	deadline = ms ? strtol(ms, &end, 10) : 0;
	mode = ms ? strtok_r(NULL, " ", &save) : NULL;
	if (!to || !ms || *end || (mode && strcmp(mode, "postcopy")) ||
	    strtok_r(NULL, " ", &save) || deadline < 100 || deadline > 3600 * 1000 ||
	    strlen(name) >= CONTROL_NAME_MAX) {
		control_send(fd, "error: usage: migrate NAME HOST:PORT DEADLINE_MS "
				 "(100..3600000) [postcopy]");
		return;
	}
	if (mode && migrate_group_is(name)) { /* tools/migrate_group_send.c */
		char why[CONTROL_NAME_MAX + 96];
		snprintf(
		    why, sizeof why,
		    "error: %s: a group migrates by stop-and-copy: --postcopy is not "
		    "supported for a group",
		    name);
		control_send(fd, why);
		return;
	}
	if (mode) /* tools/migrate_postcopy_send.c */
		migrate_postcopy_send(srv->key, name, to, (int)deadline,
				      control_forward_line, &fd);
	else
		migrate_send(srv->key, name, to, (int)deadline, control_forward_line,
			     &fd);
}

static void control_cancel_line(const char *name, char *ans, size_t size);

static void control_serve(struct control_server *srv, int fd)
{
	char line[CONTROL_LINE_MAX], err[CONTROL_LINE_MAX];
	struct control_request req;
	int rc;

	if (control_read_line(fd, line, sizeof(line))) {
		control_send(fd, "error: request line missing or too long");
		return;
	}
	if (!strncmp(line, "migrate ", 8)) {
		control_migrate(srv, line, fd);
		return;
	}
	if (!strncmp(line, "cancel ", 7)) {
		control_cancel_line(line + 7, err, sizeof err);
		control_send(fd, err);
		return;
	}
	if (control_parse(line, &req, err, sizeof(err))) {
		control_send(fd, err);
		return;
	}
	rc = control_call(&req, control_forward_line, &fd);
	if (!rc)
		return;
	control_error_line(&req, rc, err, sizeof(err));
	control_send(fd, err);
}

/* "cancel NAME": ask the endpoint NAME to drop the request it serves. */
static void control_cancel_line(const char *name, char *ans, size_t size)
{
	/* a migration of name: its own flag, and the round its monitor
	 * writes (if one) stops too */
	int mig = migrate_cancel(name), rc = control_cancel(name);

	if (!mig)
		rc = 0;

	if (!rc)
		snprintf(ans, size, "ok cancel %.64s", name);
	else if (rc == -ENOENT)
		snprintf(ans, size, "error: %.64s: not under a monitor", name);
	else
		snprintf(ans, size, "error: %.64s: no request to cancel", name);
}

static void *control_conn_thread(void *arg)
{
	struct control_conn *cc = arg;
	struct control_server *srv = cc->srv;
	struct timeval tv = {.tv_sec = 5};

	setsockopt(cc->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	control_serve(srv, cc->fd);
	close(cc->fd);
	free(cc);
	pthread_mutex_lock(&srv->lock);
	srv->nconns--;
	pthread_cond_broadcast(&srv->idle);
	pthread_mutex_unlock(&srv->lock);
	return NULL;
}

/* Serve fd on a thread of its own; too many at once are told so. */
static void control_spawn(struct control_server *srv, int fd)
{
	struct control_conn *cc = malloc(sizeof *cc);
	pthread_attr_t attr;
	pthread_t t;
	int ok = 0;

	pthread_mutex_lock(&srv->lock);
	if (cc && srv->nconns < CONTROL_CONNS) {
		*cc = (struct control_conn){srv, fd};
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		ok = !pthread_create(&t, &attr, control_conn_thread, cc);
		pthread_attr_destroy(&attr);
		srv->nconns += ok;
	}
	pthread_mutex_unlock(&srv->lock);
	if (ok)
		return;
	control_send(fd, "error: the node serves too many requests at once; retry");
	close(fd);
	free(cc);
}

static void *control_thread(void *arg)
{
	struct control_server *srv = arg;
	struct pollfd p[2] = {{.fd = srv->lfd, .events = POLLIN},
			      {.fd = srv->quit[0], .events = POLLIN}};

	while (!atomic_load(&srv->quitting)) {
		int fd;
		if (poll(p, 2, -1) < 0 || (p[1].revents & POLLIN))
			continue; /* EINTR, or quitting: the loop condition decides */
		fd = accept4(srv->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			control_spawn(srv, fd);
	}
	/* the endpoints are gone (control_reset): the connections end soon */
	pthread_mutex_lock(&srv->lock);
	while (srv->nconns)
		pthread_cond_wait(&srv->idle, &srv->lock);
	pthread_mutex_unlock(&srv->lock);
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

struct control_node_opts {
	const char *config, *sock, *listen, *key, *log;
	const char **rom;
	int nrom, exit_when_done;
};

static int control_node_main(const struct control_node_opts *o)
{
	struct control_server srv = {.lfd = -1,
				     .quit = {-1, -1},
				     .lock = PTHREAD_MUTEX_INITIALIZER,
				     .idle = PTHREAD_COND_INITIALIZER};
	struct listener lst = {0};
	struct transport_key key;
	char err[TRANSPORT_ERR_MAX];
	const char *sock = o->sock;
	pthread_t ctl;
	sigset_t set, old;
	int code;

	int logfd =
	    o->log ? open(o->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;

	if (o->log && logfd < 0) {
		fprintf(stderr, "capsule node: --log %s: %s\n", o->log, strerror(errno));
		return 2;
	}
	if (o->key && key_load(o->key, &key, err, sizeof err)) {
		fprintf(stderr, "capsule node: %s\n", err);
		if (logfd >= 0)
			close(logfd);
		return 2;
	}
	srv.key = o->key ? &key : NULL;
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
	pthread_sigmask(SIG_BLOCK, &set, &old); /* the threads below inherit it */
	if (o->listen && listener_start(&lst, o->listen, &key, migrate_receive, NULL, err,
					sizeof err)) {
		fprintf(stderr, "capsule node: %s\n", err);
		code = 2;
		goto out;
	}
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
	if (logfd >= 0) { /* from here on the node's output goes to --log */
		fflush(stdout);
		fflush(stderr);
		dup2(logfd, 1);
		dup2(logfd, 2);
		close(logfd);
		logfd = -1;
	}
	code = node_boot(o->config, o->rom, o->nrom, o->exit_when_done ? 2 : 1);
	atomic_store(&srv.quitting, 1);
	control_reset();
	(void)!write(srv.quit[1], "q", 1);
	pthread_kill(srv.sig_thread, SIGTERM);
	pthread_join(ctl, NULL);
	pthread_join(srv.sig_thread, NULL);
out:
	if (logfd >= 0)
		close(logfd);
	listener_stop(&lst);
	sodium_memzero(&key, sizeof key);
	close(srv.lfd);
	close(srv.quit[0]);
	close(srv.quit[1]);
	unlink(sock);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return code;
}

#define CONTROL_ROM_DIRS 8

int control_node_cli(const struct cli_args *a)
{
	const char *rom[CONTROL_ROM_DIRS];
	struct control_node_opts o = {.rom = rom};

	o.nrom = cli_all(a, "--rom", rom, CONTROL_ROM_DIRS);
	o.config = a->pos[0];
	o.sock = cli_get(a, "--control");
	o.listen = cli_get(a, "--listen");
	o.key = cli_get(a, "--key");
	o.log = cli_get(a, "--log");
	o.exit_when_done = cli_get(a, "--exit-when-done") != NULL;
	if (o.listen && !o.key)
		return cli_usage_error(a->cmd,
				       "--listen %s needs --key FILE (a key made by "
				       "capsule keygen; the peers hold the same)",
				       o.listen);
	return control_node_main(&o);
}
