/*
 * Rewriting the target's cap map for a restore, on the checkpoint's copy
 * of its memory (the layout is the checkpoint ABI's struct cr_cap_map):
 * new badges into the same slots (so every capability value stored in
 * the target's memory stays valid), then the AVL tree over the slots
 * rebuilt by the ABI's tree rule (cr_tree.c) and checked.  Links are
 * target addresses of slots.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/cr_tree.h"
#include "monitor/restore.h"
#include "monitor/target_report.h"

static int keyed(uint64_t id)
{
	return id && id != CR_ID_INVALID;
}

/* New badges into every live slot of m. */
static int rebadge_slots(struct cr_cap_map *m, const struct badge_map *bm)
{
	struct badge_hash *h = badge_hash_make(bm);

	if (!h)
		return -ENOMEM;
	for (unsigned i = 0; i < CAP_SLOTS; i++) {
		struct cr_cap_entry *e = &m->slot[i];
		if (keyed(e->id))
			e->id = badge_hash_new(h, e->id);
	}
	free(h);
	return 0;
}

/* Every keyed slot into one tree; -EEXIST if two slots share an id.
 * Nodes for the keyed slots only, and a slot's links written only if
 * they are not zero already: a node for each of the 4096 slots (192 KB
 * allocated and given back each time) and the writes to every slot
 * were 80-110 us of a migration's stop, for some 40 caps. */
static int rebuild(const struct mon_model *model, struct cr_cap_map *m)
{
	struct cr_tree_node *node;
	unsigned n = 0;
	int rc;

	for (unsigned i = 0; i < CAP_SLOTS; i++)
		n += keyed(m->slot[i].id);
	if (!(node = calloc(n + 1, sizeof *node)))
		return -ENOMEM;
	n = 0;
	for (unsigned i = 0; i < CAP_SLOTS; i++) {
		struct cr_cap_entry *e = &m->slot[i];
		if (e->left || e->right || e->parent || e->depth) {
			e->left = e->right = e->parent = 0;
			e->depth = 0;
		}
		if (keyed(e->id))
			node[n++] = (struct cr_tree_node){
			    .addr = report_entry_addr(model, i), .key = e->id};
	}
	rc = cr_tree_build(node, n, &m->root);
	for (unsigned i = 0; !rc && i < n; i++) {
		struct cr_cap_entry *e = &m->slot[report_entry_slot(model, node[i].addr)];
		e->left = node[i].left;
		e->right = node[i].right;
		e->parent = node[i].parent;
		e->depth = (uint8_t)node[i].depth;
	}
	free(node);
	return rc;
}

int cap_map_fix(struct mon_model *model, const struct badge_map *bm)
{
	struct cr_cap_map *m = report_cap_map(model);
	int rc;

	if (!m)
		return -EINVAL;
	if ((rc = rebadge_slots(m, bm)) || (rc = rebuild(model, m)))
		return rc;
	return cap_map_verify(model);
}

struct map_walk {
	const struct mon_model *model;
	const struct cr_cap_map *m;
};

static int read_entry(void *ctx, uint64_t addr, struct cr_tree_node *out)
{
	const struct map_walk *w = ctx;
	long slot = report_entry_slot(w->model, addr);
	const struct cr_cap_entry *e;

	if (slot < 0)
		return -EFAULT;
	e = &w->m->slot[slot];
	if (!keyed(e->id)) /* a free or gone slot in the tree */
		return -EINVAL;
	*out = (struct cr_tree_node){addr, e->id, e->left, e->right, e->parent, e->depth};
	return 0;
}

int cap_map_verify(struct mon_model *model)
{
	struct map_walk w = {model, report_cap_map(model)};
	unsigned count, keyed_slots = 0;
	int rc;

	if (!w.m)
		return -EINVAL;
	if ((rc = cr_tree_check(w.m->root, read_entry, &w, CAP_SLOTS, &count, NULL)))
		return rc; /* -EFAULT: a link that is not a slot */
	for (unsigned i = 0; i < CAP_SLOTS; i++)
		keyed_slots += keyed(w.m->slot[i].id);
	/* every keyed slot is a node: the walk saw distinct slots with
	 * strictly increasing ids, as many as there are keyed slots */
	return count == keyed_slots ? 0 : -EINVAL;
}
