/*
 * Capabilities and the cap map (docs/design.md, "The cap map").
 *
 * A component keeps one cap map: CAP_SLOTS entries in a fixed array inside
 * libbase's data (a guest's .bss).  An entry is an AVL node keyed by the
 * badge (id) plus a refcount; its position in the array *is* the kcap
 * (kcap = index << CAP_SHIFT).  A capability value (cap_t) is a pointer to
 * its entry, so a restore that keeps every entry in its slot keeps every
 * stored cap_t valid and only has to rewrite ids and rebuild the tree.
 *
 * id 0 marks an unused entry, CAP_ID_INVALID an entry whose object is
 * known to be gone.  Entries below FIXED_USER_BASE are fixed selectors:
 * placed with cap_map_insert_at(), never refcounted, never first-fit.
 */
#ifndef BASE_CAPABILITY_H
#define BASE_CAPABILITY_H

#include <stdint.h>
#include <capsule/abi.h>

#define CAP_ID_INVALID (~0ULL)

/* One cap map entry.  Layout is part of what a checkpointer reads from
 * the component's memory: keep it fixed-width. */
struct cap_index {
	uint64_t id;		/* badge; 0 = free */
	struct cap_index *left; /* AVL children, keyed by id */
	struct cap_index *right;
	struct cap_index *parent;
	uint8_t depth; /* AVL height of this subtree, 1 for a leaf */
	uint8_t ref;   /* references held by cap_t values */
	uint8_t fixed; /* 1 for selectors below FIXED_USER_BASE */
	uint8_t pad[5];
};

struct cap_map {
	uint64_t magic;		/* CAP_MAP_MAGIC, for whoever reads it from outside */
	uint64_t entries;	/* CAP_SLOTS */
	struct cap_index *root; /* AVL root */
	uint64_t first_free_hint;
	struct cap_index slot[CAP_SLOTS];
	/* a native component's slots CAP_SLOTS.. (NULL and 0 in a guest's):
	 * after slot[], so a guest's map reads as it always did */
	struct cap_index *ext;
	uint64_t ext_entries;
};
#define CAP_MAP_MAGIC 0xcab3a9ULL

/* A capability: a reference to a cap map entry, or NULL (invalid). */
typedef struct {
	struct cap_index *idx;
} cap_t;

#define CAP_INVALID ((cap_t){0})

/* This component's cap map (the platform layer knows where it lives). */
struct cap_map *cap_map(void);

/* Empty m; an extension given by cap_map_extend stays (it must be
 * zeroed memory, as fresh anonymous pages are). */
void cap_map_init(struct cap_map *m);
/* Give m the slots CAP_SLOTS .. CAP_SLOTS + n - 1, at ext (zeroed). */
void cap_map_extend(struct cap_map *m, struct cap_index *ext, uint64_t n);
/* Slots of m: CAP_SLOTS plus those of its extension. */
uint64_t cap_map_size(const struct cap_map *m);
/* The slot at index, NULL past the end. */
struct cap_index *cap_map_slot(struct cap_map *m, uint64_t index);
/* First-fit free slot >= FIXED_USER_BASE for a new id.  NULL if the id is
 * already in the tree or no slot is free.  ref starts at 1. */
struct cap_index *cap_map_insert(struct cap_map *m, uint64_t id);
/* Place id at a fixed kcap (any slot).  NULL if occupied or id known. */
struct cap_index *cap_map_insert_at(struct cap_map *m, uint64_t id, uint64_t kcap);
struct cap_index *cap_map_find(struct cap_map *m, uint64_t id);
/* Unlink from the tree and free the slot; does not touch the cap space. */
void cap_map_remove(struct cap_map *m, struct cap_index *e);
/* Allocate n consecutive free slots (the receive window); NULL if none. */
struct cap_index *cap_map_alloc_range(struct cap_map *m, unsigned n);
/* Change the id of an entry and re-sort it (used by a restorer). */
int cap_map_rekey(struct cap_map *m, struct cap_index *e, uint64_t new_id);
/* Rebuild the tree from the ids in the array (after a restorer rewrote
 * them in place); an id found twice is set to CAP_ID_INVALID in the later
 * slot.  0, or -EEXIST if that happened. */
int cap_map_rebuild(struct cap_map *m);
/* Check AVL order, balance, parent links and that every tree node is a
 * used slot; 0 if consistent. */
int cap_map_check(const struct cap_map *m);

uint64_t cap_map_kcap(const struct cap_map *m, const struct cap_index *e);
struct cap_index *cap_map_entry(struct cap_map *m, uint64_t kcap);

static inline int cap_valid(cap_t c)
{
	return c.idx && c.idx->id && c.idx->id != CAP_ID_INVALID;
}
static inline uint64_t cap_badge(cap_t c)
{
	return c.idx ? c.idx->id : 0;
}
/* A badge kept outside the cap map (in a variable, a message being
 * built, a reply's words) goes stale when a restore gives its object a
 * new one: the restore rewrites the cap map's ids and the words of a call
 * the checkpoint caught in the UTCB, nothing else.  Code that keeps one
 * marks that span in its UTCB (tcr[TCR_BADGES]), and a checkpoint does
 * not cut the thread inside it (docs/cr.md, "Badges outside the cap
 * map").  cap_badges_hold opens the span and returns the state before,
 * cap_badges_done(that) ends it.  No call or wait inside: rpc_call ends
 * it for its trap and opens it again after, so a badge must not be kept
 * across a call. */
uint64_t cap_badges_hold(void);
void cap_badges_done(uint64_t before);
/* kcap of c in this component, KCAP_INVALID if c is invalid */
uint64_t cap_kcap(cap_t c);
/* Take / drop a reference; dropping the last unmaps the kcap and frees
 * the entry (fixed selectors are never freed). */
cap_t cap_ref(cap_t c);
void cap_release(cap_t c);

#endif
