/*
 * Intrusive AVL tree, instantiated per node type (included several
 * times, like a C++ template).  Before including, define:
 *
 *   AVL_PREFIX   name prefix of the generated static functions
 *   AVL_TYPE     node type with members left, right, parent, depth
 *   AVL_KEY(n)   its uint64_t key
 *
 * Generated (all static):
 *   PREFIX_find(root, key)          node or NULL
 *   PREFIX_insert(&root, n)         0, or -EEXIST if the key is present
 *   PREFIX_remove(&root, n)         unlink n (which must be in the tree)
 *   PREFIX_check(root, &count)      0 if order, balance, depth and parent
 *                                   links are consistent; counts nodes
 *   PREFIX_to_list(&root)           empty the tree, return its nodes in key
 *                                   order chained through ->parent
 *
 * Invariants of a tree: in-order keys strictly increase; depth is the
 * height of a node's subtree (1 for a leaf); the depths of the children
 * differ by at most one; parent links mirror child links, root's is NULL.
 * Nodes are never copied, only relinked, so pointers to them stay valid.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#define AVL_CAT2(a, b) a##_##b
#define AVL_CAT(a, b)  AVL_CAT2(a, b)
#define AVL_FN(name)   AVL_CAT(AVL_PREFIX, name)

static inline int AVL_FN(height)(const AVL_TYPE *n)
{
	return n ? (int)n->depth : 0;
}

static inline void AVL_FN(update)(AVL_TYPE *n)
{
	int l = AVL_FN(height)(n->left), r = AVL_FN(height)(n->right);

	n->depth = 1 + (l > r ? l : r);
}

/* Put `new` where `old` hangs below `parent` (or at the root). */
static inline void AVL_FN(replace)(AVL_TYPE **root, AVL_TYPE *parent, AVL_TYPE *old,
				   AVL_TYPE *new)
{
	if (!parent)
		*root = new;
	else if (parent->left == old)
		parent->left = new;
	else
		parent->right = new;
	if (new)
		new->parent = parent;
}

static AVL_TYPE *AVL_FN(rotate_left)(AVL_TYPE **root, AVL_TYPE *x)
{
	AVL_TYPE *y = x->right;

	AVL_FN(replace)(root, x->parent, x, y);
	x->right = y->left;
	if (y->left)
		y->left->parent = x;
	y->left = x;
	x->parent = y;
	AVL_FN(update)(x);
	AVL_FN(update)(y);
	return y;
}

static AVL_TYPE *AVL_FN(rotate_right)(AVL_TYPE **root, AVL_TYPE *x)
{
	AVL_TYPE *y = x->left;

	AVL_FN(replace)(root, x->parent, x, y);
	x->left = y->right;
	if (y->right)
		y->right->parent = x;
	y->right = x;
	x->parent = y;
	AVL_FN(update)(x);
	AVL_FN(update)(y);
	return y;
}

/* Restore depths and balance from n up to the root. */
static void AVL_FN(rebalance)(AVL_TYPE **root, AVL_TYPE *n)
{
	while (n) {
		int bal;

		AVL_FN(update)(n);
		bal = AVL_FN(height)(n->left) - AVL_FN(height)(n->right);
		if (bal > 1) {
			if (AVL_FN(height)(n->left->left) <
			    AVL_FN(height)(n->left->right))
				AVL_FN(rotate_left)(root, n->left);
			n = AVL_FN(rotate_right)(root, n);
		} else if (bal < -1) {
			if (AVL_FN(height)(n->right->right) <
			    AVL_FN(height)(n->right->left))
				AVL_FN(rotate_right)(root, n->right);
			n = AVL_FN(rotate_left)(root, n);
		}
		n = n->parent;
	}
}

static __attribute__((unused)) AVL_TYPE *AVL_FN(find)(AVL_TYPE *n, uint64_t key)
{
	while (n && AVL_KEY(n) != key)
		n = key < AVL_KEY(n) ? n->left : n->right;
	return n;
}

static __attribute__((unused)) int AVL_FN(insert)(AVL_TYPE **root, AVL_TYPE *n)
{
	AVL_TYPE *p = NULL, **link = root;
	uint64_t key = AVL_KEY(n);

	while (*link) {
		p = *link;
		if (key == AVL_KEY(p))
			return -EEXIST;
		link = key < AVL_KEY(p) ? &p->left : &p->right;
	}
	n->left = n->right = NULL;
	n->parent = p;
	n->depth = 1;
	*link = n;
	AVL_FN(rebalance)(root, p);
	return 0;
}

static __attribute__((unused)) void AVL_FN(remove)(AVL_TYPE **root, AVL_TYPE *n)
{
	AVL_TYPE *start;

	if (n->left && n->right) {
		/* replace n by its in-order successor s (s has no left child) */
		AVL_TYPE *s = n->right;

		while (s->left)
			s = s->left;
		if (s->parent == n) {
			start = s;
		} else {
			start = s->parent;
			AVL_FN(replace)(root, s->parent, s, s->right);
			s->right = n->right;
			s->right->parent = s;
		}
		s->left = n->left;
		s->left->parent = s;
		AVL_FN(replace)(root, n->parent, n, s);
	} else {
		start = n->parent;
		AVL_FN(replace)(root, n->parent, n, n->left ? n->left : n->right);
	}
	n->left = n->right = n->parent = NULL;
	n->depth = 0;
	AVL_FN(rebalance)(root, start);
}

/* Recursive check of the subtree n; keys must lie in (lo, hi) where the
 * has_lo/has_hi flags say whether a bound exists.  Returns its height or
 * -1 if broken. */
static int AVL_FN(check_sub)(const AVL_TYPE *n, const AVL_TYPE *parent, int has_lo,
			     uint64_t lo, int has_hi, uint64_t hi, uint64_t *count)
{
	int l, r;

	if (!n)
		return 0;
	if (n->parent != parent || (has_lo && AVL_KEY(n) <= lo) ||
	    (has_hi && AVL_KEY(n) >= hi))
		return -1;
	l = AVL_FN(check_sub)(n->left, n, has_lo, lo, 1, AVL_KEY(n), count);
	r = AVL_FN(check_sub)(n->right, n, 1, AVL_KEY(n), has_hi, hi, count);
	if (l < 0 || r < 0 || l - r > 1 || r - l > 1)
		return -1;
	if ((int)n->depth != 1 + (l > r ? l : r))
		return -1;
	(*count)++;
	return (int)n->depth;
}

static __attribute__((unused)) int AVL_FN(check)(const AVL_TYPE *root, uint64_t *count)
{
	*count = 0;
	return AVL_FN(check_sub)(root, NULL, 0, 0, 0, 0, count) < 0 ? -1 : 0;
}

/* Tree-to-vine without recursion or memory (Day/Stout/Warren): rotate
 * every left child up, then walk right.  Works on any binary tree whose
 * child links are intact, even if the keys are no longer ordered. */
static __attribute__((unused)) AVL_TYPE *AVL_FN(to_list)(AVL_TYPE **root)
{
	AVL_TYPE *n = *root, *head = NULL, **tail = &head;

	while (n) {
		if (n->left) {
			AVL_TYPE *l = n->left;

			n->left = l->right;
			l->right = n;
			n = l;
			continue;
		}
		AVL_TYPE *next = n->right;

		n->right = NULL;
		n->parent = NULL;
		n->depth = 0;
		*tail = n;
		tail = &n->parent;
		n = next;
	}
	*root = NULL;
	return head;
}

#undef AVL_FN
#undef AVL_CAT
#undef AVL_CAT2
#undef AVL_PREFIX
#undef AVL_TYPE
#undef AVL_KEY
