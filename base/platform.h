/*
 * libbase internals: the per-component state and the platform hooks.
 *
 * Everything mutable that libbase keeps for a component lives in one
 * struct base_state (plus the cap map, which the platform places), so
 * that several native components can share one host process.  The
 * platform layer (base/guest/ or base/native/) provides:
 *
 *   sys_invoke(), sys_utcb()      (declared in base/ipc.h)
 *   cap_map()                     (declared in base/capability.h)
 *   base_state()                  this component's struct base_state
 *   base_console(label, line)     last-resort output when a component has
 *                                 no LOG session (native: stderr; guest:
 *                                 may drop the line)
 *
 * Guests: base_state() and cap_map() return statics.  Natives: both are
 * found through the calling thread's utcb->tcr[TCR_COMPONENT].
 */
#ifndef BASE_PLATFORM_H
#define BASE_PLATFORM_H

#include <stdint.h>
#include <base/env.h>
#include <base/native_component.h>
#include <base/thread.h>
#include <capsule/checkpoint_abi.h>

#define RECV_WINDOW_SLOTS MSG_MAX_ITEMS

/* Per-thread libbase state, found through utcb->tcr[TCR_USER].
 * Invariant: window is the kcap of RECV_WINDOW_SLOTS consecutive cap map
 * slots reserved for this thread (or KCAP_INVALID: caps sent to it are
 * dropped by the kernel); ep is the entrypoint run by this thread, if any. */
struct base_thread {
	uint64_t window;
	cap_t self; /* its own thread cap (entry at KCAP_THREAD(nr, GATE)) */
	struct entrypoint *ep;
	struct thread *thread; /* its struct thread (base/thread.c), or NULL */
};

/*
 * A thread as the threads API sees it (base/thread.c).  Invariants:
 * bt->thread == this; nr is its thread-area number, so its irq is at
 * KCAP_THREAD(nr, THREAD_SLOT_IRQ); `next` links it into at most one
 * mutex's waiter FIFO, and only while it blocks in `wait`.  The fields
 * below `wait` belong to threads made by thread_create: the CPU-thread
 * object, their own base_thread, the stack (guests: a RAM dataspace at
 * stack_at), and `join`, which the thread wakes when fn has returned.
 */
struct thread {
	struct base_thread *bt;
	uint64_t nr;
	struct thread *next;
	struct blockade wait;
	struct env *env;
	cap_t cpu_thread;
	struct base_thread own_bt;
	cap_t stack_ds;
	uint64_t stack_at;
	uint64_t component; /* natives: the creator's tcr[TCR_COMPONENT] */
	void (*fn)(void *);
	void *arg;
	struct blockade join;
	int joined;
};

#define EP_IRQ_FIRST 8 /* irq slots an entrypoint starts with; it doubles them */
#define EP_DEFER_MAX 8
#define EP_SPARE_MAX 16 /* gates an entrypoint keeps made ahead (ep_reserve) */
/* Irq labels: bit 63 set, low bits 01.  Irq messages carry no words, so
 * they are told from gate messages (>= 3 words) by the tag; the label
 * range is one core never hands out as a badge. */
#define EP_IRQ_LABEL(i)	    ((1ULL << 63) | ((uint64_t)(i) << 2) | 1)
#define EP_IRQ_INDEX(label) (((label) & ~(1ULL << 63)) >> 2)

struct ep_irq {
	cap_t irq; /* invalid: slot free */
	void (*fn)(void *);
	void *arg;
};

struct ep_deferred {
	void (*fn)(void *);
	void *arg;
};

/*
 * An entrypoint.  Invariants: every object in pool is managed (has a
 * gate bound to `thread`, obj->badge == cap_badge(obj->cap)); exit_obj is
 * in the pool from ep_init until the entrypoint ends; ndefer <=
 * EP_DEFER_MAX, nlate <= MSG_MAX_ITEMS.  The fields up to `constructing`
 * are struct cr_entrypoint of the checkpoint ABI (<capsule/checkpoint_abi.h>,
 * checked in base/checkpoint_report.c): a checkpointer finds every
 * entrypoint through `next` and the objects of seed 002 by name: `exit_obj`
 * (the exit cap), `signal_proxy_obj` (the signal-proxy cap, in the pool
 * from ep_init on, like exit_obj) and `constructor_obj` (the constructor
 * cap: in the pool only while `constructing` is 1, i.e. during
 * ep_construct; badge 0 otherwise).
 */
struct entrypoint {
	uint64_t magic;		 /* EP_MAGIC */
	struct entrypoint *next; /* the component's entrypoints, main first */
	cap_t thread;		 /* the entrypoint thread's own cap */
	struct rpc_object *pool;
	/* the exit cap: invoking it ends ep_run */
	struct rpc_object exit_obj;
	/* the signal-proxy cap (base/signal.c) */
	struct rpc_object signal_proxy_obj;
	/* the constructor cap, see above */
	struct rpc_object constructor_obj;
	int constructing;
	/* libbase's own from here */
	struct base_thread *bt;
	const struct rpc_cap_factory *factory; /* NULL: PD session of env */
	struct env *env;
	int exit_requested;
	struct ep_irq *irqs; /* nirqs slots (init binds one per child) */
	unsigned nirqs;
	struct ep_deferred defer[EP_DEFER_MAX];
	unsigned ndefer;
	/* request caps the reply carries, released once it is sent */
	cap_t late_release[MSG_MAX_ITEMS];
	unsigned nlate;
	/* gates made ahead, bound to `thread` (ep_reserve), taken first;
	 * nspare <= EP_SPARE_MAX */
	cap_t spare[EP_SPARE_MAX];
	unsigned nspare;
};
#define EP_MAGIC 0xe9e9e9ULL

/* Free-list heap.  Invariant: `free` is sorted by address, no two free
 * blocks are adjacent (they are coalesced); every block is 16-aligned.
 * All of it is changed only with `lock` held (heap_alloc, heap_free). */
/* base/spinlock.c: a lock word; 0 = free. */
struct spinlock {
	volatile uint32_t locked;
};
void spinlock_lock(struct spinlock *l);
void spinlock_unlock(struct spinlock *l);

struct heap_block;
struct heap {
	struct heap_block *free;
	uint64_t chunks; /* dataspaces attached so far */
	uint64_t bytes;	 /* total bytes of all chunks */
	struct spinlock lock;
};

/*
 * Signal state of a component (base/signal.c, docs/design.md "Signals").
 * Invariant: once `ready`, source is the component's signal source at
 * core, semaphore its semaphore irq (bound by handler_thread to itself,
 * with label SIGNAL_SEMAPHORE_LABEL) and handler_thread runs the
 * receive / SIGNAL_WAIT / signal-proxy loop; `handlers` lists every
 * managed struct signal_handler (imprints are only trusted if listed).
 * Guests set this up at start-up, natives on their first handler.
 */
struct base_signal {
	int ready;
	cap_t source;
	cap_t semaphore;
	struct thread *handler_thread;
	struct signal_handler *handlers;
};
#define SIGNAL_SEMAPHORE_LABEL ((1ULL << 63) | (0x5169ULL << 2) | 1)

#define BASE_LABEL_MAX 64
struct base_state {
	uint64_t magic; /* BASE_STATE_MAGIC once started */
	struct env env;
	struct entrypoint ep;
	struct base_thread main_thread;
	struct thread main_thread_obj; /* thread_self() of the main thread */
	struct mutex thread_lock;      /* thread_create / thread_join */
	struct heap heap;
	char label[BASE_LABEL_MAX];
	struct base_signal signal;
	/* what a checkpointer reads (base/checkpoint_report.c) */
	struct cr_report report;
	/* The cap map lock (base/cap.c).  It lives here, not in struct
	 * cap_map, whose layout is the checkpoint ABI's struct cr_cap_map. */
	struct spinlock cap_lock;
};
#define BASE_STATE_MAGIC 0xba5e57a7eULL

/* ---- base/checkpoint_report.c ---- */
/* Fill bs->report for the cap map m (no entrypoint yet). */
void cr_report_init(struct base_state *bs, struct cap_map *m);
/* Tell core where the cap map and the report are (PD_CAP_MAP_REPORT). */
int cr_report_send(struct base_state *bs, cap_t pd);
/* Put ep on the component's list of entrypoints (the main one first). */
void cr_report_add_ep(struct base_state *bs, struct entrypoint *ep);
/* Take ep off that list (its set-up failed). */
void cr_report_remove_ep(struct base_state *bs, struct entrypoint *ep);
/* The signal handler thread is thread number nr (CR_NO_THREAD: none). */
void cr_report_signal_handler(struct base_state *bs, uint64_t nr);

/* ---- platform hooks ---- */
struct base_state *base_state(void);
void base_console(const char *label, const char *line);

/* ---- shared internals ---- */
/* The calling thread's libbase state (NULL if it has none). */
struct base_thread *base_thread_self(void);

/* Run a component: the start sequence shared by guests (base_start) and
 * native components.  si was checked by the caller.  factory NULL: ask
 * the parent for PD/CPU/LOG and use the PD for gates; else no parent, no
 * env sessions.  Returns the exit code ep_run ended with (0), or a
 * negative errno if set-up failed. */
int base_component_run(const struct startup_info *si, const char *label,
		       const struct rpc_cap_factory *factory,
		       void (*construct)(struct env *, void *), void *arg);

/* Set up ep for thread cap `thread` run by bt; manages the exit object.
 * 0 or -errno. */
int ep_init(struct entrypoint *ep, struct env *env, cap_t thread, struct base_thread *bt,
	    const struct rpc_cap_factory *factory);
/* Handle one received message (tag, label in the UTCB u) on ep: decode,
 * dispatch, and leave the reply in u.  Returns 1 if a reply must be
 * sent (its tag in *reply), 0 if not (irq, error). */
int ep_handle(struct entrypoint *ep, struct utcb *u, uint64_t tag, uint64_t label,
	      uint64_t *reply);

/* Run construct(env, arg) with the entrypoint's constructor object managed
 * (ep->constructing = 1), dissolve it afterwards. */
void ep_construct(struct entrypoint *ep, void (*construct)(struct env *, void *),
		  struct env *env, void *arg);

/* base/signal.c: set up the signal source, semaphore and handler thread
 * (idempotent); 0 or -errno (-ENOSYS without a PD session). */
int signal_start(struct env *env);
/* Run the handler with this imprint (signal-proxy object, entrypoint
 * thread); -ENOENT if no managed handler has it. */
int signal_deliver(uint64_t imprint, uint64_t count);
/* base/rpc_invoke.c, for the client stubs: rpc_invoke of opcode op with
 * cap c (if valid) and words w[0..n); -E2BIG if they do not fit. */
int base_request(cap_t dst, uint64_t op, cap_t c, const uint64_t *w, unsigned n,
		 struct msg *m);
/* Hand out reply cap 0 in *out, release the others; -EPROTO (and nothing
 * handed out) if cap 0 is missing or invalid. */
int base_take_cap(struct msg *m, cap_t *out);
/* A reply that hands out no cap: if err is 0 release its caps.  Returns
 * err (a failed call has released them already). */
int base_drop_caps(struct msg *m, int err);

/*
 * The cap map lock (base/cap.c).  Threads of a component receive and drop
 * caps concurrently and a guest thread is preempted anywhere, so every
 * change of the component's cap map (cap_map_insert*, _remove,
 * _alloc_range) and of an entry's refcount is made with it held, the
 * lookup that decides on the change included: cap_ref, cap_release and
 * the receive path (cap_map_insert_map) take it themselves; other
 * changers (base/thread.c) take it around their cap_map_* calls.  Held
 * only across system calls on the own task, never across an RPC, so a
 * holder never waits for another thread.  The heap's lock may be held
 * when it is taken (heap_grow receives and releases a dataspace cap),
 * never the other way round.  A spinlock (base/spinlock.c): it works
 * before the component has threads, in threads without a struct thread and
 * for natives as for guests; it starts zeroed with base_state.
 */
void cap_map_lock(void);
void cap_map_unlock(void);
/* cap_ref with the cap map lock held */
cap_t cap_ref_locked(cap_t c);

/* Unmap kcap from the own task (flags: UNMAP_SELF or 0); enum kerr. */
unsigned base_unmap(uint64_t kcap, unsigned flags);

#endif
