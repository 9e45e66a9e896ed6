/*
 * `capsule restore` of a group image (image/group.h) at the monitor of a
 * group.  The image is read and checked whole before anything changes:
 * its header and table, every member's image, every cap between members
 * against the images (an image whose caps refer to an object it does not
 * contain is refused in one line), and its members against this group's
 * (same names, same binaries).
 *
 * What is not there yet: recreating the members from it (each prepared
 * before any is committed, all or nothing).  So a valid image is refused
 * too, in one line that says so; the running members are not touched.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <capsule/control.h>

#include "image/group.h"
#include "monitor/group.h"
#include "monitor/monitor.h"
#include "monitor/restore.h"

/* The image's members are this group's, in the same order. */
static int members_match(const struct mon_group *g, const struct image_group *ig,
			 const char *path, char *err, size_t n)
{
	if ((int)ig->h.nmembers != g->n) {
		snprintf(err, n, "%s: %u members, this group has %d", path,
			 ig->h.nmembers, g->n);
		return -EINVAL;
	}
	for (int k = 0; k < g->n; k++) {
		const struct start_config *s = g->member[k].start;
		if (strcmp(ig->member[k].name, s->name) ||
		    strcmp(ig->member[k].binary, s->binary)) {
			snprintf(err, n,
				 "%s: member %d is '%s' (binary %s), this group's is "
				 "'%s' (binary %s)",
				 path, k, ig->member[k].name, ig->member[k].binary,
				 s->name, s->binary);
			return -EINVAL;
		}
	}
	return 0;
}

/* Each member's image is one its member monitor could restore here. */
static int members_admit(struct mon_group *g, const struct image_group *ig,
			 const char *path, char *err, size_t n)
{
	char what[600];
	int rc;

	for (int k = 0; k < g->n; k++) {
		struct monitor *mon = g->member[k].mon;
		struct binary_id running;

		if (!mon)
			continue;
		running = mon->binary; /* the check sets it: the member runs on */
		snprintf(what, sizeof what, "%s (member '%s')", path, ig->member[k].name);
		rc = restore_image_check(mon, ig->image[k], what, 0, err, n);
		mon->binary = running;
		if (rc) {
			snprintf(what, sizeof what, "%s", err);
			snprintf(err, n, "member '%s': %.500s", ig->member[k].name, what);
			return rc;
		}
	}
	return 0;
}

void group_restore(struct mon_group *g, struct control_mailbox *mb, const char *name,
		   const char *path)
{
	struct image_group *ig;
	char err[600];

	if (image_group_read(path, &ig, err, sizeof err)) {
		env_log(g->env, "monitor: group restore refused: %s", err);
		control_done(mb, "error: %s: restore refused: %s", name, err);
		return;
	}
	if (members_match(g, ig, path, err, sizeof err) ||
	    members_admit(g, ig, path, err, sizeof err)) {
		image_group_free(ig);
		env_log(g->env, "monitor: group restore refused: %s", err);
		control_done(mb, "error: %s: restore refused: %s", name, err);
		return;
	}
	control_done(mb,
		     "error: %s: restore refused: %s: a valid image of this group (%u "
		     "members, %u caps between members), but restoring a group is not "
		     "implemented yet: the members run on unchanged",
		     name, path, ig->h.nmembers, ig->h.nrefs);
	image_group_free(ig);
}
