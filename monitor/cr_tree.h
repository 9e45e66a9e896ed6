/*
 * The tree rule of the checkpoint ABI (<capsule/checkpoint_abi.h>): the
 * cap map and every object pool in a target's memory are AVL trees whose
 * links are target addresses.  A restore changes their keys (new badges)
 * and rebuilds them here, a verify checks them here; the node layouts
 * stay with the callers (cap_map_fix.c, pool_fix.c).
 */
#ifndef MONITOR_CR_TREE_H
#define MONITOR_CR_TREE_H

#include <stdint.h>

/* One node: its address and key in; its links and depth out of
 * cr_tree_build, or as read from memory for cr_tree_check. */
struct cr_tree_node {
	uint64_t addr, key;
	uint64_t left, right, parent;
	int depth;
};

/* Sort n nodes by key and link them into a balanced tree by the rule;
 * *root the root's address (0 when n is 0).  -EEXIST if a key repeats
 * (nothing is linked then). */
int cr_tree_build(struct cr_tree_node *node, unsigned n, uint64_t *root);

/* Read the node at addr (its links, depth and key); 0 or -errno. */
typedef int (*cr_tree_read_fn)(void *ctx, uint64_t addr, struct cr_tree_node *out);

/* Walk the tree at root and check the rule: keys strictly increase in
 * order, depths are heights and balanced, parent links mirror child
 * links; at most max nodes.  0 with *count the number of nodes, or
 * -EINVAL (-ELOOP past max nodes / a deep walk, or what read returned).
 * If visit is not NULL it is called for each node in key order. */
int cr_tree_check(uint64_t root, cr_tree_read_fn read, void *ctx, unsigned max,
		  unsigned *count,
		  void (*visit)(void *ctx, const struct cr_tree_node *n));

#endif
