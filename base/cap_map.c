/*
 * The cap map (docs/design.md, "The cap map"): a fixed array of
 * CAP_SLOTS entries whose position is the kcap, with an AVL tree keyed by
 * id over the entries that name a known object.
 *
 * Slot states: id 0 = free; CAP_ID_INVALID = used but not in the tree (a
 * reserved receive-window slot, or an entry whose object is known gone);
 * any other id = used and in the tree.  first_free_hint is a lower bound
 * of the first free slot >= FIXED_USER_BASE.
 */
#include <errno.h>
#include <string.h>
#include "platform.h"

#define AVL_PREFIX cap_avl
#define AVL_TYPE   struct cap_index
#define AVL_KEY(n) ((n)->id)
#include "avl_tmpl.h"

static int id_in_tree(uint64_t id)
{
	return id != 0 && id != CAP_ID_INVALID;
}

static int entry_ok(const struct cap_map *m, const struct cap_index *e)
{
	return e >= m->slot && e < m->slot + CAP_SLOTS &&
	       ((const char *)e - (const char *)m->slot) % sizeof(*e) == 0;
}

void cap_map_init(struct cap_map *m)
{
	memset(m, 0, sizeof(*m));
	m->magic = CAP_MAP_MAGIC;
	m->entries = CAP_SLOTS;
	m->first_free_hint = FIXED_USER_BASE;
}

/* Take slot e for id (ref 1) and link it; e is free, id not known. */
static struct cap_index *cap_map_take(struct cap_map *m, struct cap_index *e, uint64_t id)
{
	uint64_t index = (uint64_t)(e - m->slot);

	memset(e, 0, sizeof(*e));
	e->id = id;
	e->ref = 1;
	e->fixed = index < FIXED_USER_BASE;
	if (cap_avl_insert(&m->root, e)) {
		e->id = 0;
		return NULL;
	}
	return e;
}

struct cap_index *cap_map_insert(struct cap_map *m, uint64_t id)
{
	uint64_t i;

	if (!id_in_tree(id) || cap_avl_find(m->root, id))
		return NULL;
	if (m->first_free_hint < FIXED_USER_BASE)
		m->first_free_hint = FIXED_USER_BASE;
	for (i = m->first_free_hint; i < CAP_SLOTS && m->slot[i].id; i++)
		;
	if (i == CAP_SLOTS) {
		m->first_free_hint = CAP_SLOTS;
		return NULL;
	}
	m->first_free_hint = i + 1;
	return cap_map_take(m, &m->slot[i], id);
}

struct cap_index *cap_map_insert_at(struct cap_map *m, uint64_t id, uint64_t kcap)
{
	uint64_t index = KCAP_INDEX(kcap);

	if (!id_in_tree(id) || kcap % KCAP(1) || index == 0 || index >= CAP_SLOTS)
		return NULL;
	if (m->slot[index].id || cap_avl_find(m->root, id))
		return NULL;
	return cap_map_take(m, &m->slot[index], id);
}

struct cap_index *cap_map_find(struct cap_map *m, uint64_t id)
{
	return id_in_tree(id) ? cap_avl_find(m->root, id) : NULL;
}

void cap_map_remove(struct cap_map *m, struct cap_index *e)
{
	uint64_t index;

	if (!e || !entry_ok(m, e) || !e->id)
		return;
	if (id_in_tree(e->id))
		cap_avl_remove(&m->root, e);
	index = (uint64_t)(e - m->slot);
	memset(e, 0, sizeof(*e));
	if (index >= FIXED_USER_BASE && index < m->first_free_hint)
		m->first_free_hint = index;
}

struct cap_index *cap_map_alloc_range(struct cap_map *m, unsigned n)
{
	uint64_t run = 0;

	if (n == 0 || n > CAP_SLOTS - FIXED_USER_BASE)
		return NULL;
	for (uint64_t i = FIXED_USER_BASE; i < CAP_SLOTS; i++) {
		run = m->slot[i].id ? 0 : run + 1;
		if (run < n)
			continue;
		struct cap_index *first = &m->slot[i + 1 - n];

		for (unsigned j = 0; j < n; j++) {
			memset(&first[j], 0, sizeof(first[j]));
			first[j].id = CAP_ID_INVALID;
		}
		return first;
	}
	return NULL;
}

int cap_map_rekey(struct cap_map *m, struct cap_index *e, uint64_t new_id)
{
	if (!e || !entry_ok(m, e) || !e->id || !new_id)
		return -EINVAL;
	if (new_id == e->id)
		return 0;
	if (id_in_tree(new_id) && cap_avl_find(m->root, new_id))
		return -EEXIST;
	if (id_in_tree(e->id))
		cap_avl_remove(&m->root, e);
	e->id = new_id;
	if (id_in_tree(new_id))
		cap_avl_insert(&m->root, e); /* cannot fail: checked above */
	return 0;
}

int cap_map_rebuild(struct cap_map *m)
{
	int err = 0;

	m->root = NULL;
	for (unsigned i = 0; i < CAP_SLOTS; i++) {
		struct cap_index *e = &m->slot[i];

		e->left = e->right = e->parent = NULL;
		e->depth = 0;
		if (id_in_tree(e->id) && cap_avl_insert(&m->root, e)) {
			e->id = CAP_ID_INVALID; /* a duplicate id: keep the slot, drop the
						   key */
			err = -EEXIST;
		}
	}
	return err;
}

int cap_map_check(const struct cap_map *m)
{
	uint64_t tree = 0, used = 0;

	if (m->magic != CAP_MAP_MAGIC || m->entries != CAP_SLOTS)
		return -1;
	if (cap_avl_check(m->root, &tree))
		return -1;
	for (unsigned i = 0; i < CAP_SLOTS; i++) {
		const struct cap_index *e = &m->slot[i];

		if (!id_in_tree(e->id))
			continue;
		used++;
		/* every keyed slot must be the node the tree finds for its id */
		if (cap_avl_find(m->root, e->id) != e)
			return -1;
	}
	return used == tree ? 0 : -1;
}

uint64_t cap_map_kcap(const struct cap_map *m, const struct cap_index *e)
{
	if (!e || !entry_ok(m, e))
		return KCAP_INVALID;
	return KCAP(e - m->slot);
}

struct cap_index *cap_map_entry(struct cap_map *m, uint64_t kcap)
{
	uint64_t index = KCAP_INDEX(kcap);

	if (kcap % KCAP(1) || index == 0 || index >= CAP_SLOTS)
		return NULL;
	return &m->slot[index];
}
