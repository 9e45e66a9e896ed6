/*
 * Rebuilding the target's entrypoint object pool for a restore, on the
 * checkpoint's copy of its memory: the pool is an AVL tree of rpc_objects
 * keyed by badge, and each object's badge must become the new id of its
 * cap (already rewritten by cap_map_fix).  Links and cap pointers are
 * translated to host pointers into the copy, libbase's ep_pool_rebuild
 * and ep_pool_check run on it, and everything is translated back.
 *
 * The entrypoint is found like a debugger would: the main thread's UTCB
 * names its struct base_thread (tcr[TCR_USER]), which names its
 * entrypoint.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/platform.h"
#include "monitor/restore.h"

#define POOL_MAX CAP_SLOTS /* every object has a cap in the map */

struct pool_nodes {
	unsigned n;
	struct rpc_object *node[POOL_MAX]; /* host pointers */
};

/* Collect the tree at guest address g, translating each node's links and
 * cap pointer to host pointers. */
static int collect(const struct mon_model *model, void **field, struct pool_nodes *pn,
		   unsigned depth)
{
	struct rpc_object *o;
	int rc;

	if (!*field)
		return 0;
	if (depth > 64 || pn->n == POOL_MAX)
		return -ELOOP;
	if ((rc = model_g2h_ptr(model, field, sizeof(struct rpc_object))))
		return rc;
	o = *field;
	pn->node[pn->n++] = o;
	if ((rc = model_g2h_ptr(model, (void **)&o->cap.idx, sizeof(struct cap_index))))
		return rc;
	o->parent = NULL; /* rebuilt */
	if ((rc = collect(model, (void **)&o->left, pn, depth + 1)))
		return rc;
	return collect(model, (void **)&o->right, pn, depth + 1);
}

static int translate_back(const struct mon_model *model, struct pool_nodes *pn)
{
	int rc;

	for (unsigned i = 0; i < pn->n; i++) {
		struct rpc_object *o = pn->node[i];
		if ((rc = model_h2g_ptr(model, (void **)&o->left)) ||
		    (rc = model_h2g_ptr(model, (void **)&o->right)) ||
		    (rc = model_h2g_ptr(model, (void **)&o->parent)) ||
		    (rc = model_h2g_ptr(model, (void **)&o->cap.idx)))
			return rc;
	}
	return 0;
}

static void relink(struct rpc_object *n, struct rpc_object *parent)
{
	if (!n)
		return;
	n->parent = parent;
	relink(n->left, n);
	relink(n->right, n);
}

struct entrypoint *model_entrypoint(const struct mon_model *model, uint64_t *guest)
{
	const struct mon_model_thread *main = &model->thread[0];
	struct base_thread *bt =
	    model_ptr(model, main->utcb_data.tcr[TCR_USER], sizeof(struct base_thread));
	struct entrypoint *ep;

	if (!bt || !bt->ep)
		return NULL;
	ep = model_ptr(model, (uint64_t)(uintptr_t)bt->ep, sizeof *ep);
	if (!ep || ep->magic != EP_MAGIC)
		return NULL;
	*guest = (uint64_t)(uintptr_t)bt->ep;
	return ep;
}

int pool_fix_or_check(struct mon_model *model, int rebuild)
{
	struct pool_nodes *pn = calloc(1, sizeof *pn);
	struct entrypoint *ep;
	uint64_t g;
	int rc = -EINVAL;

	if (!pn)
		return -ENOMEM;
	ep = model_entrypoint(model, &g);
	if (!ep)
		goto out;
	if ((rc = collect(model, (void **)&ep->pool, pn, 0)))
		goto out;
	if (rebuild)
		ep_pool_rebuild(ep);
	else /* collect() cleared the parent links: recompute them */
		relink(ep->pool, NULL);
	rc = ep_pool_check(ep) ? -EINVAL : 0;
	if (!rc)
		rc = translate_back(model, pn);
	if (!rc)
		rc = model_h2g_ptr(model, (void **)&ep->pool);
out:
	free(pn);
	return rc;
}

int model_handler_thread_nr(const struct mon_model *model, uint64_t *nr)
{
	uint64_t bt = model->thread[0].utcb_data.tcr[TCR_USER];
	const struct base_state *bs;
	const struct thread *t;

	if (bt < offsetof(struct base_state, main_thread))
		return -EINVAL;
	bs = model_ptr(model, bt - offsetof(struct base_state, main_thread), sizeof *bs);
	if (!bs || bs->magic != BASE_STATE_MAGIC || !bs->signal.handler_thread)
		return -ENOENT;
	t = model_ptr(model, (uint64_t)(uintptr_t)bs->signal.handler_thread, sizeof *t);
	if (!t)
		return -EFAULT;
	*nr = t->nr;
	return 0;
}
