/*
 * The checkpoint ABI: what a component's libbase reports about itself so
 * that a checkpoint/restore monitor can find, check and repair the
 * component's capability bookkeeping in its memory without knowing
 * libbase's private data structures.
 *
 * At start-up libbase tells core (PD_CAP_MAP_REPORT) four words: the
 * address of its cap map, the number of entries, the address of its
 * struct cr_report and CR_ABI_VERSION.  A monitor that serves the PD
 * session sees that call.  Everything below lives in the component's
 * memory; every "address" is a 64-bit address in the component's address
 * space, 0 for none.  All structs are fixed-width and naturally aligned
 * (no padding the compiler chooses), little-endian as the CPU.
 *
 * What a monitor may rely on, for version 1:
 *
 *  - struct cr_report: found at the reported address; magic, version and
 *    size as below.  It names the cap map, the list of every entrypoint
 *    of the component, and the signal handler thread.
 *  - The cap map (struct cr_cap_map): `entries` entries; an entry's index
 *    is its kcap's index (kcap = index << CAP_SHIFT).  id 0 marks a free
 *    entry, CR_ID_INVALID an entry whose object is gone; entries with any
 *    other id are exactly the nodes of an AVL tree keyed by id (links are
 *    entry addresses, `root` the tree's root).
 *  - Every entrypoint (struct cr_entrypoint) is on the list starting at
 *    report->entrypoints, linked by `next`, the main one first.  Its pool
 *    is an AVL tree of struct cr_object keyed by badge; every object in a
 *    pool has `cap` pointing at its cap map entry and badge == that
 *    entry's id.  exit_obj and signal_proxy_obj are in the pool for the
 *    entrypoint's life; constructor_obj only while `constructing` is 1.
 *  - Version 2 adds report->cap_lock: the address of a 32-bit word that
 *    is not 0 while a thread of the component changes its cap map.  A
 *    monitor checkpoints the component only while it reads 0 (a restore
 *    rebuilds the tree, under a thread that was changing it).  Version 1
 *    is version 2 without that field; a monitor still restores it.
 *  - Trees (cap map and pools) follow one rule: in-order keys strictly
 *    increase; `depth` is the height of a node's subtree (1 for a leaf);
 *    the children's depths differ by at most one; parent links mirror
 *    child links and the root's is 0.  A monitor that changes keys
 *    rebuilds the tree by this rule; libbase goes on using it.
 *
 * A component's libbase checks its own structures against these layouts
 * at compile time (base/checkpoint_report.c), so a change of layout that
 * is not a change of CR_ABI_VERSION does not build.  A monitor refuses a
 * target that reports a version it does not know.
 */
#ifndef CAPSULE_CHECKPOINT_ABI_H
#define CAPSULE_CHECKPOINT_ABI_H

#include <stdint.h>

#define CR_ABI_VERSION	 2
#define CR_REPORT_MAGIC	 0x31765f7274706372ULL /* "rcptr_v1" */
#define CR_CAP_MAP_MAGIC 0xcab3a9ULL
#define CR_EP_MAGIC	 0xe9e9e9ULL
#define CR_ID_INVALID	 (~0ULL)
#define CR_NO_THREAD	 (~0ULL)
#define CR_MAX_EPS	 64 /* a monitor walks at most this many entrypoints */
/* the label with which the signal handler thread receives its semaphore
 * irq: a restore attaches the recreated irq to the thread with it */
#define CR_SIGNAL_SEMAPHORE_LABEL ((1ULL << 63) | (0x5169ULL << 2) | 1)

/* One cap map entry (40 bytes). */
struct cr_cap_entry {
	uint64_t id;		      /* badge; 0 free, CR_ID_INVALID gone */
	uint64_t left, right, parent; /* AVL links: entry addresses */
	uint8_t depth;		      /* AVL height, 1 for a leaf */
	uint8_t ref;		      /* references held inside the component */
	uint8_t fixed;		      /* 1: a fixed selector, never refcounted */
	uint8_t pad[5];
};

/* The cap map: header, then `entries` entries. */
struct cr_cap_map {
	uint64_t magic;	  /* CR_CAP_MAP_MAGIC */
	uint64_t entries; /* CAP_SLOTS */
	uint64_t root;	  /* AVL root: an entry address */
	uint64_t first_free_hint;
	struct cr_cap_entry slot[];
};

/* An RPC object in an entrypoint's pool (56 bytes). */
struct cr_object {
	uint64_t left, right, parent; /* pool AVL links: object addresses */
	int32_t depth;		      /* AVL height, 1 for a leaf */
	uint32_t pad;
	uint64_t badge;	   /* its gate's badge: the key */
	uint64_t cap;	   /* its gate: a cap map entry address */
	uint64_t dispatch; /* libbase's own: a monitor leaves it alone */
};

/* The head of an entrypoint. */
struct cr_entrypoint {
	uint64_t magic;		   /* CR_EP_MAGIC */
	uint64_t next;		   /* the component's next entrypoint, 0: last */
	uint64_t thread;	   /* its thread's own cap: a cap map entry address */
	uint64_t pool;		   /* root of the object pool: an object address */
	struct cr_object exit_obj; /* seed 002: the exit cap */
	struct cr_object signal_proxy_obj; /* seed 002: the signal-proxy cap */
	struct cr_object constructor_obj;  /* seed 002: the constructor cap */
	int32_t constructing;		   /* 1 while constructor_obj is managed */
	uint32_t pad;
};

/* What libbase reports (its address goes to core with the cap map's). */
struct cr_report {
	uint64_t magic;	      /* CR_REPORT_MAGIC */
	uint32_t version;     /* CR_ABI_VERSION */
	uint32_t size;	      /* sizeof(struct cr_report) of that version */
	uint64_t cap_map;     /* struct cr_cap_map */
	uint64_t entrypoints; /* first struct cr_entrypoint: the main one */
	/* thread-area number of the signal handler thread (its semaphore irq
	 * is attached to it), CR_NO_THREAD while there is none */
	uint64_t signal_handler_nr;
	/* version 2: address of a 32-bit word that is not 0 while a thread
	 * of the component changes its cap map (libbase's cap map lock) */
	uint64_t cap_lock;
};

/* The layout is the ABI: these sizes and offsets never change within a
 * version. */
#define CR_ASSERT_AT(type, field, off)                                                   \
	_Static_assert(__builtin_offsetof(type, field) == (off),                         \
		       #type "." #field " moved: bump CR_ABI_VERSION")
CR_ASSERT_AT(struct cr_cap_entry, depth, 32);
_Static_assert(sizeof(struct cr_cap_entry) == 40, "cr_cap_entry size");
CR_ASSERT_AT(struct cr_cap_map, slot, 32);
CR_ASSERT_AT(struct cr_object, badge, 32);
CR_ASSERT_AT(struct cr_object, cap, 40);
_Static_assert(sizeof(struct cr_object) == 56, "cr_object size");
CR_ASSERT_AT(struct cr_entrypoint, pool, 24);
CR_ASSERT_AT(struct cr_entrypoint, exit_obj, 32);
CR_ASSERT_AT(struct cr_entrypoint, signal_proxy_obj, 88);
CR_ASSERT_AT(struct cr_entrypoint, constructor_obj, 144);
CR_ASSERT_AT(struct cr_entrypoint, constructing, 200);
_Static_assert(sizeof(struct cr_entrypoint) == 208, "cr_entrypoint size");
CR_ASSERT_AT(struct cr_report, cap_map, 16);
CR_ASSERT_AT(struct cr_report, entrypoints, 24);
CR_ASSERT_AT(struct cr_report, signal_handler_nr, 32);
CR_ASSERT_AT(struct cr_report, cap_lock, 40);
_Static_assert(sizeof(struct cr_report) == 48, "cr_report size");

#endif
