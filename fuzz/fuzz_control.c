/*
 * Fuzz target: the control protocol's request line (control_parse in
 * tools/control_parse.c), fed as the socket server feeds it: the input up
 * to the first newline, at most CONTROL_LINE_MAX bytes.
 *
 * An accepted request must name an operation, a NUL-terminated target and
 * for checkpoint/restore an absolute path; a refused one must be answered
 * with one "error: " line.  "restore PATH" reads the image header at PATH:
 * open() is wrapped (-Wl,--wrap=open) so that only files under FUZZ_DIR,
 * made at start-up, can be opened, never a device or a FIFO of the host.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/image.h"
#include "tools/control.h"

#define CONTROL_LINE_MAX (CONTROL_PATH_MAX + 2 * CONTROL_NAME_MAX)
#define FUZZ_DIR	 "/tmp/capsule-fuzz-control"

int __real_open(const char *path, int flags, ...);

int __wrap_open(const char *path, int flags, ...)
{
	if (strncmp(path, FUZZ_DIR "/", sizeof(FUZZ_DIR)) || strstr(path, "..")) {
		errno = ENOENT;
		return -1;
	}
	return __real_open(path, flags | O_NONBLOCK);
}

/* A file holding an image header with this label (or just `bytes`). */
static void make_file(const char *name, const char *label, size_t bytes)
{
	struct image_header h = {.magic = IMAGE_MAGIC, .version = IMAGE_VERSION};
	char p[128];
	FILE *f;

	snprintf(h.label, sizeof(h.label), "%s", label);
	snprintf(p, sizeof(p), "%s/%s", FUZZ_DIR, name);
	f = fopen(p, "w");
	if (!f || fwrite(&h, 1, bytes, f) != bytes || fclose(f))
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	mkdir(FUZZ_DIR, 0700);
	make_file("a.img", "init -> monitor -> cr_all", sizeof(struct image_header));
	make_file("nolabel.img", "", sizeof(struct image_header));
	make_file("short.img", "x", 20);
	return 0;
}

static void check(int rc, const struct control_request *req, const char *err)
{
	int ok = 1;

	if (rc) {
		ok = !strncmp(err, "error: ", 7) && !strchr(err, '\n');
	} else {
		ok = memchr(req->name, 0, sizeof(req->name)) && req->name[0] &&
		     memchr(req->path, 0, sizeof(req->path));
		if (req->op == CONTROL_CHECKPOINT || req->op == CONTROL_RESTORE)
			ok = ok && req->path[0] == '/';
		else if (req->op == CONTROL_THAW || req->op == CONTROL_RELEASE)
			ok = ok && !strcmp(req->path, "-"); /* resume / discard NAME */
		else
			ok = ok && (req->op == CONTROL_PS || req->op == CONTROL_STATUS) &&
			     !req->path[0];
	}
	if (!ok) {
		fprintf(stderr, "control_parse %d: bad result (err '%s')\n", rc, err);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char line[CONTROL_LINE_MAX], err[CONTROL_LINE_MAX];
	static struct control_request req;
	size_t n = 0;

	while (n < size && n + 1 < sizeof(line) && data[n] != '\n') {
		line[n] = (char)data[n];
		n++;
	}
	line[n] = 0;
	err[0] = 0;
	check(control_parse(line, &req, err, sizeof(err)), &req, err);
	return 0;
}
