/*
 * The migration phases in the node's log: one line "capsule node:
 * migrate: phase NAME" when a side enters a phase (handshake, round-N,
 * final, commit, postcopy, done), so that tests and operators see where
 * a migration was when it failed (tests/migrate/faults.sh kills a node
 * or cuts the connection at each).
 *
 * The test hook of tests/migrate/faults.sh: CAPSULE_TEST_MIGRATE_HOLD=
 * "NAME:MS" in the node's environment holds that node MS ms right after
 * it logged phase NAME, so that a kill or a cut lands inside the phase
 * and not after it.  The line "... phase NAME (held N ms)" says so.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config/test_env.h"
#include "tools/migrate.h"

void migrate_phase(const char *fmt, ...)
{
	const char *v = test_env("CAPSULE_TEST_MIGRATE_HOLD");
	const char *colon = v ? strchr(v, ':') : NULL;
	char name[64];
	va_list ap;
	size_t n;
	long ms = 0;

	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	n = strlen(name);

	if (colon && (size_t)(colon - v) == n && !strncmp(v, name, n))
		ms = strtol(colon + 1, NULL, 10);
	if (ms <= 0 || ms > 600000) {
		fprintf(stderr, "capsule node: migrate: phase %s\n", name);
		fflush(stderr);
		return;
	}
	fprintf(stderr, "capsule node: migrate: phase %s (held %ld ms)\n", name, ms);
	usleep((useconds_t)ms * 1000);
}
