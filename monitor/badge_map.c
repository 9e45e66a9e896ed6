/*
 * The badge map of a restore and its hash index.
 */
#include <errno.h>
#include <stdlib.h>

#include "monitor/badge_map.h"

int badge_map_add(struct badge_map *bm, uint64_t old_badge, uint64_t new_badge)
{
	if (bm->n == CAP_SLOTS)
		return -ENOSPC;
	bm->pair[bm->n].old_badge = old_badge;
	bm->pair[bm->n].new_badge = new_badge;
	bm->n++;
	return 0;
}

uint64_t badge_map_new(const struct badge_map *bm, uint64_t old)
{
	for (unsigned i = 0; i < bm->n; i++)
		if (bm->pair[i].old_badge == old)
			return bm->pair[i].new_badge;
	return old;
}

/*
 * A badge map as an open-addressing hash table keyed by old badge, for
 * the one lookup per live slot: a sorted index with a binary search per
 * slot cost a dozen mispredicted steps each.  Badges are never 0 (a free
 * slot's id), so 0 marks an empty bucket.  The first pair of an old badge
 * wins, as in badge_map_new.
 */
struct badge_hash {
	unsigned mask;
	struct {
		uint64_t old_badge, new_badge;
	} b[];
};

static unsigned badge_home(const struct badge_hash *h, uint64_t badge)
{
	/* badges go in steps of 4: the multiply spreads their high bits */
	return (unsigned)((badge * 0x9e3779b97f4a7c15ULL) >> 32) & h->mask;
}

struct badge_hash *badge_hash_make(const struct badge_map *bm)
{
	unsigned n = bm->n < CAP_SLOTS ? bm->n : CAP_SLOTS, size = 64;
	struct badge_hash *h;

	while (size < 2 * n) /* at most half full */
		size *= 2;
	h = calloc(1, sizeof *h + size * sizeof h->b[0]);
	if (!h)
		return NULL;
	h->mask = size - 1;
	for (unsigned i = 0; i < n; i++) {
		uint64_t old = bm->pair[i].old_badge;
		unsigned p = badge_home(h, old);
		if (!old)
			continue;
		while (h->b[p].old_badge && h->b[p].old_badge != old)
			p = (p + 1) & h->mask;
		if (!h->b[p].old_badge) {
			h->b[p].old_badge = old;
			h->b[p].new_badge = bm->pair[i].new_badge;
		}
	}
	return h;
}

int badge_hash_find(const struct badge_hash *h, uint64_t old, uint64_t *new_badge)
{
	for (unsigned p = badge_home(h, old); h->b[p].old_badge; p = (p + 1) & h->mask)
		if (h->b[p].old_badge == old) {
			*new_badge = h->b[p].new_badge;
			return 1;
		}
	*new_badge = old;
	return 0;
}

uint64_t badge_hash_new(const struct badge_hash *h, uint64_t old)
{
	uint64_t nb;

	badge_hash_find(h, old, &nb);
	return nb;
}
