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

void migrate_spool_remove(const char *dir)
{
	char path[512];
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d)))
		if (migrate_image_name_ok(e->d_name) || /* post-copy's two: */
		    !strcmp(e->d_name, "preskel.img") ||
		    !strcmp(e->d_name, "skeleton.img")) {
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			unlink(path);
		}
	if (d)
		closedir(d);
	rmdir(dir);
}
