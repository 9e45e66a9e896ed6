/*
 * The object pools of every entrypoint of the target, on a checkpoint's
 * copy of its memory (the checkpoint ABI names them: the report's list of
 * entrypoints, each with the root of its pool).  A pool is an AVL tree of
 * objects keyed by badge, and each object's badge must be the id of its
 * cap in the cap map.  A restore, after cap_map_fix gave the caps their
 * new badges, re-keys every object and rebuilds each tree; a verify checks
 * each tree and every object's badge against its cap.
 */
#include <errno.h>
#include <stdlib.h>

#include "monitor/cr_tree.h"
#include "monitor/restore.h"
#include "monitor/target_report.h"

struct pool_walk {
	const struct mon_model *model;
	const struct cr_cap_map *map;
	struct cr_tree_node *node; /* CAP_SLOTS: every object has a cap */
	unsigned n;
	int bad;   /* an object whose badge is not its cap's id */
	int rekey; /* key by the cap's (new) id instead of the stored badge */
};

static int cap_id(const struct pool_walk *w, uint64_t cap, uint64_t *id)
{
	long slot = report_entry_slot(w->model, cap);

	if (slot < 0)
		return -EFAULT;
	*id = w->map->slot[slot].id;
	return 0;
}

static int read_obj(void *ctx, uint64_t addr, struct cr_tree_node *out)
{
	struct pool_walk *w = ctx;
	struct cr_object o;

	if (model_read(w->model, addr, &o, sizeof o))
		return -EFAULT;
	*out = (struct cr_tree_node){addr, o.badge, o.left, o.right, o.parent, o.depth};
	return 0;
}

static void collect(void *ctx, const struct cr_tree_node *n)
{
	struct pool_walk *w = ctx;
	struct cr_object o;
	uint64_t id;

	if (model_read(w->model, n->addr, &o, sizeof o) || cap_id(w, o.cap, &id) || !id ||
	    id == CR_ID_INVALID || (!w->rekey && id != o.badge)) {
		w->bad = 1;
		return;
	}
	w->node[w->n] = *n;
	w->node[w->n].key = id;
	w->n++;
}

/* Write the rebuilt links and new badges of w's objects back. */
static int write_back(struct pool_walk *w)
{
	for (unsigned i = 0; i < w->n; i++) {
		const struct cr_tree_node *n = &w->node[i];
		struct cr_object o;

		if (model_read(w->model, n->addr, &o, sizeof o))
			return -EFAULT;
		o.left = n->left;
		o.right = n->right;
		o.parent = n->parent;
		o.depth = n->depth;
		o.badge = n->key;
		if (model_write(w->model, n->addr, &o, sizeof o))
			return -EFAULT;
	}
	return 0;
}

/* One entrypoint's pool at ep: checked, and with w->rekey rebuilt. */
static int pool_one(struct pool_walk *w, uint64_t ep)
{
	struct cr_entrypoint e;
	unsigned count;
	uint64_t root;
	int rc;

	w->n = 0;
	w->bad = 0;
	if (model_read(w->model, ep, &e, sizeof e))
		return -EFAULT;
	if ((rc = cr_tree_check(e.pool, read_obj, w, CAP_SLOTS, &count, collect)))
		return rc;
	if (w->bad || w->n != count)
		return -EINVAL;
	if (!w->rekey)
		return 0;
	if ((rc = cr_tree_build(w->node, w->n, &root)) || (rc = write_back(w)))
		return rc;
	e.pool = root;
	return model_write(w->model, ep + offsetof(struct cr_entrypoint, pool), &e.pool,
			   sizeof e.pool);
}

int pool_fix_or_check(struct mon_model *model, int rebuild)
{
	struct pool_walk w = {.model = model, .rekey = rebuild};
	uint64_t ep[CR_MAX_EPS];
	struct cr_report r;
	unsigned n;
	char why[160];
	int rc;

	if ((rc = report_read(model, &r, why, sizeof why)) ||
	    (rc = report_entrypoints(model, &r, ep, &n)))
		return rc;
	if (!(w.map = report_cap_map(model)))
		return -EINVAL;
	if (!(w.node = calloc(CAP_SLOTS, sizeof *w.node)))
		return -ENOMEM;
	for (unsigned i = 0; i < n && !rc; i++)
		rc = pool_one(&w, ep[i]);
	free(w.node);
	return rc;
}

int model_handler_thread_nr(const struct mon_model *model, uint64_t *nr)
{
	struct cr_report r;
	char why[160];
	int rc;

	if ((rc = report_read(model, &r, why, sizeof why)))
		return rc;
	if (r.signal_handler_nr == CR_NO_THREAD)
		return -ENOENT;
	*nr = r.signal_handler_nr;
	return 0;
}
