/*
 * Rewriting the target's cap map for a restore, on the checkpoint's copy
 * of its memory: new badges into the same slots (so every cap_t in the
 * target's memory stays valid), then the AVL tree rebuilt by libbase's own
 * cap_map_rebuild and checked by cap_map_check.  The tree's links are
 * target addresses; they are translated to host pointers into the copy
 * for the rebuild and back afterwards.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/restore.h"

int model_h2g(const struct mon_model *model, const void *host, uint64_t *guest)
{
	const uint8_t *p = host;

	for (unsigned i = 0; i < model->nregions; i++) {
		const struct mon_model_region *r = &model->region[i];
		if (r->rm || !r->data) /* inside a managed map / no bytes */
			continue;
		if (p >= r->data && p < r->data + r->size) {
			*guest = r->at + (uint64_t)(p - r->data);
			return 0;
		}
	}
	return -EFAULT;
}

/* Guest pointer field -> host pointer (NULL stays NULL); -EFAULT if it
 * points outside the copy. */
int model_g2h_ptr(const struct mon_model *model, void **field, uint64_t size)
{
	uint64_t g = (uint64_t)(uintptr_t)*field;
	void *h;

	if (!g)
		return 0;
	h = model_ptr(model, g, size);
	if (!h)
		return -EFAULT;
	*field = h;
	return 0;
}

int model_h2g_ptr(const struct mon_model *model, void **field)
{
	uint64_t g;
	int rc;

	if (!*field)
		return 0;
	if ((rc = model_h2g(model, *field, &g)))
		return rc;
	*field = (void *)(uintptr_t)g;
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

static struct badge_hash *badge_hash_make(const struct badge_map *bm)
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

static uint64_t badge_hash_new(const struct badge_hash *h, uint64_t old)
{
	for (unsigned p = badge_home(h, old); h->b[p].old_badge; p = (p + 1) & h->mask)
		if (h->b[p].old_badge == old)
			return h->b[p].new_badge;
	return old;
}

/* New badges into every live slot of m. */
static int rebadge_slots(struct cap_map *m, const struct badge_map *bm)
{
	struct badge_hash *h = badge_hash_make(bm);

	if (!h)
		return -ENOMEM;
	for (unsigned i = 0; i < CAP_SLOTS; i++) {
		struct cap_index *e = &m->slot[i];
		if (e->id && e->id != CAP_ID_INVALID)
			e->id = badge_hash_new(h, e->id);
	}
	free(h);
	return 0;
}

/*
 * The tree's links all point at slots of the cap map itself, which lies
 * in one region of the copy (model_ptr found it whole): a link moves
 * between host and target address by the map's offset, with no region
 * search per link (three links for each of the CAP_SLOTS slots).
 */
struct map_span {
	uint8_t *host;	/* the map in the copy */
	uint64_t guest; /* its address in the target */
};

/* One link field, host -> target (to_host 0) or back; NULL stays NULL.
 * -EFAULT for a link that is not a slot of the map. */
static int link_move(const struct map_span *s, void **field, int to_host)
{
	uint64_t v = (uint64_t)(uintptr_t)*field, base, off;

	if (!v)
		return 0;
	base = (to_host ? s->guest : (uint64_t)(uintptr_t)s->host) +
	       offsetof(struct cap_map, slot);
	off = v - base;
	if (v < base || off >= sizeof(struct cap_index) * CAP_SLOTS ||
	    off % sizeof(struct cap_index))
		return -EFAULT;
	off += offsetof(struct cap_map, slot);
	*field = to_host ? (void *)(s->host + off) : (void *)(uintptr_t)(s->guest + off);
	return 0;
}

/* Translate every link of the cap map copy (to_host 1: target -> host). */
static int cap_map_links(struct cap_map *m, uint64_t guest, int to_host)
{
	const struct map_span s = {(uint8_t *)m, guest};
	int rc = 0;

	for (unsigned i = 0; i < CAP_SLOTS && !rc; i++) {
		struct cap_index *e = &m->slot[i];
		if (!(rc = link_move(&s, (void **)&e->left, to_host)))
			rc = link_move(&s, (void **)&e->right, to_host);
		if (!rc)
			rc = link_move(&s, (void **)&e->parent, to_host);
	}
	return rc ? rc : link_move(&s, (void **)&m->root, to_host);
}

int cap_map_fix(struct mon_model *model, const struct badge_map *bm)
{
	struct cap_map *m = model_ptr(model, model->cap_map_addr, sizeof *m);
	int rc;

	if (!m || m->magic != CAP_MAP_MAGIC || m->entries != CAP_SLOTS)
		return -EINVAL;
	if ((rc = rebadge_slots(m, bm)))
		return rc;
	if ((rc = cap_map_rebuild(m)) || (rc = cap_map_check(m)))
		return rc ? rc : -EINVAL;
	return cap_map_links(m, model->cap_map_addr, 0);
}

int cap_map_verify(struct mon_model *model)
{
	struct cap_map *m = model_ptr(model, model->cap_map_addr, sizeof *m);
	int rc;

	if (!m)
		return -EINVAL;
	if ((rc = cap_map_links(m, model->cap_map_addr, 1)))
		return rc;
	rc = cap_map_check(m) ? -EINVAL : 0;
	cap_map_links(m, model->cap_map_addr, 0);
	return rc;
}
