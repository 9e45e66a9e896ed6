/*
 * Session interfaces of core and the parent: opcodes (shared by the
 * clients in libbase and the servers in core/ and init/) and client calls.
 * Every client call returns 0 or a negative errno.
 */
#ifndef BASE_SESSIONS_H
#define BASE_SESSIONS_H

#include <base/ipc.h>

/* PD session: RAM, RPC caps, address space, native-PD extension */
enum pd_op {
	PD_ALLOC_RAM = 1,  /* w0 = size -> caps[0] = dataspace */
	PD_FREE_RAM,	   /* caps[0] = dataspace */
	PD_ATTACH,	   /* caps[0] = ds, w0 = addr|0, w1 = offset, w2 = size|0,
			      w3 = MEM_* -> w0 = address (a host address for a
			      native PD) */
	PD_DETACH,	   /* w0 = address */
	PD_ALLOC_RPC_CAP,  /* caps[0] = entrypoint thread cap -> caps[0] = gate */
	PD_FREE_RPC_CAP,   /* caps[0] = gate */
	PD_CAP_MAP_REPORT, /* w0 = address of the cap map, w1 = entries,
			      w2 = address of the checkpoint report,
			      w3 = its ABI version (checkpoint_abi.h) */
	PD_CAP_MAP_INFO,   /* -> w0..w3 as reported */
	PD_MAP_CAP,	   /* caps[0] = cap, w0 = kcap in this PD */
	PD_ASSIGN_PARENT,  /* caps[0] = parent cap: mapped at FIXED_PARENT */
	PD_QUOTA,	   /* -> w0 ram quota, w1 ram used, w2 cap quota, w3 used */
	PD_TRANSFER_QUOTA, /* caps[0] = other PD session, w0 = ram, w1 = caps */
	PD_DS_SIZE,	   /* caps[0] = ds -> w0 = size */
	/* signals (docs/design.md "Signals"); implemented in core/signal_source.c */
	PD_ALLOC_SIGNAL_SOURCE, /* -> caps[0] = signal source (a gate to core) */
	PD_FREE_SIGNAL_SOURCE,	/* caps[0] = source */
	PD_ALLOC_CONTEXT,	/* caps[0] = source, w0 = imprint -> caps[0] =
				   context (a gate to core) */
	PD_FREE_CONTEXT,	/* caps[0] = context */
	PD_SUBMIT,		/* caps[0] = context, w0 = count */
	PD_ADDRESS_SPACE,	/* -> caps[0] = region map of the address space */
	PD_STACK_AREA,		/* -> caps[0] = region map of the stack area */
	/* w0..w(k-1) = kcaps in this PD (1 <= k <= MSG_MAX_ITEMS, distinct)
	   or 0, caps[0] = entrypoint thread cap -> caps[0..k-1] = k new gates
	   bound to it, each also mapped at its kcap unless that is 0
	   (PD_ALLOC_RPC_CAP and PD_MAP_CAP in one call; with 0s an
	   entrypoint's gates made ahead, ep_reserve); all or none */
	PD_ALLOC_RPC_CAPS,
	/* w0 = kcap in this PD -> w0 = 1 if a capability is there, else 0:
	   a checkpoint asks it of each receive window slot (a reply's caps
	   stay there until the receiver moves them into its cap map) */
	PD_CAP_VALID,
	/* caps[0..k-1] = caps, w0..w(k-1) = their kcaps in this PD (1 <= k
	   <= MSG_MAX_ITEMS, distinct): k PD_MAP_CAPs in one call; every cap
	   and kcap is checked before any is mapped */
	PD_MAP_CAPS,
	/* caps[0] = the caller's own PD session, w(2i) = kcap of a gate in
	   this PD, w(2i+1) = an empty kcap of the caller's, distinct (1 <=
	   i+1 <= TASK_MAP_OUT_MAX): a copy derived from this PD's gate is
	   mapped there, so that this PD's revocation of the copies it gave
	   away reaches it (a monitor's cap of its target's object); every
	   pair is checked before any is mapped */
	PD_DERIVE_CAPS,
	/* no caps; w0 = k PD sessions (1 <= k <= PD_MAP_OUT_PDS), named in
	   place: w(1+2j) = the kcap at which this PD holds PD session j,
	   w(2+2j) = its badge; then n pairs (1 <= n <= TASK_MAP_OUT_MAX,
	   1 + 2k + 2n <= MSG_MAX_WORDS): w = kcap of a gate in this PD,
	   w' = kcap in PD j's task | j, (j, kcap) distinct: the gate mapped
	   there, derived from this PD's slot, as an IPC map item would be.
	   Core checks with the kernel that each named slot holds that PD
	   session's cap (so the PD maps only into PDs it holds) and every
	   pair before any is mapped (a monitor maps its caps into several
	   PDs it holds in one call, on its own PD) */
	PD_MAP_OUT,
	/* caps[0] = entrypoint thread cap, w0..w(k-1) = empty kcaps in this
	   PD, distinct, none fixed (1 <= k <= TASK_MAP_OUT_MAX) -> w0..w(k-1)
	   = the badges of k new gates bound to it, each mapped at its kcap
	   (no cap in the reply: an entrypoint's gates made ahead, taken into
	   the caller's cap map at the kcaps it chose, ep_reserve); all or
	   none.  With caps[1] = the caller's PD session, words are pairs
	   (empty kcap in this PD, empty kcap in the caller's): each gate is
	   mapped at both (a monitor's restore, k <= TASK_MAP_OUT_MAX / 2) */
	PD_ALLOC_GATES_MAPPED,
};

/* Signal source object (cap from PD_ALLOC_SIGNAL_SOURCE) */
/* PD_MAP_OUT: the PD sessions of one call (an index in a kcap's low
 * bits), and the pairs that fit a message beside npds of them */
#define PD_MAP_OUT_PDS 16
#define PD_MAP_OUT_MAX(npds)                                                             \
	((MSG_MAX_WORDS - 1 - 2 * (npds)) / 2 < TASK_MAP_OUT_MAX                         \
	     ? (MSG_MAX_WORDS - 1 - 2 * (npds)) / 2                                      \
	     : TASK_MAP_OUT_MAX)
enum signal_source_op {
	SIGNAL_WAIT = 1,  /* -> w0 = imprint, w1 = count; (0, 0) if none queued */
	SIGNAL_SEMAPHORE, /* -> caps[0] = the source's semaphore irq */
};

/* RM session: region maps usable as managed dataspaces */
enum rm_op {
	RM_CREATE = 1, /* w0 = size -> caps[0] = region map */
	RM_DESTROY,    /* caps[0] = region map */
};
/* Region map object (from RM_CREATE, PD_ADDRESS_SPACE, PD_STACK_AREA) */
enum region_map_op {
	REGION_ATTACH = 1,    /* caps[0] = ds (RAM, ROM or a region map's), w0 = addr
				 (REGION_ANY: any), w1 = offset, w2 = size|0, w3 =
				 MEM_* -> w0 = address */
	REGION_DETACH,	      /* w0 = address */
	REGION_FAULT_HANDLER, /* caps[0] = signal context */
	REGION_STATE,	      /* -> w0 = enum region_fault_state, w1 = address,
				 w2 = fault kind */
	REGION_DATASPACE,     /* -> caps[0] = the managed dataspace */
};
#define REGION_ANY (~0ULL)
enum region_fault_state { REGION_READY = 0, REGION_FAULTED = 1 };

/* Timer session (core) */
enum timer_op {
	TIMER_SIGH = 1, /* caps[0] = signal context */
	TIMER_ONESHOT,	/* w0 = µs from now */
	TIMER_PERIODIC, /* w0 = period in µs (0 stops) */
	TIMER_ELAPSED,	/* -> w0 = µs since the session was opened */
};

/* CPU session: threads of one PD */
enum cpu_op {
	CPU_CREATE_THREAD = 1, /* caps[0] = PD session, str name -> caps[0] =
				  thread object, w0 = thread nr, w1 = utcb
				  address, w2 = badge of the kernel thread, which
				  core maps at KCAP_THREAD(nr, THREAD_SLOT_GATE) */
	CPU_START,	       /* caps[0] = thread, w0 = ip, w1 = sp */
	CPU_PAUSE,	       /* caps[0] = thread */
	CPU_RESUME,
	CPU_GET_REGS, /* -> w[0..CPU_REGS_WORDS) = struct cpu_regs */
	CPU_SET_REGS, /* w[0..] = struct cpu_regs */
	CPU_STATE,    /* -> w0 state, w1 fault kind, w2 ip, w3 address */
	CPU_KILL,
	CPU_EXCEPTION_IRQ,  /* -> caps[0] = irq (FACTORY_IRQ) core triggers when a
			       thread of this session faults; bind it with
			       ep_irq_handler, then ask CPU_STATE */
	CPU_UTCB_DATASPACE, /* caps[0] = thread -> caps[0] = its UTCB page (a
			       dataspace; guest threads only): a parent reads
			       and writes the UTCB as thread state */
	CPU_KERNEL_THREAD,  /* caps[0] = thread -> caps[0] = its kernel thread
			       (the cap core maps at KCAP_THREAD(nr, GATE)), to
			       bind gates (PD_ALLOC_RPC_CAP) and irqs to it */
};

/* IRQ session (core), args `line=N`: an external irq line (abi.h IRQ_LINE) */
enum irq_session_op { IRQ_SESSION_IRQ = 1 }; /* -> caps[0] = the line's Irq */

enum rom_op { ROM_DATASPACE = 1 }; /* -> caps[0] = ds, w0 = size */
enum log_op { LOG_WRITE = 1 };	   /* bytes: the line, without '\n' */
/*
 * Dataspace object.  The DS_DIRTY ops track which pages of a RAM dataspace
 * are written (core/dirty.h): whoever holds its cap may ask, and the
 * bitmaps are charged to the PD that allocated the dataspace (one page
 * per 64 MiB, page-rounded), -EDQUOT if it has no room.  A ROM or UTCB
 * dataspace answers -EPERM; their opcodes are used by no other object, so
 * a cap that is no dataspace (a region map's managed dataspace included)
 * answers -ENOSYS.  The bitmap comes back in chunks, not in a dataspace:
 * no allocation, cap or quota per fetch, and each chunk is re-armed as it
 * is read, so nothing written during a fetch of many chunks is lost.
 */
#define DS_DIRTY_WORDS	    (MSG_MAX_WORDS - 1) /* bitmap words per FETCH */
#define DS_DIRTY_BACKGROUND 1			/* DS_DIRTY_START's w0 */
#define DS_DIRTY_PEEK	    1			/* DS_DIRTY_FETCH's w2 */
#define DS_DIRTY_TAKE	    2			/* DS_DIRTY_FETCH's w2 */
/* DS_DIRTY_FETCH's w2, or'ed with one of the above or alone: the answer
 * is the bitmap words only (no count), up to MSG_MAX_WORDS of them, so
 * a 16 MiB dataspace's bitmap comes in one call, not two */
#define DS_DIRTY_BARE 8
enum ds_op {
	DS_SIZE = 1,		 /* -> w0 = size */
	DS_DIRTY_START = 0xd100, /* [w0 = DS_DIRTY_BACKGROUND] [caps[0] = the
				    PD session that pays for the bitmap; the
				    dataspace's own PD without it]
				    -> w0 = pages;
				    all clean from now on (background: from
				    the first FETCH on, core protects the
				    memory meanwhile); -EBUSY if already
				    tracked */
	DS_DIRTY_FETCH,		 /* w0 = first word, w1 = words (1..DS_DIRTY_WORDS)
				    [, w2 = flags] -> w0 = dirty pages in
				    the words returned, w1.. = bitmap words (fewer
				    at the end), bit i of word j = page 64 * (first
				    + j) + i, written since the last fetch or start;
				    those pages are clean again (with PEEK: they
				    stay dirty, reported again by the next fetch,
				    and nothing is re-protected; with TAKE: the
				    bits are taken and the pages stay writable
				    until DS_DIRTY_REARM, so each is reported
				    again by the next fetch; with BARE: see
				    above).  -ENOENT if not tracked */
	DS_DIRTY_STOP,		 /* tracking off, quota back; -ENOENT if not on */
	DS_DIRTY_REARM,		 /* the pages of the TAKEs since the last re-arm
				    made read-only again by core on a host
				    thread, after the answer (for a checkpoint:
				    once the target runs again); -ENOENT if not
				    tracked */
	/* Lazy RAM dataspaces (core/ds_lazy.c): pages that arrive after the
	 * component runs.  A guest touching an absent page waits (only that
	 * thread) and the fill handler is signalled. */
	DS_LAZY_START = 0xd200, /* caps[0] = fill handler's signal context
				   [caps[1] = the PD session that pays]
				   -> w0 = pages, all absent from now on.  Only a
				   fresh RAM dataspace (not attached, tracked or
				   lazy: -EBUSY); the bitmap is charged as
				   DS_DIRTY's */
	DS_LAZY_WANTED,		/* -> w0 = pages still absent, w1.. = (at most
				   DS_LAZY_WANTED_MAX) pages threads wait for;
				   -ENOENT if not lazy (all present) */
	DS_LAZY_FILLED,		/* w0 = first page, w1 = pages: written, map
				   them and wake their waiters -> w0 = pages
				   still absent (0: an ordinary dataspace now) */
};
#define DS_LAZY_WANTED_MAX (MSG_MAX_WORDS - 1)

enum parent_op {
	PARENT_EXIT = 1, /* w0 = exit code */
	PARENT_ANNOUNCE, /* str service, caps[0] = root */
	PARENT_SESSION,	 /* str service, str args -> caps[0] = session */
	PARENT_CLOSE,	 /* caps[0] = session */
	PARENT_UPGRADE,	 /* caps[0] = session, str args */
};
enum root_op {
	ROOT_SESSION = 1, /* str args (incl. label="...") -> caps[0] */
	ROOT_CLOSE,	  /* caps[0] = session */
	ROOT_UPGRADE,	  /* caps[0] = session, str args ("ram_quota=N cap_quota=N"):
			     the quota was moved to the server's PD */
};

int pd_alloc_ram(cap_t pd, uint64_t size, cap_t *ds);
int pd_free_ram(cap_t pd, cap_t ds);
int pd_attach(cap_t pd, cap_t ds, uint64_t addr, uint64_t off, uint64_t size,
	      unsigned perm, uint64_t *at);
int pd_detach(cap_t pd, uint64_t addr);
int pd_alloc_rpc_cap(cap_t pd, cap_t ep_thread, cap_t *gate);
/* PD_ALLOC_RPC_CAPS: n gates bound to ep_thread, gates[i] mapped at
 * kcaps[i] in the PD unless kcaps[i] is 0; 0 with gates[0..n-1] or
 * -errno with none. */
int pd_alloc_rpc_caps(cap_t pd, cap_t ep_thread, const uint64_t *kcaps, unsigned n,
		      cap_t *gates);
/* PD_ALLOC_GATES_MAPPED on the caller's own PD: n gates bound to
 * ep_thread, mapped at free slots of the caller's cap map and entered
 * there (n <= TASK_MAP_OUT_MAX); 0 with gates[0..n-1] or -errno with
 * none. */
int pd_alloc_gates_mapped(cap_t own_pd, cap_t ep_thread, unsigned n, cap_t *gates);
/* PD_ALLOC_GATES_MAPPED on another PD, pd: n gates bound to ep_thread
 * (a thread of pd's), mapped at empty kcaps[i] of pd and at free slots of
 * the caller's cap map, where they are entered (n <= TASK_MAP_OUT_MAX / 2,
 * own_pd the caller's PD session); the caller's copies are derived from
 * pd's (as PD_DERIVE_CAPS makes them: pd's revocation takes them); 0 with
 * gates[0..n-1] or -errno with none (-ENOSPC: no free slots in the
 * caller's fixed array). */
int pd_alloc_gates_at(cap_t pd, cap_t own_pd, cap_t ep_thread, const uint64_t *kcaps,
		      unsigned n, cap_t *gates);
int pd_free_rpc_cap(cap_t pd, cap_t gate);
/* PD_CAP_MAP_REPORT: the cap map's address and entries, the address of
 * the checkpoint report and its ABI version (<capsule/checkpoint_abi.h>). */
int pd_cap_map_report(cap_t pd, uint64_t cap_map, uint64_t entries, uint64_t report,
		      uint64_t version);
int pd_map_cap(cap_t pd, cap_t c, uint64_t kcap);
/* PD_MAP_CAPS: caps[i] mapped at kcaps[i] (n <= MSG_MAX_ITEMS); nothing is
 * mapped if a cap or kcap is refused. */
int pd_map_caps(cap_t pd, const cap_t *caps, const uint64_t *kcaps, unsigned n);
/* PD_DERIVE_CAPS: own_pd is the caller's PD session; its empty slot
 * mine[i] gets a copy derived from the PD's gate at theirs[i]. */
int pd_derive_caps(cap_t pd, cap_t own_pd, const uint64_t *theirs, const uint64_t *mine,
		   unsigned n);
/* PD_MAP_OUT: the gate at kcap from[i] of the PD mapped at kcap to[i] of
 * PD session pds[pd_of[i]], a cap the PD holds (the caller's own PD:
 * pds are the caller's caps, named by kcap and badge, not sent); npds <=
 * PD_MAP_OUT_PDS, n <= PD_MAP_OUT_MAX(npds); nothing is mapped if a
 * triple is refused. */
int pd_map_out(cap_t pd, const cap_t *pds, unsigned npds, const unsigned *pd_of,
	       const uint64_t *from, const uint64_t *to, unsigned n);
int pd_assign_parent(cap_t pd, cap_t parent);
int pd_transfer_quota(cap_t pd, cap_t to, uint64_t ram, uint64_t caps);

int cpu_create_thread(cap_t cpu, cap_t pd, const char *name, cap_t *thread, uint64_t *nr,
		      uint64_t *utcb, uint64_t *thread_badge);
int cpu_start(cap_t cpu, cap_t thread, uint64_t ip, uint64_t sp);
int cpu_pause(cap_t cpu, cap_t thread);
int cpu_resume(cap_t cpu, cap_t thread);
int cpu_get_regs(cap_t cpu, cap_t thread, struct cpu_regs *r);
int cpu_set_regs(cap_t cpu, cap_t thread, const struct cpu_regs *r);

int rom_dataspace(cap_t rom, cap_t *ds, uint64_t *size);
/* DS_DIRTY_START / STOP; *pages may be NULL. */
int ds_dirty_start(cap_t ds, uint64_t *pages);
/* DS_DIRTY_START with the PD session that pays for the bitmap (a
 * checkpointer's own, so that tracking costs its target nothing);
 * background: DS_DIRTY_BACKGROUND (core protects on a host thread). */
int ds_dirty_start_paid(cap_t ds, cap_t payer, int background, uint64_t *pages);
int ds_dirty_stop(cap_t ds);
/* DS_DIRTY_FETCH of bitmap words [first, first + *n), *n <= DS_DIRTY_WORDS:
 * *n = words stored in bits, *ndirty = pages set in them (may be NULL). */
int ds_dirty_fetch(cap_t ds, uint64_t first, uint64_t *bits, unsigned *n,
		   uint64_t *ndirty);
/* The whole bitmap of a dataspace of `pages` pages into bits[(pages + 63)
 * / 64], chunk by chunk.  Dirty pages (>= 0) or -errno. */
int64_t ds_dirty_fetch_all(cap_t ds, uint64_t pages, uint64_t *bits);
/* The same with DS_DIRTY_PEEK: the bits are read, nothing is re-armed. */
int64_t ds_dirty_peek_all(cap_t ds, uint64_t pages, uint64_t *bits);
/* The same with DS_DIRTY_TAKE: the bits are taken, the pages re-armed by
 * core only at ds_dirty_rearm (not in a checkpoint's pause); every page
 * taken is reported again by the next fetch (core/dirty.h, dirty_take).
 * Both ask DS_DIRTY_BARE: one call per 64 words. */
int64_t ds_dirty_take_all(cap_t ds, uint64_t pages, uint64_t *bits);
/* DS_DIRTY_REARM: the pages taken since re-armed on core's host thread. */
int ds_dirty_rearm(cap_t ds);
/* DS_LAZY_START with the fill handler's context; *pages may be NULL. */
int ds_lazy_start(cap_t ds, cap_t sigh, uint64_t *pages);
/* DS_LAZY_START with the PD session that pays for the bitmap. */
int ds_lazy_start_paid(cap_t ds, cap_t sigh, cap_t payer, uint64_t *pages);
/* DS_LAZY_WANTED: up to max pages into pages (*n); *absent (may be NULL). */
int ds_lazy_wanted(cap_t ds, uint64_t *pages, unsigned max, unsigned *n,
		   uint64_t *absent);
/* DS_LAZY_FILLED of [first, first + count); *absent (may be NULL). */
int ds_lazy_filled(cap_t ds, uint64_t first, uint64_t count, uint64_t *absent);
int log_write(cap_t log, const char *line, uint64_t len);

int parent_session(cap_t parent, const char *service, const char *args, cap_t *out);
int parent_announce(cap_t parent, const char *service, cap_t root);
int parent_exit(cap_t parent, int code);
/* Close a session opened with parent_session: the parent gives its quota
 * back and the session's caps (session) are revoked by the server. */
int parent_close(cap_t parent, cap_t session);
/* Move more quota ("ram_quota=N cap_quota=N") from this component to the
 * session's server; -EDQUOT beyond this component's unused quota. */
int parent_upgrade(cap_t parent, cap_t session, const char *args);

/* PD_QUOTA of a PD session */
struct pd_quota {
	uint64_t ram_quota, ram_used, cap_quota, cap_used;
};
int pd_quota_get(cap_t pd, struct pd_quota *q);

#endif
