/*
 * Kernel internals: kernel objects, capability spaces, mapping database,
 * threads, IPC and the scheduler of one node.  Only the kernel sources include
 * this header (and the kernel's own unit tests).
 *
 * Everything runs on the node's scheduler host thread.  Objects are
 * reference counted (struct kobj): a cap slot, a binding (gate -> thread,
 * irq -> thread), an IPC partner link and the dying list each hold one
 * reference.  An object is *killed* when its last capability goes away
 * (deferred to kobj_reap() so that a revocation never re-enters itself),
 * and its memory is freed when its last reference goes away.  A killed
 * object drops every reference it holds, so killing everything frees
 * everything.
 */
#ifndef KERNEL_KERNEL_H
#define KERNEL_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <capsule/abi.h>
#include <capsule/native.h>
#include "kernel/backend.h"
#include "kernel/sched_rest.h"

/* ---- intrusive doubly linked list (an unlinked node points to itself) ---- */

struct klist {
	struct klist *prev, *next;
};

#define klist_entry(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

static inline void klist_init(struct klist *l)
{
	l->prev = l->next = l;
}

static inline bool klist_empty(const struct klist *l)
{
	return l->next == l;
}

static inline void klist_insert(struct klist *prev, struct klist *n)
{
	n->prev = prev;
	n->next = prev->next;
	prev->next->prev = n;
	prev->next = n;
}

static inline void klist_add_tail(struct klist *head, struct klist *n)
{
	klist_insert(head->prev, n);
}

static inline void klist_add_head(struct klist *head, struct klist *n)
{
	klist_insert(head, n);
}

/* Unlink n; harmless on an unlinked node. */
static inline void klist_del(struct klist *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	klist_init(n);
}

/* ---- kernel objects (kobj.c) ---- */

struct node;

/*
 * Common header of every kernel object.  Invariants: refs >= ncaps;
 * ncaps counts the cap slots naming the object; dying is set while the
 * object waits on node->dying (holding one ref); dead is set once the
 * type-specific kill ran, after which the object holds no references.
 */
struct kobj {
	enum kobj_type type;
	bool dead;
	bool dying;
	unsigned ncaps;
	unsigned refs;
	struct node *node;
	struct klist all;	 /* node->objects */
	struct klist dying_link; /* node->dying */
};

/* Initialise o with one reference (the creator's) and link it to node n. */
void kobj_init(struct kobj *o, struct node *n, enum kobj_type type);
void kobj_get(struct kobj *o);
/* Drop one reference; frees the object when the last one goes. */
void kobj_put(struct kobj *o);
/* A cap slot starts / stops naming o.  Dropping the last cap queues o on
 * node->dying; kobj_reap() kills it later. */
void kobj_cap_add(struct kobj *o);
void kobj_cap_drop(struct kobj *o);
/* Kill o now (idempotent): type-specific teardown, drops its references. */
void kobj_kill(struct kobj *o);
/* Kill every object on n->dying, until the list stays empty. */
void kobj_reap(struct node *n);

/* ---- capability space (cap_space.c) and mapping database (mapdb.c) ---- */

/*
 * One slot of a task's cap space.  Invariants: obj == NULL iff empty; an
 * empty slot has rights 0 and no mapping-database links; a full slot holds
 * one cap reference on obj, rights always include RIGHT_R, and sits in the
 * mapping database (parent NULL for a root mapping made by the kernel).
 */
struct cap_slot {
	struct kobj *obj;
	unsigned rights;
	struct cap_slot *parent, *first_child, *next_sib, *prev_sib;
};

/* nslots slots (CAP_SLOTS, CAP_SLOTS_NATIVE for a native task); slot 0
 * is never used. */
struct cap_space {
	struct cap_slot *slots;
	unsigned nslots;
	unsigned high; /* no slot above it was ever handed out */
};

/* 0 or -ENOMEM. */
int cap_space_init(struct cap_space *cs, unsigned nslots);
/* Revoke every slot (and whatever was derived from it) and free the array. */
void cap_space_fini(struct cap_space *cs);
/* Slot named by kcap (low 12 bits ignored); NULL for index 0 or out of range. */
struct cap_slot *cap_space_slot(struct cap_space *cs, uint64_t kcap);
/* Object named by kcap, NULL if the kcap is bad or the slot empty. */
struct kobj *cap_space_lookup(struct cap_space *cs, uint64_t kcap, unsigned *rights);
/* Give back the pages of native tasks' cap spaces that hold no used
 * slot (a task of n ended: n->cap_trim_due); for an idle node. */
void cap_space_trim_node(struct node *n);
/* kcap of a slot of cs. */
uint64_t cap_space_kcap(const struct cap_space *cs, const struct cap_slot *s);
/* Fill the empty slot s with a root mapping of o (takes a cap on o). */
void cap_slot_set(struct cap_slot *s, struct kobj *o, unsigned rights);

/* true if a == b or a is an ancestor of b in the mapping database */
bool mapdb_is_ancestor(const struct cap_slot *a, const struct cap_slot *b);
/* Empty every slot derived from s, recursively, in all tasks; with self
 * also s.  Objects losing their last cap are queued for kobj_reap(). */
void mapdb_revoke(struct cap_slot *s, bool self);
/* Empty s alone; its children move up to s's parent (or become roots). */
void mapdb_release(struct cap_slot *s);
/*
 * Map src into dst as a child of src, rights = (src rights & mask) | R.
 * Before: src is full; dst != src.  An occupied dst is revoked with its
 * subtree (revoke_dst) or released (children move up); with revoke_dst,
 * dst must not be an ancestor of src.
 */
void mapdb_map(struct cap_slot *dst, struct cap_slot *src, unsigned mask,
	       bool revoke_dst);

/* ---- tasks (task.c, task_mem.c) ---- */

/* A TASK_MAP_MEM region: [addr, addr+size) of the task backed by host. */
struct mem_region {
	struct klist link;
	uint64_t addr, size;
	uint8_t *host;
	unsigned perms;
};

/*
 * Invariants: flags is TASK_GUEST (vs != NULL) or TASK_NATIVE (vs NULL);
 * threads lists the live threads bound to the task; regions do not
 * overlap and are mirrored into vs.  After kill: caps freed, no threads,
 * no regions, vs destroyed.
 */
struct task {
	struct kobj obj;
	unsigned flags;
	struct cap_space caps;
	struct vspace *vs;
	struct klist threads;
	struct klist regions;
};

/* New task with one (creator's) reference; NULL on failure. */
struct task *task_create(struct node *n, unsigned flags);
void task_kill(struct task *t);
/* TASK_MAP of the abi: validate, then map.  Returns enum kerr. */
unsigned task_map_cap(struct task *dst, uint64_t dst_kcap, struct task *src,
		      uint64_t src_kcap, unsigned mask);
/* TASK_UNMAP of the abi.  Returns enum kerr. */
unsigned task_unmap_cap(struct task *t, uint64_t kcap, unsigned flags);
/* Host address of [addr, addr+len) if it lies inside one region, else NULL. */
void *task_mem_host(struct task *t, uint64_t addr, uint64_t len);
unsigned task_mem_map(struct task *t, uint64_t host, uint64_t addr, uint64_t size,
		      unsigned perms);
unsigned task_mem_unmap(struct task *t, uint64_t addr, uint64_t size);
void task_mem_fini(struct task *t);

/* ---- threads (thread.c, thread_ctl.c) ---- */

enum ipc_wait {
	IPC_NONE = 0,
	IPC_SENDING,	/* queued on partner->senders */
	IPC_RECEIVING,	/* open wait */
	IPC_REPLY_WAIT, /* closed wait for partner's reply */
	IPC_SLEEPING,	/* closed wait on nobody */
	IPC_IRQ_WAIT,	/* closed wait on one irq bound to it (wait_irq) */
};

/* A kernel-generated one-way message (a fault report). */
struct kmsg {
	struct klist link;
	uint64_t label;
	unsigned words;
	uint64_t mr[4];
};

/*
 * Invariants: state is TS_INACTIVE, TS_READY, TS_BLOCKED, TS_FAULTED or
 * TS_DEAD (TS_PAUSED is reported from the paused flag).  ready_link is
 * linked iff READY, not paused, not current.  wait != IPC_NONE iff
 * BLOCKED.  partner is set for IPC_SENDING and IPC_REPLY_WAIT.
 * timeout_link is linked iff BLOCKED with a finite deadline.  utcb points
 * into own_utcb (native) or into a task region (guest), NULL when unbound
 * or the region went away.  task, partner, caller, pager hold references.
 */
struct thread {
	struct kobj obj;
	struct task *task;
	unsigned nr;
	uint64_t utcb_addr;
	struct utcb *utcb;
	struct utcb *own_utcb;
	struct kobj *pager;
	unsigned pager_rights;
	struct vcpu *vcpu;
	struct coro *coro;

	enum thread_state state;
	bool paused;
	bool reissue; /* native: re-run the stored syscall on next run */

	/* IPC */
	enum ipc_wait wait;
	struct thread *partner;
	struct thread *caller; /* implicit reply capability */
	uint64_t caller_seq;   /* caller's call_seq when its call arrived */
	uint64_t call_seq;     /* counts my calls whose request was taken */
	struct klist senders;  /* threads sending to me, FIFO */
	struct klist send_link;
	uint64_t snd_tag, snd_label;
	unsigned snd_op;
	struct klist kmsgs;	 /* queued kernel messages (struct kmsg) */
	struct klist irqs;	 /* triggered irqs bound to me (struct irq) */
	struct irq *wait_irq;	 /* IPC_IRQ_WAIT: the irq (bound to me, no ref) */
	uint64_t deadline;	 /* absolute µs, UINT64_MAX = never */
	uint64_t reply_deadline; /* for the reply phase of a call */
	struct klist timeout_link;

	/* native syscall hand-over */
	bool req_pending;
	uint64_t req_kcap, req_tag, req_timeout;
	uint64_t res_tag, res_label;

	struct klist ready_link;
	unsigned prio;		/* 0..KERNEL_PRIO_MAX, higher runs first (THREAD_SCHED) */
	struct klist task_link; /* task->threads */
	struct klist node_link; /* node->threads */
	uint64_t run_since;	/* µs when its slice began (while it runs) */
	uint64_t slice_used;	/* µs of its slice used when it last stopped,
				 * kept while it holds its turn (sched.c) */
	uint64_t donated_since; /* queued by a direct switch: its waker's
				 * run_since, the slice it runs on (0: none) */
	uint64_t overrun;	/* µs its last slice ran past its end, taken
				 * off its next one (sched.c) */
	uint64_t turn;		/* its turn's stamp: it holds the turn of its
				 * priority while node->turn[prio] is this */

	uint64_t lat_dl, lat_ready;
	unsigned fault_kind;
	uint64_t fault_ip, fault_addr;
};

struct thread *kthread_create(struct node *n);
void thread_kill(struct thread *t);
/* Entry returned (native) : the thread ends like a kill but keeps its caps. */
void thread_exit(struct thread *t);
/* Halt t after a CPU fault and report it to its pager. */
void thread_fault(struct thread *t, unsigned kind, uint64_t ip, uint64_t addr);
/* Abort every thread waiting on t (queued senders, reply waiters). */
void thread_abort_partners(struct thread *t);
/* Store a syscall result (guest registers or native hand-over). */
void thread_set_result(struct thread *t, uint64_t tag, uint64_t label);
/* Undo the syscall in progress so that running t again re-issues it. */
void thread_rewind(struct thread *t);
/* Bind t to task (THREAD_CONTROL), 0 or enum kerr. */
unsigned thread_bind(struct thread *t, struct task *task, uint64_t utcb_addr,
		     struct kobj *pager, unsigned pager_rights, uint64_t nr);
/* Thread protocol; returns the result tag. */
uint64_t thread_invoke(struct thread *caller, struct thread *t, struct utcb *u,
		       uint64_t tag);

static inline bool thread_is_native(const struct thread *t)
{
	return t->task && t->task->flags == TASK_NATIVE;
}

/* ---- IPC (ipc.c) ---- */

/* Deadline for a timeout given at time now. */
uint64_t ipc_deadline(uint64_t now, uint64_t timeout);
/* Deadline for a syscall's timeout: 0 stays 0, SYS_TIMEOUT_NEVER is
 * UINT64_MAX (both without reading the clock), else now + timeout. */
uint64_t ipc_timeout_deadline(uint64_t timeout);
/* t sends (op SEND or CALL) to dst with label; may block t. */
void ipc_send(struct thread *t, struct thread *dst, uint64_t tag, uint64_t label,
	      unsigned op, uint64_t timeout);
/* Open wait of t; may block. */
void ipc_wait(struct thread *t, uint64_t deadline);
/* Sleep (closed wait on nobody). */
void ipc_sleep(struct thread *t, uint64_t deadline);
/* Closed wait of t for irq q, which is bound to t; may block. */
void ipc_wait_irq(struct thread *t, struct irq *q, uint64_t deadline);
/* Reply to t's last caller; returns enum kerr. */
unsigned ipc_reply(struct thread *t, uint64_t tag);
/* End t's blocking with a result and make it ready (direct: run it next). */
void ipc_complete(struct thread *t, uint64_t tag, uint64_t label, bool direct);
/* Take t out of any IPC wait without a result. */
void ipc_cancel(struct thread *t);
/* Queue a kernel message for t, delivering at once if t waits. */
void ipc_post_kmsg(struct thread *t, struct kmsg *m);
/* Deliver something pending (kmsg or irq) to t in open wait, if any. */
bool ipc_deliver_pending(struct thread *t);

/* ---- gates, irqs, factory ---- */

/* Invariant: thread (ref) is NULL when unbound; label has low 2 bits 0. */
struct gate {
	struct kobj obj;
	struct thread *thread;
	uint64_t label;
};

/* Invariants: queued iff linked on thread->irqs, which needs count > 0. */
struct irq {
	struct kobj obj;
	struct thread *thread;
	uint64_t label;
	uint64_t count;
	struct klist pending_link;
};

struct gate *gate_create(struct node *n);
void gate_kill(struct gate *g);
unsigned gate_bind(struct gate *g, struct thread *t, uint64_t label);
uint64_t gate_invoke(struct thread *caller, struct gate *g, unsigned rights,
		     struct utcb *u, uint64_t tag);

struct irq *irq_create(struct node *n);
void irq_kill(struct irq *q);
/* Take one pending trigger of an irq queued on t; false if none. */
bool irq_take(struct thread *t, uint64_t *label);
/* Take one pending trigger of q itself; false if none. */
bool irq_take_one(struct irq *q, uint64_t *label);
/* Forget all pending irqs of t (t dies). */
void irq_unqueue_all(struct thread *t);
uint64_t irq_invoke(struct thread *caller, struct irq *q, struct utcb *u, uint64_t tag);
/* Count one trigger of q and deliver it if its thread waits (IRQ_TRIGGER). */
void irq_trigger(struct irq *q);

/* ---- external irq lines (irq_line.c) ---- */

#define KERNEL_LINES 64
/* IRQ_LINE: bind q to line (root task only).  Returns enum kerr. */
unsigned irq_line_bind(struct thread *caller, struct irq *q, uint64_t line);
/* q dies: free the line it is bound to, if any. */
void irq_line_forget(struct irq *q);
/* Trigger the irq of every raised line bound in n (scheduler thread). */
void irq_line_drain(struct node *n);
/* n ends (node_destroy, after its objects): unbind what is left of its
 * lines and close its eventfd. */
void irq_line_node_end(struct node *n);
/* Nothing is ready: wait for a raised line or the deadline (UINT64_MAX:
 * none).  false if n has no line bound and no deadline (a deadlock). */
bool irq_line_wait(struct node *n, uint64_t deadline);

struct kobj *factory_create(struct node *n);
uint64_t factory_invoke(struct thread *caller, struct utcb *u, uint64_t tag);

uint64_t task_invoke(struct thread *caller, struct task *t, struct utcb *u, uint64_t tag);

/* ---- node, scheduler, timeouts, syscall ---- */

/*
 * One node's kernel state.  Invariants: objects lists every kobj not yet
 * freed; nobj[type] counts them by type; nmappings is the sum of ncaps
 * over them (occupied cap slots); threads every thread object;
 * ready[p] holds the READY, unpaused threads of priority p other than
 * current, in run order, and bit p of ready_bits is set iff ready[p] is
 * not empty;
 * timeouts holds blocked threads with finite deadlines, sorted by
 * deadline.
 */
struct node {
	struct klist objects;
	uint64_t nobj[KOBJ_FACTORY + 1];
	uint64_t nmappings;
	struct klist dying;
	struct klist threads;
	struct klist ready[KERNEL_PRIO_MAX + 1];
	uint64_t ready_bits[(KERNEL_PRIO_MAX + 1) / 64];
	struct klist timeouts;
	struct thread *current;
	struct task *root;
	bool stop;
	bool cap_trim_due; /* a task ended: cap_space_trim_node when idle */
	int stop_code;
	unsigned slice_us;
	struct node_end *ends; /* kernel_at_end, latest first */
	/* external irq lines (irq_line.c): bit i set in line_pending: line
	 * i was raised and not yet drained (set by any host thread);
	 * line_bound: the lines bound to irqs of this node; line_efd: the
	 * eventfd raisers wake the scheduler with (-1 until a line is bound) */
	_Atomic uint64_t line_pending;
	uint64_t line_bound;
	int line_efd;
	/* a drained line made a thread of this priority + 1 ready (0: none
	 * since the scheduler last looked): it runs at once if that is not
	 * below the running thread's (sched.c) */
	unsigned line_woke;
	/* the node's thread's rests under a real-time policy (sched_rest.c) */
	struct sched_rest rest;
	/* turns (sched.c): turn[p] is the stamp of the last thread of
	 * priority p picked to run, from the count turns */
	uint64_t turns;
	uint64_t turn[KERNEL_PRIO_MAX + 1];
};

/* A function kernel_at_end registered: run by node_destroy. */
struct node_end {
	struct node_end *next;
	void (*fn)(void *arg);
	void *arg;
};

/* The node being run by kernel_boot on this host thread (or NULL). */
extern __thread struct node *node_current;

struct node *node_create(void);
/* Kill and free everything of n, then n.  Returns how many objects were
 * still referenced after everything was killed (a refcount bug if > 0). */
unsigned node_destroy(struct node *n);

/* Make t runnable (unless paused or current): first of its priority on
 * the rest of its slice if it holds the turn there (nothing else of its
 * priority ran since it stopped), else behind the others with a new
 * slice; direct, from a current thread of its priority (a call or
 * reply): first, on the rest of that thread's slice (sched.c). */
void sched_ready(struct thread *t, bool direct);
void sched_unready(struct thread *t);
/* Highest priority of a ready thread, -1 if none is ready. */
int sched_top(const struct node *n);
/* Take the thread to run next (highest priority, first of its queue) off
 * the ready queues; NULL if none is ready. */
struct thread *sched_pick(struct node *n);
/* Give t priority prio (<= KERNEL_PRIO_MAX), keeping its place in the
 * ready queues consistent. */
void sched_set_prio(struct thread *t, unsigned prio);
/* Run the node until stop or nothing can run; returns kernel_boot's code. */
int sched_run(struct node *n);

uint64_t timeout_now(void);
/* A clock of jiffy resolution (a few ms), cheap: for time-slice accounting
 * only, never for deadlines. */
uint64_t timeout_now_coarse(void);
void timeout_arm(struct thread *t, uint64_t deadline);
void timeout_disarm(struct thread *t);
/* Time out every thread whose deadline is <= now. */
void timeout_expire(struct node *n, uint64_t now);
/* Earliest deadline, UINT64_MAX if none. */
uint64_t timeout_next(struct node *n);

/* Handle one syscall of t (kcap, tag, timeout as in abi.h). */
void syscall_dispatch(struct thread *t, uint64_t kcap, uint64_t tag, uint64_t timeout);

/* result tag helpers */
static inline uint64_t kres(unsigned err)
{
	return TAG_WITH_ERROR(0, err);
}

static inline uint64_t kres_words(unsigned words, unsigned items)
{
	return TAG(0, 0, words, items);
}

#endif
