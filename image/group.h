/*
 * capsule group image, format v2: the public record definitions of the
 * file `capsule checkpoint` writes for a group (docs/cr.md, "Groups").
 *
 * A group image holds the image of every member of the group, taken
 * while all of them were paused by one consistent cut, and the table of
 * the caps that one member holds to another member's object.  All
 * integers are little-endian and fixed-width, all records packed.
 *
 * File layout:
 *   struct image_group_header
 *   nmembers times struct image_group_member
 *   nrefs times struct image_member_ref
 *   the members' images (image/image.h), each a complete image file, at
 *   the offset and with the length its member record names, in member
 *   order, one after the other; nothing follows the last.
 *
 * A member that had ended before the cut (IMAGE_GROUP_MEMBER_ENDED) has
 * no image: offset and length 0, image id 0, its exit code kept.  A
 * restore leaves it ended.  No record of the table names it, and no
 * member cap points at it: at least one member ran at the cut.
 * Version 1 (no flags, no exit code: every member ran) is read as well;
 * its member record is the same 120 bytes with a 48-byte binary name.
 *
 * In a member's image, a cap to another member's object has the class
 * IMAGE_CAP_MEMBER (obj = the owner's member index, arg = the object's
 * badge at the owner when the image was taken); each such cap has
 * exactly one record in the table, and each record names an object the
 * owner's image contains (image_group_check).  A region of a member
 * that attaches another member's dataspace names, in the holder's image,
 * a dataspace of kind IMAGE_DS_MEMBER: member.owner is the owner's
 * index, its id and size those of a dataspace the owner's image holds
 * (a RAM or managed one: e.g. the owner's region map handed out as a
 * managed dataspace).  A restore attaches the owner's recreated
 * dataspace there once every member's own objects exist.
 */
#ifndef CAPSULE_IMAGE_GROUP_H
#define CAPSULE_IMAGE_GROUP_H

#include <stddef.h>
#include <stdint.h>

#include "image/image.h"

#define IMAGE_GROUP_MAGIC   0x3150524743535043ULL /* "CPSCGRP1" */
#define IMAGE_GROUP_VERSION 2u
#define IMAGE_GROUP_MAX	    16u	       /* members of one group image */
#define IMAGE_GROUP_REFS    (1u << 20) /* records in the table, at most */

/* 160 bytes.  table_checksum: XXH3-64 of the member and ref records;
 * checksum: XXH3-64 of the bytes before it. */
struct image_group_header {
	uint64_t magic;
	uint32_t version;
	uint32_t header_size; /* sizeof(struct image_group_header) */
	uint32_t nmembers;    /* 1..IMAGE_GROUP_MAX */
	uint32_t nrefs;	      /* 0..IMAGE_GROUP_REFS */
	uint64_t group_id;    /* nonzero, chosen by the writer */
	uint64_t created_ns;  /* CLOCK_REALTIME at write */
	uint64_t paused_ns;   /* the members paused together by the cut */
	char node[48];	      /* label of the node it was taken on */
	char name[48];	      /* the group's name (its monitor's) */
	uint64_t table_checksum;
	uint64_t checksum;
} __attribute__((packed));

#define IMAGE_GROUP_MEMBER_ENDED 1u /* it had ended: no image */

/* 120 bytes.  A member: its <start> name (unique in the file) and where
 * its image is. */
struct image_group_member {
	char name[48];
	char binary[40];   /* ROM name of its ELF (its image's component's) */
	uint32_t flags;	   /* IMAGE_GROUP_MEMBER_* */
	int32_t exit_code; /* an ended member's */
	uint64_t offset;   /* of its image, from the start of the file */
	uint64_t length;   /* of its image */
	uint64_t image_id; /* its image's header image_id */
} __attribute__((packed));

/* What a member-object cap stands for at its owner. */
enum image_member_kind {
	IMAGE_MEMBER_GATE = 1,	     /* an RPC object the owner serves (a session
					object, a callback, a root): a cap of
					class rpc gate with that badge */
	IMAGE_MEMBER_SIGNAL_CONTEXT, /* a signal record with that badge */
	IMAGE_MEMBER_DATASPACE,	     /* a dataspace with that id */
	IMAGE_MEMBER_REGION_MAP,     /* a cap of class region map, that badge */
	IMAGE_MEMBER_KIND_MAX_,
};

/* The owner had revoked the holder's copy (a gate's copies it gave
 * away): the holder's cap map entry stands for the object, its slot is
 * empty, and a restore leaves it so (served_revoke.c). */
#define IMAGE_MEMBER_F_REVOKED 1u

/* 40 bytes.  Member holder's cap kcap (badge at the checkpoint) refers to
 * member owner's object of kind with badge object at the checkpoint.
 * (holder, kcap) unique; holder != owner. */
struct image_member_ref {
	uint32_t holder, owner; /* member indices */
	uint64_t kcap;
	uint64_t badge;
	uint32_t kind;	/* enum image_member_kind */
	uint32_t flags; /* IMAGE_MEMBER_F_* */
	uint64_t object;
} __attribute__((packed));

_Static_assert(sizeof(struct image_group_header) == 160, "group header");
_Static_assert(sizeof(struct image_group_member) == 120, "group member");
_Static_assert(sizeof(struct image_member_ref) == 40, "member ref");

/* A group image in memory.  From image_group_read: validated, every
 * array and model owned (image_group_free).  For image_group_write: the
 * caller fills h.name, h.node, h.paused_ns, member[k].name, image[k]
 * and ref, or for an ended member member[k].flags, exit_code and image[k]
 * NULL; the writer fills the rest. */
struct image_group {
	struct image_group_header h;
	struct image_group_member *member; /* h.nmembers */
	struct image_model **image;	   /* member k's image (NULL: ended) */
	struct image_member_ref *ref;	   /* h.nrefs */
};

/* 1 if the file at path starts with the group image's magic. */
int image_is_group(const char *path);
/* Write g to path (through a temporary file next to it, renamed when
 * complete and synced).  The table is checked against the images first
 * (image_group_check).  0 or -errno with one line in err. */
int image_group_write(const char *path, struct image_group *g, char *err, size_t errlen);
/* Read and validate the group image at path: the header, the table, each
 * member's image (image_read's checks) and image_group_check.  0 and
 * *out, or -errno (-EINVAL: invalid) with one line in err naming the
 * file, the member or record and what is wrong. */
int image_group_read(const char *path, struct image_group **out, char *err,
		     size_t errlen);
/* The table against the images: each record's holder has a member cap
 * at its kcap with that badge, owner and object; each member cap of an
 * image has its record; each record names an object of its kind that
 * the owner's image contains.  0 or -EINVAL with one line in err (name:
 * the file, in messages). */
int image_group_check(const char *name, const struct image_group *g, char *err,
		      size_t errlen);
void image_group_free(struct image_group *g);
const char *image_member_kind_name(uint32_t kind);

#endif
