/*
 * `capsule inspect IMAGE [--json]`: decode a checkpoint image to text or
 * JSON (image/image.h describes the records).
 */
#ifndef TOOLS_INSPECT_H
#define TOOLS_INSPECT_H

/* The version of inspect's JSON (docs/inspect.schema.json, "schema"):
 * 3 named the registers, made sizes integers, created_ns a string, added
 * obj_is and bytes_before_stats, and image_bytes is the file's size. */
#define INSPECT_SCHEMA 3

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Read and validate the image at path and print it to out (json: as one
 * JSON object).  0, or -errno with one line in err. */
int inspect_image(const char *path, int json, FILE *out, char *err, size_t errlen);
/* The same, only the top-level member section (and "schema"): -EINVAL
 * with err naming those there are when the image has no such section. */
int inspect_section(const char *path, int json, const char *section, FILE *out, char *err,
		    size_t errlen);
/* A group image (image/group.h, tools/inspect_group.c): the group's
 * header, members and table of caps between members, then each member's
 * image as inspect_image prints it (JSON: one object, the members'
 * images in "images").  section: -EINVAL (a group image is printed
 * whole). */
int inspect_group(const char *path, int json, const char *section, FILE *out, char *err,
		  size_t errlen);
/* One image's records already read (path names it, file_bytes its size)
 * as inspect_section prints them. */
struct image_model;
int inspect_model(const char *path, const struct image_model *m, uint64_t file_bytes,
		  int json, const char *section, FILE *out, char *err, size_t errlen);
/* `capsule inspect --page ADDR IMAGE` (tools/inspect_page.c): a hex dump
 * of the page of the target's address space holding ADDR; exit status. */
int inspect_page(const char *path, const char *addr);
/* The subcommand: argv after "inspect"; exit status (0, 1 on a bad image,
 * 2 on usage). */
int inspect_main(int argc, char **argv);

#endif
