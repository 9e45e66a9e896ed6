/*
 * Fuzz target: the node config reader (config_load in config/config.c:
 * libxml2 and the walk over its tree).  The input is the config file.  A
 * refused config must come with an error message; in an accepted one
 * every child has a NUL-terminated name and binary.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config/config.h"

static int memfd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	memfd = memfd_create("fuzz-config", MFD_CLOEXEC);
	if (memfd < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct init_config cfg;
	char err[512];
	int rc;

	if (ftruncate(memfd, 0) ||
	    (size && pwrite(memfd, data, size, 0) != (ssize_t)size))
		abort();
	rc = config_load(path, &cfg, err, sizeof(err));
	if (rc < 0 && !err[0]) {
		fprintf(stderr, "config refused without a message\n");
		abort();
	}
	if (rc < 0)
		return 0;
	if (cfg.nstart <= 0 || !cfg.start)
		abort();
	for (int i = 0; i < cfg.nstart; i++)
		if (!cfg.start[i].name[0] ||
		    !memchr(cfg.start[i].name, 0, sizeof(cfg.start[i].name)) ||
		    !memchr(cfg.start[i].binary, 0, sizeof(cfg.start[i].binary)))
			abort();
	return 0;
}
