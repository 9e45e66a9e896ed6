/*
 * core's private types, shared by its files.  Every service object is an
 * RPC object of core's one entrypoint; all of core's state is touched
 * only from that entrypoint thread (and from the fault thread, which runs
 * only between the entrypoint's kernel invocations: native threads are
 * coroutines on one host thread, so no locks are needed).
 */
#ifndef CORE_CORE_INTERNAL_H
#define CORE_CORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <base/env.h>
#include <base/native_component.h>
#include "core/badge.h"
#include "core/core.h"
#include "core/region_map.h"

#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))
#define PAGE_SIZE		      0x1000ULL
#define PAGE_ROUND(x)		      (((x) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))
#define CORE_LABEL_MAX		      128

struct pd_session;
struct core_parent;
struct core_session;
struct core;

/* A session type: everything core does with a session that depends on
 * its type.  Each session file defines its type's ops; core_session.c
 * lists them in core_session_types, the one table of core's services, so
 * a new service is one more entry there.  An op only ever touches
 * sessions of its own type. */
struct core_session_ops {
	const char *name; /* service name in a session request: "PD", ... */
	/* A session made from args, its quota charged to donor (NULL: none),
	 * on core's session list.  0 or -errno, nothing left behind. */
	int (*create)(struct core *c, const char *args, struct pd_session *donor,
		      struct core_session **out);
	/* Close s: its kernel objects and memory are freed, its quota goes
	 * back to its donor. */
	void (*close)(struct core *c, struct core_session *s);
	/* PARENT_UPGRADE: move ram/caps of quota from the client's PD `from`
	 * to s.  0 or -errno.  NULL: the type consumes no quota, an upgrade
	 * is accepted and moves nothing. */
	int (*upgrade)(struct core_session *s, struct pd_session *from, uint64_t ram,
		       uint64_t caps);
	/* core_forget, first pass (NULL: nothing to do): drop the references
	 * s holds on other sessions' objects (attachments hold dataspaces
	 * and managed dataspaces), touching no kernel object. */
	void (*forget_refs)(struct core_session *s);
	/* core_forget, second pass: free s's host memory, touching no kernel
	 * object. */
	void (*forget)(struct core_session *s);
};
extern const struct core_session_ops pd_session_ops, cpu_session_ops, log_session_ops,
    rom_session_ops, timer_session_ops, rm_session_ops, irq_session_ops;

/* Header of every session object.  Invariant: on core's session list
 * exactly while obj is managed by core's entrypoint; donor (if any) is a
 * live PD session that gave this session's RAM/cap quota. */
struct core_session {
	struct rpc_object obj; /* first: its cap is the session cap */
	struct core_session *next;
	const struct core_session_ops *ops; /* its type */
	struct core_parent *owner;	    /* parent object it was created through */
	struct pd_session *donor;
	char label[CORE_LABEL_MAX];
};

/* The roottask.  One per node (core_main allocates it; it is freed once
 * the node is gone), so several nodes may run in one process; cfg
 * outlives it.  Nothing of core's state is process-wide. */
struct core {
	struct core_config *cfg; /* status is written back */
	/* the node's budget, given to init: cfg's or the defaults (core.h) */
	uint64_t ram_budget, cap_budget;
	struct badge_alloc badges;
	struct rpc_cap_factory factory;
	struct env *env;
	struct core_session *sessions;
	struct core_parent *parents;
	cap_t fault_thread; /* core's thread receiving FAULT_MSG on pager gates */
	/* timer_session.c: made with the first Timer session */
	struct timer_service *timer;
	struct native_start init_start; /* what init's first thread receives */
	struct native_start start;	/* what core's own first thread runs with */
	/* libbase's per-component state of core (the entrypoint's
	 * tcr[TCR_COMPONENT]), shared with core's other threads */
	uint64_t component;
};

/* ---- kobj.c: core's raw kernel-object invocations ---- */
/* Invoke kernel object kcap (protocol proto) with words in[0..nin);
 * copy nout result words to out.  0 or -errno. */
int kobj_invoke(uint64_t kcap, unsigned proto, const uint64_t *in, unsigned nin,
		uint64_t *out, unsigned nout);
/* Create a kernel object through FIXED_FACTORY (op, a1, a2) straight into
 * a fresh cap map entry with id `id`.  0 or -errno, nothing left behind. */
int kobj_create(unsigned op, uint64_t a1, uint64_t a2, uint64_t id, cap_t *out);
/* Revoke c everywhere (TASK_UNMAP | UNMAP_SELF) and free its entry. */
void kobj_destroy(cap_t c);
/* Map c into task at dst with at most `rights`: gates handed to others get
 * RIGHT_R | RIGHT_W, never RIGHT_S (which would let them rebind the gate). */
int kobj_map(cap_t task, cap_t c, uint64_t dst, unsigned rights);

/* ---- rpc_cap_factory.c ---- */
void core_factory_init(struct core *c);
/* New badge + gate bound to ep_thread, entry in core's cap map.  0 or -errno. */
int core_gate_alloc(struct core *c, cap_t ep_thread, cap_t *gate);
/* Revoke the gate everywhere and forget it. */
int core_gate_free(struct core *c, cap_t gate);
uint64_t core_badge(struct core *c); /* 0 when exhausted */

/* ---- dataspace.c ---- */
/* A block of page-aligned, zero-filled host memory served as an RPC
 * object (DS_SIZE).  Invariant: refs = 1 while its owner holds it + one
 * per attachment; the memory is unmapped when refs reaches 0, the cap is
 * revoked as soon as the owner drops it. */
struct dataspace {
	struct rpc_object obj;
	struct dataspace *next; /* in the owner's list */
	void *host;
	uint64_t size; /* multiple of PAGE_SIZE */
	int writable;
	unsigned refs;
	int managed;	     /* obj is in core's pool */
	int pinned;	     /* core frees it (a UTCB page), PD_FREE_RAM may not */
	struct region *uses; /* the regions attaching it (core/region_map.h) */
	struct core *core;   /* that made it */
	/* while DS_DIRTY tracking is on: the PD charged for its bitmaps */
	struct pd_session *dirty_payer;
	struct ds_lazy *lazy; /* pages still absent (ds_lazy.c), or NULL */
};
int ds_create(struct core *c, uint64_t size, int writable, struct dataspace **out);
/* Owner drops it: cap revoked, memory freed once no attachment remains. */
void ds_release(struct core *c, struct dataspace *ds);
/* pd is destroyed: end what it pays for on other PDs' dataspaces
 * (DS_DIRTY_START / DS_LAZY_START with a payer). */
void ds_payer_gone(struct core *c, struct pd_session *pd);
void ds_ref(struct dataspace *ds);
void ds_unref(struct dataspace *ds);
/* ds_unmap.c: give back host memory of a dataspace nobody uses any more;
 * a large one is unmapped by a host thread of its own, not the caller */
void ds_host_free(void *host, uint64_t size);
struct dataspace *ds_from_cap(struct core *c, cap_t cap);

/* ---- ds_lazy.c: lazy RAM dataspaces (pages filled after start) ---- */
/* All pages of ds absent, the fill handler context sigh; the bitmap is
 * charged to owner.  0, -EPERM (no owner), -EBUSY (attached, tracked or
 * lazy already), -EINVAL, -EDQUOT, -ENOMEM. */
int lazy_start(struct dataspace *ds, struct pd_session *owner, uint64_t sigh);
/* 1 if page of ds is present (every page of a dataspace that is not lazy). */
int lazy_present(const struct dataspace *ds, uint64_t page);
/* The first run [*first, *end) of present pages within [from, to): 1, or
 * 0 if there is none. */
int lazy_next_run(const struct dataspace *ds, uint64_t from, uint64_t to, uint64_t *first,
		  uint64_t *end);
/* The thread with this pager badge touched absent page `page`: it waits,
 * the fill handler is signalled (1); 0 if the page is present. */
int lazy_fault(struct core *c, struct dataspace *ds, uint64_t page, uint64_t pager);
/* Up to max distinct pages threads wait for into pages (*n); returns
 * the pages still absent. */
uint64_t lazy_wanted(const struct dataspace *ds, uint64_t *pages, unsigned max,
		     unsigned *n);
/* Pages [first, first + count) were written: map them, wake their
 * waiters; *absent = pages still absent (0: ds is an ordinary dataspace
 * now).  0, -ENOENT (not lazy), -EINVAL, or a mapping's -errno. */
int lazy_filled(struct core *c, struct dataspace *ds, uint64_t first, uint64_t count,
		uint64_t *absent);
/* Forget the lazy state; uncharge (the node runs on): give the bitmap's
 * quota back and let the threads waiting for its pages go on. */
void lazy_drop(struct dataspace *ds, int uncharge);
/* The PD session paying for ds's lazy bitmap, or NULL if ds is not lazy. */
struct pd_session *lazy_payer(const struct dataspace *ds);

/* ---- core_session.c ---- */
void core_session_add(struct core *c, struct core_session *s,
		      const struct core_session_ops *type, const char *label);
void core_session_remove(struct core *c, struct core_session *s);
/* The live session of type `type` (NULL: any) named by cap, or NULL. */
struct core_session *core_session_find(struct core *c, cap_t cap,
				       const struct core_session_ops *type);
/* The same by the session's badge (a cap's that a client named). */
struct core_session *core_session_by_badge(struct core *c, uint64_t badge,
					   const struct core_session_ops *type);
/* The session type serving `service` (its name in core_session_types),
 * or NULL. */
const struct core_session_ops *core_session_type(const char *service);
/* The number of session types and type number i (0 <= i < n). */
unsigned core_session_ntypes(void);
const struct core_session_ops *core_session_type_at(unsigned i);
/* Create a session of the named service with args; quotas are charged to
 * donor (NULL: none).  0 or -errno; -ENOENT (after one line on stderr
 * naming it) for a service core does not have. */
int core_session_create(struct core *c, const char *service, const char *args,
			struct pd_session *donor, struct core_parent *owner,
			struct core_session **out);
void core_session_close(struct core *c, struct core_session *s);
/* PARENT_UPGRADE of s with quota from the client's PD.  0 or -errno. */
int core_session_upgrade(struct core_session *s, struct pd_session *from, uint64_t ram,
			 uint64_t caps);
/* After the node that ran c is gone (every kernel object already freed by
 * the kernel): free core's host memory of it, touching no kernel object. */
void core_forget(struct core *c);

/* ---- pd_session.c ---- */
struct pd_gate {
	struct pd_gate *next;
	cap_t cap;
	uint64_t kcap; /* held list only: where MAP_CAP put it in the PD */
};

/* Invariants: ram_used <= ram_quota, cap_used <= cap_quota; ram_used is
 * the sum of the sizes of `ram` and of the dirty bitmaps it pays for
 * (DS_DIRTY_START); thread_used[nr] iff a CPU thread of this PD has
 * number nr; every region of rm holds a ds reference. */
struct pd_session {
	struct core_session s;
	struct core *core;
	int native;
	/* being destroyed, its threads gone: its task's own mappings end
	 * with the task, not one by one (rm_mapping.c) */
	int dying;
	cap_t task;
	uint64_t ram_quota, ram_used, cap_quota, cap_used;
	struct dataspace *ram;
	struct region_map rm;
	struct pd_gate *gates; /* RPC caps allocated by the component */
	struct pd_gate *held;  /* caps core keeps so MAP_CAP mappings live */
	uint64_t cap_map_addr, cap_map_entries;
	uint64_t cr_report_addr, cr_abi_version; /* the checkpoint report */
	uint8_t thread_used[THREAD_AREA_THREADS];
	/* signal_source.c */
	struct signal_source *signal_sources;
	struct rm_object *stack_area, *address_space; /* rm_session.c */
};
int pd_session_create(struct core *c, const char *args, struct pd_session *donor,
		      struct pd_session **out);
void pd_session_destroy(struct pd_session *pd);
struct pd_session *pd_session_from_cap(struct core *c, cap_t cap);
/* pd_caps.c: the PD ops that map caps (each 0 or -errno, nothing mapped
 * on an error); pd_kcap_ok: a kcap a client may name; pd_cap_valid: a
 * cap is at kcap of the PD's task */
int pd_kcap_ok(uint64_t kcap);
int pd_cap_valid(struct pd_session *pd, uint64_t kcap);
int pd_session_map_cap(struct pd_session *pd, cap_t c, uint64_t kcap);
int pd_session_map_caps(struct pd_session *pd, const struct msg *m);
int pd_session_derive_caps(struct pd_session *pd, struct pd_session *to,
			   const struct msg *m);
int pd_session_map_out(struct pd_session *pd, const struct msg *m);
/* RAM for core's own use on behalf of pd (UTCB pages), charged to it. */
int pd_alloc_ds(struct pd_session *pd, uint64_t size, struct dataspace **out);
void pd_free_ds(struct pd_session *pd, struct dataspace *ds);
void pd_rm_init(struct pd_session *pd);
/* Detach everything and free every RAM dataspace (session close). */
void pd_memory_release(struct pd_session *pd);
/* Attach ds at addr (0: anywhere) into pd.  0 or -errno, *at = address. */
int pd_attach_ds(struct pd_session *pd, struct dataspace *ds, uint64_t addr, uint64_t off,
		 uint64_t size, unsigned perm, uint64_t *at);
int pd_detach_addr(struct pd_session *pd, uint64_t addr);
/* Attach a dataspace or (exclusive) a managed dataspace sub at addr
 * (fixed) or anywhere: fixed addresses inside the stack area go into its
 * map.  0 or -errno, *at = address. */
int pd_attach_region(struct pd_session *pd, struct dataspace *ds, struct region_map *sub,
		     uint64_t addr, int fixed, uint64_t off, uint64_t size, unsigned perm,
		     uint64_t *at);
/* Detach ds from every region map it is attached to, in any PD or RM
 * session: RAM whose quota is given back must not stay in use. */
void ds_detach_all(struct dataspace *ds);
/* Detach ds wherever pd has it attached (PD_FREE_RAM). */
void pd_detach_ds(struct pd_session *pd, struct dataspace *ds);
/* core_forget's part: host memory of pd's regions and RAM only. */
void pd_memory_forget(struct pd_session *pd);
/* Move unused quota from one PD to another.  0, -EDQUOT or -EINVAL. */
int pd_session_transfer(struct pd_session *from, struct pd_session *to, uint64_t ram,
			uint64_t caps);
/* Quota: charge or give back; -EDQUOT when it would exceed. */
int pd_charge_caps(struct pd_session *pd, uint64_t n);
void pd_uncharge_caps(struct pd_session *pd, uint64_t n);
int pd_charge_ram(struct pd_session *pd, uint64_t n);
void pd_uncharge_ram(struct pd_session *pd, uint64_t n);

/* ---- cpu_session.c / cpu_thread.c ---- */
/* A thread of a PD.  Invariant: on its CPU session's list; pd is live
 * (destroying a PD destroys its threads first); nr is marked in
 * pd->thread_used; thread's id is the thread badge. */
struct cpu_thread {
	struct rpc_object obj; /* the CPU-thread object the client holds */
	struct cpu_thread *next;
	struct cpu_session *cpu;
	struct pd_session *pd;
	char name[32];
	uint64_t nr;
	uint64_t utcb;
	struct dataspace *utcb_ds; /* guest PDs: the UTCB page */
	cap_t thread;		   /* kernel thread, id = thread badge */
	cap_t pager;		   /* gate to core's fault thread */
	cap_t irq;		   /* its own irq, bound to it (cpu_thread.c) */
	int started;
	unsigned fault_kind;
	uint64_t fault_ip, fault_addr;
};
struct cpu_session {
	struct core_session s;
	struct core *core;
	struct cpu_thread *threads;
	cap_t exc_irq; /* CPU_EXCEPTION_IRQ, invalid until asked for */
	/* its kcap in core, for the fault thread (which has no libbase
	 * state, so cannot use cap_kcap) */
	uint64_t exc_irq_kcap;
	/* its threads' kernel priority, from the session's "priority"
	 * argument (cpu_session_kernel_prio) */
	unsigned kprio;
};
/* Kernel priority of Genode virtual priority prio (0 highest ..
 * CPU_PRIORITY_LIMIT - 1): KERNEL_PRIO_MAX - 1 .. 0, so that no
 * component's thread ever reaches core's own KERNEL_PRIO_MAX. */
unsigned cpu_session_kernel_prio(uint64_t prio);
int cpu_session_create(struct core *c, const char *args, struct cpu_session **out);
void cpu_session_destroy(struct cpu_session *cpu);
int cpu_thread_create(struct cpu_session *cpu, struct pd_session *pd, const char *name,
		      struct cpu_thread **out);
void cpu_thread_destroy(struct cpu_thread *t);
/* Dispatch a CPU op addressed to thread t (m: request -> reply). */
void cpu_thread_op(struct cpu_thread *t, struct msg *m);
/* Destroy every thread of pd, in all CPU sessions. */
void cpu_threads_of_pd_destroy(struct core *c, struct pd_session *pd);
/* A fault arrived on pager gate `label`: record it on the thread; returns
 * the kcap of its CPU session's exception irq to trigger, or KCAP_INVALID. */
uint64_t cpu_thread_fault(struct core *c, uint64_t label, unsigned kind, uint64_t ip,
			  uint64_t addr);

/* ---- core_fault.c ---- */
int core_fault_thread_start(struct core *c);

/* ---- signal_source.c: the PD session's signal ops (PD_ALLOC_SIGNAL_SOURCE
 * .. PD_SUBMIT); the reply goes to r.  0 or -errno. ---- */
int signal_pd_op(struct pd_session *pd, const struct msg *m, struct msg *r);
/* Free every signal source (and its contexts) of pd: PD session close. */
void signal_pd_release(struct pd_session *pd);
/* core_forget's part: free their host memory, touching no kernel object. */
void signal_pd_forget(struct pd_session *pd);
/* Badge of the live signal context named by cap, 0 if cap is none. */
uint64_t signal_context_badge(struct core *c, cap_t cap);
/* Submit count (> 0) to the context with this badge; -EINVAL if it is
 * gone.  Safe on any of core's threads. */
int signal_submit_badge(struct core *c, uint64_t badge, uint64_t count);
/* ---- rm_session.c: RM sessions; PD_ADDRESS_SPACE / PD_STACK_AREA ---- */
int rm_pd_op(struct pd_session *pd, const struct msg *m, struct msg *r);
int rm_session_create(struct core *c, const char *args, struct core_session **out);
void rm_session_destroy(struct core *c, struct core_session *s);
/* A guest PD's region-map objects: its stack area (a managed dataspace
 * attached at GUEST_STACK_AREA) and, made on demand, the RPC view of its
 * address space.  0 or -errno. */
int rm_pd_init(struct pd_session *pd);
void rm_pd_release(struct pd_session *pd);
void rm_pd_forget(struct pd_session *pd);
/* The stack area's map of pd, or NULL (native PDs). */
struct region_map *rm_pd_stack(struct pd_session *pd);
/* The region map of the managed dataspace named by cap, or NULL. */
struct region_map *rm_managed_from_cap(struct core *c, cap_t cap);
/* Something was attached into m, one of pd's maps: wake its waiters. */
void rm_pd_attached(struct pd_session *pd, struct region_map *m);
/* The fault thread got a fault of the thread with pager badge `label`:
 * if addr lies in a hole of a managed dataspace, record it there, submit
 * to the map's fault handler and keep the thread halted until something
 * is attached (1); if it is already resolved, resume the thread (1);
 * else 0: the fault is fatal. */
int rm_fault(struct core *c, uint64_t label, unsigned kind, uint64_t ip, uint64_t addr);
/* The CPU thread whose pager gate has badge `pager`, or NULL; resume a
 * thread halted on a fault. */
struct cpu_thread *rm_thread_of_pager(struct core *c, uint64_t pager);
void rm_thread_resume(struct cpu_thread *t);
/* ---- rm_mapping.c: attach into a map, reflected into every task where
 * the map appears (see there) ---- */
/* Attach ds or (exclusive) the managed dataspace sub at addr (fixed) or
 * anywhere.  0 or -errno (nothing changed), *at = offset in m. */
int rm_attach(struct region_map *m, struct dataspace *ds, struct region_map *sub,
	      uint64_t addr, int fixed, uint64_t off, uint64_t size, unsigned perm,
	      uint64_t *at);
int rm_detach(struct region_map *m, uint64_t addr);
/* Pages [a, b) of ds became one run of present pages: in every region
 * attaching ds, unmap the runs mapped inside it and map it as one.  0 or
 * the first mapping error. */
int rm_ds_remap(struct dataspace *ds, uint64_t a, uint64_t b);
/* Unmap r from every task, unlink it, drop its reference, free it. */
void rm_region_drop(struct region *r);
/* Detach m from everywhere it is attached and everything from m. */
void rm_release(struct region_map *m);
/* Free m's regions' host memory, touching no kernel object. */
void rm_forget(struct region_map *m);
/* ---- timer_session.c ---- */
int timer_session_create(struct core *c, const char *args, struct core_session **out);
void timer_session_destroy(struct core *c, struct core_session *s);
/* core_forget's part: free the timer service's host memory. */
void timer_service_forget(struct core *c);

/* ---- irq_session.c: IRQ sessions (args `line=N`), one per line ---- */
int irq_session_create(struct core *c, const char *args, struct core_session **out);
void irq_session_destroy(struct core *c, struct core_session *s);
/* The session's Irq (bound to its line), for core's own use. */
cap_t irq_session_irq(struct core_session *s);

/* ---- core_control.c: core's control endpoint "core" (ps, stop) ---- */
/* Register "core" and bind its line to the entrypoint, if a control
 * registry is in use.  0 or -errno (core runs on without it). */
int core_control_start(struct core *c);

/* ---- log_session.c, rom_session.c ---- */
int log_session_create(struct core *c, const char *args, struct core_session **out);
void log_session_destroy(struct core *c, struct core_session *s);
int rom_session_create(struct core *c, const char *args, struct core_session **out);
void rom_session_destroy(struct core *c, struct core_session *s);

/* ---- core_parent.c ---- */
/* The parent object core serves to its child (init).  pd and cpu are the
 * child's env sessions, made by core; log is made on the first request.
 * A PARENT_SESSION with empty args asks for an env session (libbase's
 * start sequence); any other request creates a new session. */
struct core_parent {
	struct rpc_object obj;
	struct core_parent *next;
	struct core *core;
	struct pd_session *pd;
	struct cpu_session *cpu;
	struct core_session *log;
	char label[CORE_LABEL_MAX];
};
int core_parent_create(struct core *c, struct pd_session *pd, struct cpu_session *cpu,
		       const char *label, struct core_parent **out);

/* reply helpers */
static inline void core_reply_err(struct msg *m, int err)
{
	msg_reset(m, RPC_ERROR);
	msg_put(m, (uint64_t)(int64_t)err);
}
static inline void core_reply_ok(struct msg *m)
{
	msg_reset(m, RPC_OK);
}
/* A dispatch function's frame: core_reply_begin answers RPC_INVALID_OPCODE
 * and returns 0 if the opcode is not known, else readies r as an RPC_OK
 * reply and returns 1; core_reply_end then makes m that reply, or the
 * error reply for err if the op failed. */
static inline int core_reply_begin(struct msg *m, int known, struct msg *r)
{
	if (!known) {
		msg_reset(m, RPC_INVALID_OPCODE);
		return 0;
	}
	msg_reset(r, RPC_OK);
	return 1;
}
static inline void core_reply_end(struct msg *m, const struct msg *r, int err)
{
	if (err)
		core_reply_err(m, err);
	else
		*m = *r;
}

#endif
