/*
 * Rebuilding the target's entrypoint object pool for a restore, on the
 * checkpoint's copy of its memory: the pool is an AVL tree of rpc_objects
 * keyed by badge, and each object's badge must become the new id of its
 * cap (already rewritten by cap_map_fix).  Links and cap pointers are
 * translated to host pointers into the copy, libbase's ep_pool_rebuild
 * and ep_pool_check run on it, and everything is translated back.  A
 * heap object may cross from one heap chunk into the next (see struct
 * pool_bounce): it is worked on in a contiguous copy.
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

/* An object that straddles two target regions which are adjacent in the
 * target but separate buffers in the copy: the heap coalesces a chunk's
 * free tail with the next chunk when their dataspaces are attached back
 * to back, so an array of objects can cross from one dataspace into the
 * next.  It is worked on in obj and written back at guest afterwards.
 * Objects do not overlap, so each region boundary holds at most one. */
struct pool_bounce {
	uint64_t guest;
	struct rpc_object obj;
};

struct pool_nodes {
	unsigned n, nbounce;
	struct rpc_object *node[POOL_MAX]; /* host pointers */
	struct pool_bounce bounce[MON_MAX_REGIONS];
};

/* Copy size bytes at target address g out of the model (to = 0) or into
 * it (to = 1), across adjacent regions.  0, or -EFAULT if a byte of it
 * lies in no region. */
static int span_copy(const struct mon_model *model, uint64_t g, void *buf, uint64_t size,
		     int to)
{
	uint8_t *b = buf;

	while (size) {
		const struct mon_model_region *r = NULL;
		uint64_t n;

		for (unsigned i = 0; i < model->nregions && !r; i++)
			if (!model->region[i].rm && model->region[i].data &&
			    g >= model->region[i].at &&
			    g - model->region[i].at < model->region[i].size)
				r = &model->region[i];
		if (!r)
			return -EFAULT;
		n = r->size - (g - r->at);
		n = n < size ? n : size;
		if (to)
			memcpy(r->data + (g - r->at), b, n);
		else
			memcpy(b, r->data + (g - r->at), n);
		g += n;
		b += n;
		size -= n;
	}
	return 0;
}

/* Guest node pointer -> host pointer: into the copy, or into a bounce
 * buffer when the node straddles regions.  -EFAULT if it lies outside. */
static int node_g2h(const struct mon_model *model, struct pool_nodes *pn, void **field)
{
	uint64_t g = (uint64_t)(uintptr_t)*field;
	struct pool_bounce *b;

	if (!model_g2h_ptr(model, field, sizeof(struct rpc_object)))
		return 0;
	if (pn->nbounce == MON_MAX_REGIONS)
		return -EFAULT;
	b = &pn->bounce[pn->nbounce];
	if (span_copy(model, g, &b->obj, sizeof b->obj, 0))
		return -EFAULT;
	b->guest = g;
	pn->nbounce++;
	*field = &b->obj;
	return 0;
}

/* Host pointer (into the copy or a bounce buffer) -> guest pointer. */
static int node_h2g(const struct mon_model *model, const struct pool_nodes *pn,
		    void **field)
{
	for (unsigned i = 0; i < pn->nbounce; i++)
		if (*field == &pn->bounce[i].obj) {
			*field = (void *)(uintptr_t)pn->bounce[i].guest;
			return 0;
		}
	return model_h2g_ptr(model, field);
}

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
	if ((rc = node_g2h(model, pn, field)))
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

/* Links back to guest pointers, then the bounced nodes back into the
 * copy. */
static int translate_back(const struct mon_model *model, struct pool_nodes *pn)
{
	int rc;

	for (unsigned i = 0; i < pn->n; i++) {
		struct rpc_object *o = pn->node[i];
		if ((rc = node_h2g(model, pn, (void **)&o->left)) ||
		    (rc = node_h2g(model, pn, (void **)&o->right)) ||
		    (rc = node_h2g(model, pn, (void **)&o->parent)) ||
		    (rc = model_h2g_ptr(model, (void **)&o->cap.idx)))
			return rc;
	}
	for (unsigned i = 0; i < pn->nbounce; i++)
		if ((rc = span_copy(model, pn->bounce[i].guest, &pn->bounce[i].obj,
				    sizeof pn->bounce[i].obj, 1)))
			return rc;
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
	/* the root before the nodes: translate_back ends the bounces */
	if (!rc)
		rc = node_h2g(model, pn, (void **)&ep->pool);
	if (!rc)
		rc = translate_back(model, pn);
out:
	free(pn);
	return rc;
}

int model_handler_thread_nr(const struct mon_model *model, uint64_t *nr)
{
	uint64_t bt = model->thread[0].utcb_data.tcr[TCR_USER];
	const struct base_state *bs;
	struct thread t;

	if (bt < offsetof(struct base_state, main_thread))
		return -EINVAL;
	bs = model_ptr(model, bt - offsetof(struct base_state, main_thread), sizeof *bs);
	if (!bs || bs->magic != BASE_STATE_MAGIC || !bs->signal.handler_thread)
		return -ENOENT;
	/* a heap object: it may straddle two adjacent chunks */
	if (span_copy(model, (uint64_t)(uintptr_t)bs->signal.handler_thread, &t, sizeof t,
		      0))
		return -EFAULT;
	*nr = t.nr;
	return 0;
}
