/*
 * Fuzz target: the image reader and `capsule inspect`'s printers.
 *
 * Each input is read from memory (image_read_mem); an image it accepts
 * is also read from a file (image_read, as `capsule restore` and
 * `capsule inspect` do) and printed as text and as JSON (inspect_image)
 * to /dev/null.  An input with a group image's magic is read as a group
 * image from a file (image_group_read, as a group's restore and a
 * migration's destination do) and, if accepted, printed the same way.
 * A refused input must come with a one-line error.  The structure-aware
 * mutators (fuzz/image_mutator.c, fuzz/group_mutator.c) keep the
 * framing and checksums valid so that mutants reach the semantic checks.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz/image_mutator.h"
#include "image/group.h"
#include "image/image.h"
#include "tools/inspect.h"

static int memfd = -1;
static char path[64];
static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	memfd = memfd_create("fuzz-image", MFD_CLOEXEC);
	devnull = fopen("/dev/null", "w");
	if (memfd < 0 || !devnull)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	return 0;
}

/* The input as the file at `path`. */
static void file_set(const uint8_t *data, size_t size)
{
	if (ftruncate(memfd, 0) ||
	    (size && pwrite(memfd, data, size, 0) != (ssize_t)size))
		abort();
}

static void one_line(const char *err)
{
	if (!err[0] || strchr(err, '\n')) {
		fprintf(stderr, "refused without a one-line error: '%s'\n", err);
		abort();
	}
}

static int is_group(const uint8_t *data, size_t size)
{
	uint64_t magic;

	if (size < sizeof magic)
		return 0;
	memcpy(&magic, data, sizeof magic);
	return magic == IMAGE_GROUP_MAGIC;
}

static void group_input(const uint8_t *data, size_t size)
{
	struct image_group *g;
	char err[512];

	file_set(data, size);
	if (image_group_read(path, &g, err, sizeof(err)) < 0) {
		one_line(err);
		return;
	}
	image_group_free(g);
	for (int json = 0; json <= 1; json++)
		if (inspect_image(path, json, devnull, err, sizeof(err)) < 0) {
			fprintf(stderr, "group image read, refused by inspect: %s\n",
				err);
			abort();
		}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image_model *m;
	char err[512];

	if (is_group(data, size)) {
		group_input(data, size);
		return 0;
	}

	if (image_read_mem("fuzz", data, size, &m, err, sizeof(err)) < 0) {
		one_line(err);
		return 0;
	}
	image_model_free(m);
	file_set(data, size);
	for (int json = 0; json <= 1; json++)
		if (inspect_image(path, json, devnull, err, sizeof(err)) < 0) {
			fprintf(stderr, "read from memory, refused from a file: %s\n",
				err);
			abort();
		}
	return 0;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned seed)
{
	if (is_group(data, size))
		return group_mutate(data, size, max, seed);
	return image_mutate(data, size, max, seed);
}
