/*
 * The control protocol's request line (tools/control_server.c): "ps",
 * "status NAME", "checkpoint NAME PATH [parent=PATH] [stop|leave-running]",
 * "restore [--lazy] PATH [NAME]", "resume NAME" or "discard NAME", split
 * at spaces, into
 * a struct control_request.  For "restore PATH" without NAME the target
 * is the component named in the image's header.  Kept apart from the
 * socket server so that it can be tested and fuzzed on its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "image/image.h"
#include "tools/control.h"

/* The target name recorded in the image at path (the last element of
 * its header's label) into name; path is then copied to the request by
 * the caller.  0 or -1 with the answer in err. */
int control_image_target(const char *path, char *name, char *err, size_t size)
{
	struct image_header h;
	const char *p, *label;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, &h, sizeof(h));

	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)sizeof(h) || h.magic != IMAGE_MAGIC) {
		snprintf(err, size, "error: %.256s: %s", path,
			 n < 0 ? strerror(errno) : "not a capsule image");
		return -1;
	}
	h.label[sizeof(h.label) - 1] = 0;
	for (label = h.label; (p = strstr(label, " -> ")); label = p + 4)
		;
	if (!label[0]) {
		snprintf(err, size, "error: %.256s: the image names no component", path);
		return -1;
	}
	snprintf(name, CONTROL_NAME_MAX, "%s", label);
	return 0;
}

/* The options after "checkpoint NAME PATH": "parent=ABSPATH" (an
 * incremental image), "stop" or "leave-running" (the default).  0 or -1. */
static int checkpoint_options(char *save, struct control_request *req, char *err,
			      size_t size)
{
	for (char *o; (o = strtok_r(NULL, " ", &save));) {
		if (!strncmp(o, "parent=", 7) && o[7] == '/' &&
		    strlen(o + 7) < CONTROL_PATH_MAX && !req->parent[0]) {
			snprintf(req->parent, sizeof(req->parent), "%s", o + 7);
		} else if (!strcmp(o, "stop")) {
			req->flags |= CONTROL_F_STOP;
		} else if (strcmp(o, "leave-running")) {
			snprintf(err, size,
				 "error: checkpoint: '%.64s' is not parent=ABSPATH, stop "
				 "or leave-running",
				 o);
			return -1;
		}
	}
	return 0;
}

int control_parse(char *line, struct control_request *req, char *err, size_t size)
{
	char *save, *cmd = strtok_r(line, " ", &save);
	char *a = strtok_r(NULL, " ", &save), *b, *extra;
	unsigned flags = 0;

	memset(req, 0, sizeof(*req));
	if (cmd && !strcmp(cmd, "restore") && a && !strcmp(a, "--lazy")) {
		flags = CONTROL_F_LAZY; /* restore --lazy PATH [NAME] */
		a = strtok_r(NULL, " ", &save);
	}
	b = strtok_r(NULL, " ", &save);
	/* a checkpoint's options follow (checkpoint_options) */
	extra = cmd && !strcmp(cmd, "checkpoint") ? NULL : strtok_r(NULL, " ", &save);
	if (!cmd) {
		snprintf(err, size, "error: empty request");
		return -1;
	}
	if (!strcmp(cmd, "ps") && !a) {
		req->op = CONTROL_PS;
		snprintf(req->name, sizeof(req->name), "core");
		return 0;
	}
	if (!strcmp(cmd, "status") && a && !b && strlen(a) < CONTROL_NAME_MAX) {
		req->op = CONTROL_STATUS;
		snprintf(req->name, sizeof(req->name), "%s", a);
		return 0;
	}
	if ((!strcmp(cmd, "resume") || !strcmp(cmd, "discard")) && a && !b &&
	    strlen(a) < CONTROL_NAME_MAX) {
		/* a target left paused by a migration: start it / end it */
		req->op = cmd[0] == 'r' ? CONTROL_THAW : CONTROL_RELEASE;
		snprintf(req->name, sizeof(req->name), "%s", a);
		snprintf(req->path, sizeof(req->path), "-");
		return 0;
	}
	if (!strcmp(cmd, "checkpoint") || !strcmp(cmd, "restore")) {
		int ckpt = cmd[0] == 'c';
		char *name = ckpt ? a : b, *path = ckpt ? b : a;
		if ((!name && ckpt) || !path || extra) {
			snprintf(err, size, "error: usage: %s",
				 ckpt ? "checkpoint NAME PATH [parent=PATH] "
					"[stop|leave-running]"
				      : "restore [--lazy] PATH [NAME]");
			return -1;
		}
		if (path[0] != '/' || strlen(path) >= CONTROL_PATH_MAX ||
		    (name && strlen(name) >= CONTROL_NAME_MAX)) {
			snprintf(err, size,
				 "error: %.64s: the image path must be absolute", path);
			return -1;
		}
		if (ckpt && checkpoint_options(save, req, err, size))
			return -1;
		req->op = ckpt ? CONTROL_CHECKPOINT : CONTROL_RESTORE;
		req->flags |= flags;
		snprintf(req->path, sizeof(req->path), "%s", path);
		if (!name)
			return control_image_target(path, req->name, err, size);
		snprintf(req->name, sizeof(req->name), "%s", name);
		return 0;
	}
	snprintf(err, size, "error: unknown command '%.64s'", cmd);
	return -1;
}
