/*
 * The group image of a cut (monitor/group_image.c, image/group.h).
 */
#ifndef MONITOR_GROUP_IMAGE_H
#define MONITOR_GROUP_IMAGE_H

#include "image/group.h"
#include "monitor/group.h"

struct mon_model;

/* A group image being made: the members' images and the table. */
struct group_image {
	struct image_group ig; /* points into the arrays below */
	struct image_group_member member[MON_GROUP_MAX];
	struct image_model im[MON_GROUP_MAX];
	struct image_model *image[MON_GROUP_MAX];
	struct image_member_ref *ref;
};

/* Every member paused and checkpointed into models[k], t[0..n) the caps
 * between them (group_cap_table): each member's image records and the
 * table into gi.  0, or -errno with one line in why (release gi). */
int group_image_records(struct mon_group *g, struct mon_model *const *models,
			const struct group_cap *t, unsigned n, struct group_image *gi,
			char *why, size_t size);
/* The members running again: their memory into the images (the models'
 * copies are taken over) and the file at path, the group named name.
 * 0, or -errno with one line in why (no file is left). */
int group_image_write(struct mon_group *g, const char *name, const char *path,
		      struct mon_model **models, struct group_image *gi,
		      uint64_t paused_us, char *why, size_t size);
void group_image_release(struct group_image *gi);

#endif
