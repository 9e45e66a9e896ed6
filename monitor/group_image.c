/*
 * The group image (image/group.h) from a cut: each member's image, as a
 * target's checkpoint writes it (model_to_image_records, then its
 * memory), and the table of caps between members, one record per cap of
 * class "member object" (a session a member opened at another, or an
 * object of another member it got in a call), in one file.
 *
 * The records are read while every member is still paused (they read
 * the members' proxies and records, which change once the members run:
 * group_image_records); the memory is converted and the file written
 * after they resume (group_image_write).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/group.h"
#include "monitor/checkpoint.h"
#include "monitor/group.h"
#include "monitor/group_image.h"
#include "monitor/image_convert.h"

void group_image_release(struct group_image *gi)
{
	for (int k = 0; k < MON_GROUP_MAX; k++)
		image_model_release(&gi->im[k]);
	free(gi->ref);
	memset(gi, 0, sizeof *gi);
}

/* The table from the cut's caps between members; a cap that has no
 * place in an image is refused naming it. */
static int table(struct mon_group *g, struct group_image *gi, const struct group_cap *t,
		 unsigned n, char *why, size_t size)
{
	if (!(gi->ref = calloc(n + 1, sizeof *gi->ref))) {
		snprintf(why, size, "out of memory for %u caps between members", n);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++) {
		struct image_member_ref *r = &gi->ref[i];

		if (!t[i].ikind) {
			snprintf(
			    why, size,
			    "member '%s' kcap 0x%llx badge 0x%llx -> '%s' %s 0x%llx: "
			    "a group image has no record for such an object",
			    g->member[t[i].holder].start->name,
			    (unsigned long long)t[i].kcap, (unsigned long long)t[i].badge,
			    g->member[t[i].owner].start->name, t[i].kind,
			    (unsigned long long)t[i].object);
			return -ENOTSUP;
		}
		r->holder = (uint32_t)t[i].holder;
		r->owner = (uint32_t)t[i].owner;
		r->kcap = t[i].kcap;
		r->badge = t[i].badge;
		r->kind = t[i].ikind;
		r->object = t[i].object;
		r->flags = t[i].revoked ? IMAGE_MEMBER_F_REVOKED : 0;
	}
	gi->ig.h.nrefs = n;
	return 0;
}

int group_image_records(struct mon_group *g, struct mon_model *const *models,
			const struct group_cap *t, unsigned n, struct group_image *gi,
			char *why, size_t size)
{
	int rc;

	memset(gi, 0, sizeof *gi);
	for (int k = 0; k < g->n; k++) {
		struct monitor *mon = g->member[k].mon;

		snprintf(gi->member[k].name, sizeof gi->member[k].name, "%.47s",
			 g->member[k].start->name);
		int code;
		if (group_member_gone(g, k, &code)) { /* no image: its exit code */
			snprintf(gi->member[k].binary, sizeof gi->member[k].binary,
				 "%.39s", g->member[k].start->binary);
			gi->member[k].exit_code = code;
			continue;
		}
		if ((rc = model_to_image_records(mon, models[k], &gi->im[k]))) {
			snprintf(why, size, "member '%s': its image: %s",
				 g->member[k].start->name,
				 mon->why[0] ? mon->why : strerror(-rc));
			return rc;
		}
		gi->image[k] = &gi->im[k];
	}
	gi->ig.h.nmembers = (uint32_t)g->n;
	gi->ig.member = gi->member;
	gi->ig.image = gi->image;
	if ((rc = table(g, gi, t, n, why, size)))
		return rc;
	gi->ig.ref = gi->ref;
	return 0;
}

int group_image_write(struct mon_group *g, const char *name, const char *path,
		      struct mon_model **models, struct group_image *gi,
		      uint64_t paused_us, char *why, size_t size)
{
	int rc, live = -1;

	for (int k = 0; k < g->n; k++) {
		if (!models[k]) /* ended */
			continue;
		if (live < 0)
			live = k;
		if ((rc = model_memory_to_image(models[k], &gi->im[k]))) {
			snprintf(why, size, "member '%s': its memory: %s",
				 g->member[k].start->name, strerror(-rc));
			return rc;
		}
	}
	snprintf(gi->ig.h.name, sizeof gi->ig.h.name, "%s", name);
	snprintf(gi->ig.h.node, sizeof gi->ig.h.node, "%s",
		 gi->im[live < 0 ? 0 : live].node);
	gi->ig.h.paused_ns = paused_us * 1000;
	for (int k = 0; k < g->n; k++) /* each was paused that long too */
		gi->im[k].stats.paused_ns = gi->ig.h.paused_ns;
	return image_group_write(path, &gi->ig, why, size);
}
