/*
 * What both sides of a migration share: the spool directory that holds
 * a migration's images (round-N.img, final.img: a chain of incremental
 * images, docs/migration.md); the phase lines are tools/migrate_phase.c.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tools/migrate.h"

int migrate_spool_dir(char *path, size_t size)
{
	const char *dir = getenv("TMPDIR");

	if (!dir || dir[0] != '/' || strpbrk(dir, " \t\n"))
		dir = "/tmp";
	snprintf(path, size, "%s/capsule-migrate-XXXXXX", dir);
	return mkdtemp(path) ? 0 : -1;
}

int migrate_image_name_ok(const char *name)
{
	char *end;
	long n;

	if (!strcmp(name, "final.img"))
		return 1;
	if (strncmp(name, "round-", 6))
		return 0;
	n = strtol(name + 6, &end, 10);
	return end != name + 6 && n >= 1 && n <= MIGRATE_ROUNDS && !strcmp(end, ".img") &&
	       name[6] != '0';
}

/* "round-N.img.pipe": the FIFO round N was built from as it arrived
 * (tools/migrate_prebuild.c), left by a node that ended meanwhile. */
static int spool_pipe(const char *name)
{
	char img[64];
	size_t n = strlen(name);

	if (n < 6 || n >= sizeof img || strcmp(name + n - 5, ".pipe"))
		return 0;
	snprintf(img, sizeof img, "%.*s", (int)(n - 5), name);
	return migrate_image_name_ok(img);
}

void migrate_spool_remove(const char *dir)
{
	char path[512];
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d)))
		if (migrate_image_name_ok(e->d_name) || spool_pipe(e->d_name) ||
		    /* post-copy's two: */
		    !strcmp(e->d_name, "preskel.img") ||
		    !strcmp(e->d_name, "skeleton.img")) {
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			unlink(path);
		}
	if (d)
		closedir(d);
	rmdir(dir);
}
