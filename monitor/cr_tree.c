/*
 * Building and checking the AVL trees of the checkpoint ABI.  A rebuilt
 * tree is perfectly balanced (the middle key of each range is its root),
 * which satisfies the AVL rule, so the target's libbase goes on inserting
 * and removing as usual after the restore.
 */
#include <errno.h>
#include <stdlib.h>

#include "monitor/cr_tree.h"

static int by_key(const void *a, const void *b)
{
	const struct cr_tree_node *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

/* Link node[lo, hi) below parent; the subtree's root index, or -1. */
static int link_range(struct cr_tree_node *node, int lo, int hi, uint64_t parent)
{
	int mid, l, r, dl, dr;

	if (lo >= hi)
		return -1;
	mid = lo + (hi - lo) / 2;
	node[mid].parent = parent;
	l = link_range(node, lo, mid, node[mid].addr);
	r = link_range(node, mid + 1, hi, node[mid].addr);
	node[mid].left = l < 0 ? 0 : node[l].addr;
	node[mid].right = r < 0 ? 0 : node[r].addr;
	dl = l < 0 ? 0 : node[l].depth;
	dr = r < 0 ? 0 : node[r].depth;
	node[mid].depth = 1 + (dl > dr ? dl : dr);
	return mid;
}

int cr_tree_build(struct cr_tree_node *node, unsigned n, uint64_t *root)
{
	int r;

	qsort(node, n, sizeof *node, by_key);
	for (unsigned i = 1; i < n; i++)
		if (node[i].key == node[i - 1].key)
			return -EEXIST;
	r = link_range(node, 0, (int)n, 0);
	*root = r < 0 ? 0 : node[r].addr;
	return 0;
}

struct walk {
	cr_tree_read_fn read;
	void *ctx;
	unsigned max, count;
	int have_last;
	uint64_t last;
	void (*visit)(void *ctx, const struct cr_tree_node *n);
};

/* Check the subtree at addr hanging below parent; its height in *h. */
static int walk(struct walk *w, uint64_t addr, uint64_t parent, unsigned depth, int *h)
{
	struct cr_tree_node n;
	int hl, hr, rc;

	*h = 0;
	if (!addr)
		return 0;
	if (depth > 64 || w->count >= w->max)
		return -ELOOP;
	if ((rc = w->read(w->ctx, addr, &n)))
		return rc;
	if (n.parent != parent)
		return -EINVAL;
	w->count++;
	if ((rc = walk(w, n.left, addr, depth + 1, &hl)))
		return rc;
	if (w->have_last && n.key <= w->last)
		return -EINVAL;
	w->have_last = 1;
	w->last = n.key;
	if (w->visit)
		w->visit(w->ctx, &n);
	if ((rc = walk(w, n.right, addr, depth + 1, &hr)))
		return rc;
	*h = 1 + (hl > hr ? hl : hr);
	if (n.depth != *h || hl - hr > 1 || hr - hl > 1)
		return -EINVAL;
	return 0;
}

int cr_tree_check(uint64_t root, cr_tree_read_fn read, void *ctx, unsigned max,
		  unsigned *count, void (*visit)(void *ctx, const struct cr_tree_node *n))
{
	struct walk w = {.read = read, .ctx = ctx, .max = max, .visit = visit};
	int h, rc = walk(&w, root, 0, 0, &h);

	*count = w.count;
	return rc;
}
