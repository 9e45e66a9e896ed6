/*
 * The cap map (docs/design.md, "The cap map"): a fixed array of
 * CAP_SLOTS entries whose position is the kcap, with an AVL tree keyed by
 * id over the entries that name a known object.  A native component's map
 * goes on in an extension (ext, ext_entries) with the indices CAP_SLOTS
 * and up: core and init hold caps for every child, so their maps must
 * not end where a guest's does.
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

static int in_array(const struct cap_index *a, uint64_t n, const struct cap_index *e)
{
	return a && e >= a && e < a + n &&
	       ((const char *)e - (const char *)a) % sizeof(*e) == 0;
}

static int entry_ok(const struct cap_map *m, const struct cap_index *e)
{
	return in_array(m->slot, CAP_SLOTS, e) || in_array(m->ext, m->ext_entries, e);
}

uint64_t cap_map_size(const struct cap_map *m)
{
	return CAP_SLOTS + (m->ext ? m->ext_entries : 0);
}

struct cap_index *cap_map_slot(struct cap_map *m, uint64_t index)
{
	if (index < CAP_SLOTS)
		return &m->slot[index];
	if (index < cap_map_size(m))
		return &m->ext[index - CAP_SLOTS];
	return NULL;
}

static uint64_t index_of(const struct cap_map *m, const struct cap_index *e)
{
	if (in_array(m->slot, CAP_SLOTS, e))
		return (uint64_t)(e - m->slot);
	return CAP_SLOTS + (uint64_t)(e - m->ext);
}

void cap_map_init(struct cap_map *m)
{
	struct cap_index *ext = m->ext;
	uint64_t n = m->ext_entries;

	memset(m, 0, sizeof(*m));
	m->magic = CAP_MAP_MAGIC;
	m->entries = CAP_SLOTS;
	m->first_free_hint = FIXED_USER_BASE;
	m->ext = ext;
	m->ext_entries = ext ? n : 0;
}

void cap_map_extend(struct cap_map *m, struct cap_index *ext, uint64_t n)
{
	m->ext = ext;
	m->ext_entries = ext ? n : 0;
}

/* Take slot e for id (ref 1) and link it; e is free, id not known. */
static struct cap_index *cap_map_take(struct cap_map *m, struct cap_index *e, uint64_t id)
{
	uint64_t index = index_of(m, e);

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
	uint64_t i, size = cap_map_size(m);

	if (!id_in_tree(id) || cap_avl_find(m->root, id))
		return NULL;
	if (m->first_free_hint < FIXED_USER_BASE)
		m->first_free_hint = FIXED_USER_BASE;
	for (i = m->first_free_hint; i < size && cap_map_slot(m, i)->id; i++)
		;
	if (i >= size) {
		m->first_free_hint = size;
		return NULL;
	}
	m->first_free_hint = i + 1;
	return cap_map_take(m, cap_map_slot(m, i), id);
}

struct cap_index *cap_map_insert_at(struct cap_map *m, uint64_t id, uint64_t kcap)
{
	uint64_t index = KCAP_INDEX(kcap);

	if (!id_in_tree(id) || kcap % KCAP(1) || index == 0 || index >= cap_map_size(m))
		return NULL;
	if (cap_map_slot(m, index)->id || cap_avl_find(m->root, id))
		return NULL;
	return cap_map_take(m, cap_map_slot(m, index), id);
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
	index = index_of(m, e);
	memset(e, 0, sizeof(*e));
	if (index >= FIXED_USER_BASE && index < m->first_free_hint)
		m->first_free_hint = index;
}

struct cap_index *cap_map_alloc_range(struct cap_map *m, unsigned n)
{
	uint64_t run = 0;

	if (n == 0 || n > CAP_SLOTS - FIXED_USER_BASE)
		return NULL;
	for (uint64_t i = FIXED_USER_BASE; i < cap_map_size(m); i++) {
		/* a window is consecutive in memory too: none spans the
		 * fixed array and the extension */
		if (cap_map_slot(m, i)->id)
			run = 0;
		else
			run = i == CAP_SLOTS ? 1 : run + 1;
		if (run < n)
			continue;
		struct cap_index *first = cap_map_slot(m, i + 1 - n);

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
	for (uint64_t i = 0; i < cap_map_size(m); i++) {
		struct cap_index *e = cap_map_slot(m, i);

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
	for (uint64_t i = 0; i < cap_map_size(m); i++) {
		const struct cap_index *e = cap_map_slot((struct cap_map *)m, i);

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
	return KCAP(index_of(m, e));
}

struct cap_index *cap_map_entry(struct cap_map *m, uint64_t kcap)
{
	uint64_t index = KCAP_INDEX(kcap);

	if (kcap % KCAP(1) || index == 0)
		return NULL;
	return cap_map_slot(m, index);
}
