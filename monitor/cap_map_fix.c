/*
 * Rewriting the target's cap map for a restore, on the checkpoint's copy
 * of its memory: new badges into the same slots (so every cap_t in the
 * target's memory stays valid), then the AVL tree rebuilt by libbase's own
 * cap_map_rebuild and checked by cap_map_check.  The tree's links are
 * target addresses; they are translated to host pointers into the copy
 * for the rebuild and back afterwards.
 */
#include <errno.h>
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

/* A badge map's pairs sorted by old badge, then by position (so that the
 * first pair of an old badge wins, as in badge_map_new). */
struct sorted_pair {
	uint64_t old_badge, new_badge;
	unsigned pos;
};

static int pair_cmp(const void *a, const void *b)
{
	const struct sorted_pair *x = a, *y = b;

	if (x->old_badge != y->old_badge)
		return x->old_badge < y->old_badge ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* badge_map_new on the sorted pairs sp[0, n). */
static uint64_t sorted_new(const struct sorted_pair *sp, unsigned n, uint64_t old)
{
	unsigned lo = 0, hi = n;

	while (lo < hi) { /* the first pair with old_badge >= old */
		unsigned mid = lo + (hi - lo) / 2;
		if (sp[mid].old_badge < old)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && sp[lo].old_badge == old ? sp[lo].new_badge : old;
}

/* New badges into every live slot of m: one sorted index of bm, then a
 * binary search per slot. */
static int rebadge_slots(struct cap_map *m, const struct badge_map *bm)
{
	unsigned n = bm->n < CAP_SLOTS ? bm->n : CAP_SLOTS;
	struct sorted_pair *sp = malloc((n ? n : 1) * sizeof *sp);

	if (!sp)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++)
		sp[i] =
		    (struct sorted_pair){bm->pair[i].old_badge, bm->pair[i].new_badge, i};
	qsort(sp, n, sizeof *sp, pair_cmp);
	for (unsigned i = 0; i < CAP_SLOTS; i++) {
		struct cap_index *e = &m->slot[i];
		if (e->id && e->id != CAP_ID_INVALID)
			e->id = sorted_new(sp, n, e->id);
	}
	free(sp);
	return 0;
}

int cap_map_fix(struct mon_model *model, const struct badge_map *bm)
{
	struct cap_map *m = model_ptr(model, model->cap_map_addr, sizeof *m);
	uint64_t g;
	int rc;

	if (!m || m->magic != CAP_MAP_MAGIC || m->entries != CAP_SLOTS)
		return -EINVAL;
	if ((rc = rebadge_slots(m, bm)))
		return rc;
	if ((rc = cap_map_rebuild(m)) || (rc = cap_map_check(m)))
		return rc ? rc : -EINVAL;
	/* host -> guest: the tree's links point into the same array */
	if ((rc = model_h2g(model, m, &g)))
		return rc;
	for (unsigned i = 0; i < CAP_SLOTS; i++) {
		struct cap_index *e = &m->slot[i];
		if ((rc = model_h2g_ptr(model, (void **)&e->left)) ||
		    (rc = model_h2g_ptr(model, (void **)&e->right)) ||
		    (rc = model_h2g_ptr(model, (void **)&e->parent)))
			return rc;
	}
	return model_h2g_ptr(model, (void **)&m->root);
}

/* Translate every link of the cap map copy (dir 1: guest -> host). */
static int cap_map_links(struct mon_model *model, struct cap_map *m, int to_host)
{
	int rc = 0;

	for (unsigned i = 0; i < CAP_SLOTS && !rc; i++) {
		struct cap_index *e = &m->slot[i];
		void **f[3] = {(void **)&e->left, (void **)&e->right,
			       (void **)&e->parent};
		for (int k = 0; k < 3 && !rc; k++)
			rc = to_host ? model_g2h_ptr(model, f[k], sizeof *e)
				     : model_h2g_ptr(model, f[k]);
	}
	if (!rc)
		rc = to_host ? model_g2h_ptr(model, (void **)&m->root, sizeof *m->root)
			     : model_h2g_ptr(model, (void **)&m->root);
	return rc;
}

int cap_map_verify(struct mon_model *model)
{
	struct cap_map *m = model_ptr(model, model->cap_map_addr, sizeof *m);
	int rc;

	if (!m)
		return -EINVAL;
	if ((rc = cap_map_links(model, m, 1)))
		return rc;
	rc = cap_map_check(m) ? -EINVAL : 0;
	cap_map_links(model, m, 0);
	return rc;
}
