/*
 * Mapping database: every full cap slot is a node of a tree whose root is
 * the mapping the kernel made when it created (or first handed out) the
 * object; a mapping derived by TASK_MAP or an IPC map item is a child of
 * its source.  Revocation empties a whole subtree, across tasks.
 *
 * The walks are iterative (a chain of mappings may be thousands deep) and
 * never kill objects themselves: kobj_cap_drop() only queues them, so the
 * tree cannot change under a walk.
 */
#include <assert.h>
#include <stddef.h>
#include "kernel/kernel.h"

static void mapdb_unlink(struct cap_slot *s)
{
	if (s->prev_sib)
		s->prev_sib->next_sib = s->next_sib;
	else if (s->parent)
		s->parent->first_child = s->next_sib;
	if (s->next_sib)
		s->next_sib->prev_sib = s->prev_sib;
	s->parent = s->next_sib = s->prev_sib = NULL;
}

static void mapdb_link(struct cap_slot *parent, struct cap_slot *child)
{
	child->parent = parent;
	child->prev_sib = NULL;
	child->next_sib = parent ? parent->first_child : NULL;
	if (child->next_sib)
		child->next_sib->prev_sib = child;
	if (parent)
		parent->first_child = child;
}

/* Empty a slot that has no children. */
static void mapdb_clear_leaf(struct cap_slot *s)
{
	struct kobj *o = s->obj;

	assert(!s->first_child);
	mapdb_unlink(s);
	s->obj = NULL;
	s->rights = 0;
	if (o)
		kobj_cap_drop(o);
}

bool mapdb_is_ancestor(const struct cap_slot *a, const struct cap_slot *b)
{
	for (; b; b = b->parent)
		if (a == b)
			return true;
	return false;
}

void mapdb_revoke(struct cap_slot *s, bool self)
{
	struct cap_slot *n = s->first_child;

	/* post-order: descend to a leaf, empty it, continue at its parent */
	while (n) {
		struct cap_slot *p;

		if (n->first_child) {
			n = n->first_child;
			continue;
		}
		p = n->parent;
		mapdb_clear_leaf(n);
		n = p == s ? s->first_child : p;
	}
	if (self && s->obj)
		mapdb_clear_leaf(s);
}

void mapdb_release(struct cap_slot *s)
{
	struct cap_slot *c;

	if (!s->obj)
		return;
	while ((c = s->first_child)) {
		mapdb_unlink(c);
		mapdb_link(s->parent, c);
	}
	mapdb_clear_leaf(s);
}

void mapdb_map(struct cap_slot *dst, struct cap_slot *src, unsigned mask, bool revoke_dst)
{
	struct kobj *o = src->obj;
	unsigned rights = (src->rights & mask & RIGHTS_ALL) | RIGHT_R;

	assert(o && dst != src);
	assert(!revoke_dst || !mapdb_is_ancestor(dst, src));
	kobj_get(o); /* src may be a descendant of dst when releasing */
	if (dst->obj) {
		if (revoke_dst)
			mapdb_revoke(dst, true);
		else
			mapdb_release(dst);
	}
	dst->obj = o;
	dst->rights = rights;
	kobj_cap_add(o);
	mapdb_link(src, dst);
	kobj_put(o);
}
