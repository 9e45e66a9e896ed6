/*
 * The page channel of a post-copy migration's destination
 * (migrate_postcopy_receive.c, monitor/page_channel.h): made from the
 * pre-skeleton while the target still runs at the source, checked
 * against the skeleton's dataspaces in the pause, and the page messages
 * put into it (migrate_postcopy_channel.c).
 */
#ifndef TOOLS_MIGRATE_POSTCOPY_DST_H
#define TOOLS_MIGRATE_POSTCOPY_DST_H

#include <stddef.h>
#include <stdint.h>

struct page_channel;
struct image_model;

/* The channel for the served dataspaces of the pre-skeleton at path,
 * the pages the restore will read touched (the cap map's, the
 * report's), or NULL if it is unusable. */
struct page_channel *postcopy_early_channel(const char *path);
/* The channel for the skeleton at path: early if it has exactly its
 * dataspaces, else a new one (the caller frees early), or NULL with err
 * (early untouched).  The skeleton as read into *skel (the caller's, for
 * the restore: page_channel_set_skeleton), NULL on failure. */
struct page_channel *postcopy_skeleton_channel(struct page_channel *early,
					       const char *path,
					       struct image_model **skel, char *err,
					       size_t size);
/* A page message (struct postcopy_pages and its pages, len bytes) into
 * ch: 0, or -1 if it is malformed or names what ch does not have. */
int postcopy_put_pages(struct page_channel *ch, const uint8_t *msg, size_t len);

#endif
