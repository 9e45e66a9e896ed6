/*
 * The destination builds the target while the pre-copy rounds arrive
 * (docs/migration.md, monitor/restore_prebuild.c): each round, once its
 * file is in the spool directory, goes to the monitor the image names
 * (CONTROL_PREBUILD): round 1 makes the paused copy (PD, CPU session,
 * dataspaces with their memory, threads never started, the sessions at
 * the parent), each later round writes its pages into it.  The restore
 * of final.img then takes that copy, so that the source's stop covers
 * only the last pages, registers, UTCBs and caps.
 *
 * A round the monitor cannot build (no monitor of that name, one that
 * runs a target, an image it refuses) ends the copy there and stops the
 * building: the final image is then restored from the spool's chain as
 * without it, and refused there with the same reason if it must be.  A
 * migration that ends before its final restore ends the copy
 * (migrate_prebuild_drop), so the node keeps no half-made target.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "tools/migrate.h"

void migrate_prebuild_round(struct migrate_prebuild *pb, const char *path, int round,
			    const char *peer)
{
	struct control_request req = {.op = CONTROL_PREBUILD};
	char last[CONTROL_LINE_MAX];

	if (pb->off)
		return;
	if (round == 1 && control_image_target(path, pb->name, last, sizeof last)) {
		pb->off = 1;
		fprintf(stderr,
			"capsule node: migration from %s: round-1 not built (%s): not "
			"prebuilding; the final image is read with its chain\n",
			peer, last);
		return;
	}
	snprintf(req.name, sizeof req.name, "%s", pb->name);
	snprintf(req.path, sizeof req.path, "%s", path);
	if (control_call_final(&req, last, sizeof last)) {
		pb->off = 1;
		pb->rounds = 0; /* the monitor ended what it had built */
		fprintf(stderr,
			"capsule node: migration from %s: round-%d not built (%s): not "
			"prebuilding; the final image is read with its chain\n",
			peer, round, last);
		return;
	}
	pb->rounds = round;
	fprintf(stderr, "capsule node: migration from %s: prebuilt: %s\n", peer, last);
}

void migrate_prebuild_drop(struct migrate_prebuild *pb, const char *peer)
{
	struct control_request req = {.op = CONTROL_RELEASE};
	char last[CONTROL_LINE_MAX];

	if (pb->rounds <= 0)
		return;
	snprintf(req.name, sizeof req.name, "%s", pb->name);
	snprintf(req.path, sizeof req.path, "-");
	if (control_call_final(&req, last, sizeof last))
		fprintf(
		    stderr,
		    "capsule node: migration from %s: cannot end the prebuilt copy of "
		    "%s: %s\n",
		    peer, pb->name, last);
	else
		fprintf(stderr,
			"capsule node: migration from %s: the prebuilt copy of %s (%d "
			"rounds) ended\n",
			peer, pb->name, pb->rounds);
	pb->rounds = 0;
}
