/*
 * The badge map of a restore: old badge -> new badge of every object the
 * restore recreated (badge_map.c), and a hash over it for the one lookup
 * per live cap map slot.
 */
#ifndef MONITOR_BADGE_MAP_H
#define MONITOR_BADGE_MAP_H

#include <stdint.h>
#include <capsule/abi.h>

/* Old badge -> new badge of every object a restore recreated. */
struct badge_map {
	unsigned n;
	struct {
		uint64_t old_badge, new_badge;
	} pair[CAP_SLOTS];
};
/* The new badge for old (old itself if it did not change). */
uint64_t badge_map_new(const struct badge_map *bm, uint64_t old);
/* Add old -> new (0 or -ENOSPC). */
int badge_map_add(struct badge_map *bm, uint64_t old_badge, uint64_t new_badge);

/* An index over bm's pairs (the first pair of an old badge wins), NULL
 * without memory; free() it. */
struct badge_hash;
struct badge_hash *badge_hash_make(const struct badge_map *bm);
/* The new badge for old (old itself if the map does not name it). */
uint64_t badge_hash_new(const struct badge_hash *h, uint64_t old);
/* The same, and whether the map names old (1) or not (0). */
int badge_hash_find(const struct badge_hash *h, uint64_t old, uint64_t *new_badge);

#endif
