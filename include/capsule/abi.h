/*
 * capsule system-call ABI: what the kernel and libbase agree on.
 *
 * The kernel follows Fiasco.OC: there is one system call, "invoke the
 * object named by a kcap with a message tag".  The object decides what the
 * message means: an IPC gate forwards it to the thread it is bound to, a
 * kernel object (task, thread, factory, irq) interprets it as a call of its
 * protocol.  This header is shared by the kernel (host C) and by libbase,
 * which is compiled both for guests (freestanding x86-64) and for native
 * components, so it uses only fixed-width integer types.
 *
 * Guest calling convention (the x86-64 `syscall` instruction):
 *   in:  rdi = kcap invoked (SYS_OP_WAIT: see KCAP_NIL)
 *        rsi = message tag (below)
 *        rdx = timeout in microseconds (SYS_TIMEOUT_NEVER: block forever,
 *              0: do not block)
 *   out: rax = result tag (counts of the message received, error code)
 *        rdx = label of what was received (gate label | rights, irq label)
 *   All other registers are preserved.  Message registers live in the
 *   calling thread's UTCB; the guest finds its UTCB at %gs:0.
 * Native threads make the same call through sys_invoke() (base/), which
 * switches to the node's scheduler instead of trapping.
 */
#ifndef CAPSULE_ABI_H
#define CAPSULE_ABI_H

#include <stdint.h>

/* --- capability selectors ------------------------------------------- */

#define CAP_SHIFT 12   /* kcap = index << CAP_SHIFT, as in L4 */
#define CAP_SLOTS 4096 /* entries of a task's cap space and cap map */
/* Entries of a native task's cap space (core, init, the monitor): they
 * hold caps for every component of the node, so their bound is far above
 * what a node's cap quota can pay for; the pages are touched as used. */
#define CAP_SLOTS_NATIVE (1u << 18)
#define KCAP(index)	 ((uint64_t)(index) << CAP_SHIFT)
#define KCAP_INDEX(kcap) ((uint64_t)(kcap) >> CAP_SHIFT)
#define KCAP_INVALID	 0ULL /* slot 0 is never used */

/* Fixed selectors below KCAP_USER_BASE are managed by core, never
 * refcounted, never allocated by the cap map's first-fit allocator. */
enum fixed_cap {
	FIXED_TASK = 0x1,	 /* the task itself */
	FIXED_FACTORY = 0x2,	 /* only core's task holds a factory */
	FIXED_PARENT = 0xb,	 /* parent interface (docs/design.md) */
	FIXED_THREAD_AREA = 0xc, /* first thread slot group */
	THREAD_AREA_SLOTS = 5,	 /* per thread: gate, pager, irq, vcpu, vcpu-irq */
	THREAD_SLOT_GATE = 0,	 /* the thread's own kernel thread cap */
	THREAD_SLOT_PAGER = 1,	 /* its pager / exception handler gate */
	THREAD_SLOT_IRQ = 2,	 /* an irq core gives each thread */
	FIXED_USER_BASE = 0x300, /* first-fit allocation starts here */
	THREAD_AREA_THREADS = (FIXED_USER_BASE - FIXED_THREAD_AREA) / THREAD_AREA_SLOTS,
};

/* kcap of slot `slot` of thread number `nr` in the thread area */
#define KCAP_THREAD(nr, slot) KCAP(FIXED_THREAD_AREA + (nr)*THREAD_AREA_SLOTS + (slot))

/* --- rights (low bits of a map item and of a delivered gate label) ---- */

enum cap_rights {
	RIGHT_W = 0x1, /* may send / write */
	RIGHT_S = 0x2, /* special: kernel-object protocol of a gate/irq */
	RIGHT_R = 0x4, /* read; always present on a valid cap */
	RIGHTS_ALL = 0x7,
	LABEL_RIGHTS_MASK = 0x3, /* rights folded into a gate label */
};

/* --- message tag -------------------------------------------------------- */

enum sys_op {
	SYS_OP_SEND = 1,       /* send to kcap, no receive */
	SYS_OP_WAIT = 2,       /* open receive: any gate/irq bound to me */
	SYS_OP_CALL = 3,       /* send to kcap, then receive its reply */
	SYS_OP_REPLY_WAIT = 4, /* reply to the last caller, then open receive */
	SYS_OP_REPLY = 5,      /* reply to the last caller only, never blocks */
};

#define SYS_TIMEOUT_NEVER (~0ULL)
/* SYS_OP_WAIT on KCAP_NIL is a closed wait on nobody: sleep for timeout.
 * SYS_OP_WAIT on the kcap of an irq bound to the caller is a closed wait
 * for that irq only: it returns one trigger (label, 0 words) and leaves
 * other pending messages, irqs and senders queued.  SYS_OP_WAIT on
 * KCAP_INVALID (index 0) is the open wait; on any other kcap (empty, not
 * an irq, an irq bound to another thread) it fails with KERR_INVAL_CAP. */
#define KCAP_NIL      (~0ULL)
#define UTCB_MRS      74 /* message registers: an RPC carries struct cpu_regs */
#define UTCB_BRS      4	 /* buffer registers */
#define UTCB_TCRS     8	 /* thread-control registers */
#define MSG_MAX_ITEMS 4	 /* map items (capabilities) per message */

/*
 * Tag layout (64 bits):
 *   [0..6]   words  number of untyped words in mr[0..words-1]
 *   [8..10]  items  number of map items, in mr[words..words+items-1]
 *   [12..15] op     enum sys_op (ignored in a result tag)
 *   [16..31] proto  0 for IPC, PROTO_* for a kernel-object protocol
 *   [32..47] error  enum kerr, only in a result tag
 * A map item word is (kcap | rights).  On receipt, item j is mapped into
 * slot br[0] + (j << CAP_SHIFT) of the receiver and its mr word is
 * rewritten to that kcap | rights; an item whose kcap is empty arrives as
 * KCAP_INVALID.
 */
#define TAG_WORDS(t) ((unsigned)((t)&0x7f))
#define TAG_ITEMS(t) ((unsigned)(((t) >> 8) & 0x7))
#define TAG_OP(t)    ((unsigned)(((t) >> 12) & 0xf))
#define TAG_PROTO(t) ((unsigned)(((t) >> 16) & 0xffff))
#define TAG_ERROR(t) ((unsigned)(((t) >> 32) & 0xffff))
#define TAG(op, proto, words, items)                                                     \
	((uint64_t)(words) | ((uint64_t)(items) << 8) | ((uint64_t)(op) << 12) |         \
	 ((uint64_t)(proto) << 16))
#define TAG_WITH_ERROR(t, err) (((t)&0xffffffffULL) | ((uint64_t)(err) << 32))

/* The kernel's one error enum, returned in the result tag. */
enum kerr {
	KERR_OK = 0,
	KERR_INVAL_CAP = 1, /* empty, revoked or wrong-type kcap */
	KERR_TIMEOUT = 2,   /* timeout expired before the partner was ready */
	KERR_ABORTED = 3,   /* partner vanished (task/thread/gate destroyed) */
	KERR_PERM = 4,	    /* missing right for this operation */
	KERR_INVAL = 5,	    /* malformed message or argument */
	KERR_NOSYS = 6,	    /* unknown protocol or opcode */
	KERR_NOMEM = 7,	    /* host memory or slots exhausted */
	KERR_BUSY = 8,	    /* object already bound / in use */
	KERR_RANGE = 9,	    /* address or index out of range */
};

/* --- UTCB: one per thread, in the thread's task ------------------------ */

struct utcb {
	uint64_t self; /* address of this UTCB in the task; %gs:0 */
	uint64_t mr[UTCB_MRS];
	uint64_t br[UTCB_BRS]; /* br[0]: kcap of a 4-slot receive window */
	uint64_t tcr[UTCB_TCRS];
};

enum utcb_tcr {
	TCR_THREAD_KCAP = 0, /* the thread's own kcap: the "Ipc_server" cap */
	TCR_CAP_ENTRY = 1,   /* libbase: address of its own cap map entry */
	TCR_THREAD_NR = 2,   /* its number in the thread area */
	TCR_USER = 3,	     /* free for libbase (e.g. thread object pointer) */
	TCR_COMPONENT = 4,   /* native threads: libbase's per-component state */
	TCR_BADGES = 5,	     /* libbase: TCR_BADGES_HELD while the thread
				keeps badges outside its cap map
				(cap_badges_hold): a checkpoint does not cut
				it then */
};
/* tcr[TCR_BADGES] during a call made inside such a span: the badges come
 * back in the reply, so the kernel turns it into TCR_BADGES_HELD as it
 * delivers the reply (a thread paused at the call, not yet answered,
 * keeps none and may be cut; one paused right after its reply may not) */
#define TCR_BADGES_HELD	    1
#define TCR_BADGES_AT_REPLY 2

/* --- kernel-object protocols (TAG proto, mr[0] = opcode) ---------------- */

enum proto {
	PROTO_IPC = 0,
	PROTO_FACTORY = 1,
	PROTO_TASK = 2,
	PROTO_THREAD = 3,
	PROTO_GATE = 4, /* needs RIGHT_S on the gate cap */
	PROTO_IRQ = 5,
};

/*
 * Factory (invoked on FIXED_FACTORY; the new object's cap is delivered as
 * map item 0 into the caller's receive window, with RIGHTS_ALL):
 *   FACTORY_TASK    mr[1] = flags (TASK_GUEST or TASK_NATIVE)
 *   FACTORY_THREAD  -
 *   FACTORY_GATE    mr[1] = thread kcap to bind or KCAP_INVALID,
 *                   mr[2] = label (low 2 bits must be 0)
 *   FACTORY_IRQ     mr[1] = label
 *   FACTORY_STATS   no receive window, no cap delivered: result words
 *                   mr[FACTORY_STAT_*] = the node's kernel objects not yet
 *                   freed, by type, and mr[FACTORY_STAT_MAPPINGS] = the
 *                   occupied cap slots of all tasks (FACTORY_STAT_WORDS
 *                   words).  Only core holds the factory, so only core
 *                   can ask (leak checks, `capsule ps`).
 */
enum factory_op {
	FACTORY_TASK = 1,
	FACTORY_THREAD,
	FACTORY_GATE,
	FACTORY_IRQ,
	FACTORY_STATS
};
enum factory_stat {
	FACTORY_STAT_TASKS = 0,
	FACTORY_STAT_THREADS,
	FACTORY_STAT_GATES,
	FACTORY_STAT_IRQS,
	FACTORY_STAT_FACTORIES,
	FACTORY_STAT_MAPPINGS,
	FACTORY_STAT_WORDS
};
enum task_flags { TASK_GUEST = 1, TASK_NATIVE = 2 };

/*
 * Task (invoked on a task kcap):
 *   TASK_MAP        mr[1] = source task kcap (KCAP_INVALID: the caller),
 *                   mr[2] = source kcap | rights mask, mr[3] = dest kcap.
 *                   Maps into the invoked task; records the mapping in the
 *                   mapping database as a child of the source.  An
 *                   occupied destination slot is replaced (and its subtree
 *                   revoked).
 *   TASK_UNMAP      mr[1] = kcap in the invoked task, mr[2] = UNMAP_* flags.
 *                   Revokes every mapping derived from it, recursively; with
 *                   UNMAP_SELF also the slot itself.  With UNMAP_RELEASE
 *                   only the slot is emptied and what was derived from it
 *                   stays (re-attached to the slot's own source), i.e.
 *                   dropping a local reference without revoking copies
 *                   given away.  A receive into an occupied window slot
 *                   releases its old content the same way.
 *   TASK_CAP_VALID  mr[1] = kcap -> result mr[0] = 1 if it names an object
 *   TASK_CAP_EQUAL  mr[1], mr[2] = kcaps -> mr[0] = 1 if the same object;
 *                   with mr[3], mr[2] is a kcap of the task that the
 *                   caller's kcap mr[3] names (KCAP_INVALID: the caller's
 *                   own), and further pairs (kcap in the invoked task,
 *                   kcap in mr[3]'s) may follow from mr[4]: mr[0] = 1 if
 *                   every pair names the same object.  Whether a task
 *                   holds the caller's objects (core checks the PD
 *                   session caps named by their holder's kcaps, in one
 *                   call, PD_MAP_OUT)
 *   TASK_MAP_OUT    mr[1] = TASK_MAP_OUT_* flags, then from mr[2] up to
 *                   TASK_MAP_OUT_MAX triples: destination task kcap
 *                   (KCAP_INVALID: the caller), source kcap in the invoked
 *                   task | rights mask, destination kcap.  Each is a
 *                   TASK_MAP out of the invoked task, all in one call:
 *                   every triple is checked before any is mapped, so a
 *                   refused one maps none (a destination slot named twice,
 *                   or that is a source, or whose replacement would revoke
 *                   a source or another destination, is refused).  Flags:
 *                   _GATES every source names a gate, _EMPTY every
 *                   destination slot is empty (KERR_INVAL_CAP otherwise).
 *   TASK_MAP_MEM    core only: mr[1] = host address, mr[2] = task address,
 *                   mr[3] = size, mr[4] = MEM_R/W/X; page aligned
 *   TASK_UNMAP_MEM  core only: mr[1] = task address, mr[2] = size
 */
enum task_op {
	TASK_MAP = 1,
	TASK_UNMAP,
	TASK_CAP_VALID,
	TASK_CAP_EQUAL,
	TASK_MAP_MEM,
	TASK_UNMAP_MEM,
	TASK_CAP_INFO, /* mr[1] = kcap -> mr[0] = enum kobj_type, mr[1] = rights */
	TASK_MAP_OUT,
};
enum task_map_out_flags { TASK_MAP_OUT_GATES = 1, TASK_MAP_OUT_EMPTY = 2 };
#define TASK_MAP_OUT_MAX ((UTCB_MRS - 2) / 3) /* 24 */
enum unmap_flags { UNMAP_SELF = 1, UNMAP_RELEASE = 2 };
enum mem_perm { MEM_R = 1, MEM_W = 2, MEM_X = 4 };
enum kobj_type {
	KOBJ_NONE = 0,
	KOBJ_TASK,
	KOBJ_THREAD,
	KOBJ_GATE,
	KOBJ_IRQ,
	KOBJ_FACTORY,
};

/*
 * Thread (invoked on a thread kcap):
 *   THREAD_CONTROL  mr[1] = task kcap to bind to, mr[2] = utcb address in
 *                   that task, mr[3] = pager kcap (in the caller's space;
 *                   faults are sent there), mr[4] = thread-area number.
 *                   The kernel writes utcb.self and tcr[THREAD_KCAP|NR].
 *   THREAD_EX_REGS  mr[1] = ip, mr[2] = sp: set and make ready (start)
 *   THREAD_PAUSE    stop scheduling; a thread blocked in a receive is
 *                   taken out of it and restarts the receive on resume; a
 *                   call whose send phase did not complete is rewound so
 *                   that resume re-issues the syscall.
 *   THREAD_RESUME   also continues a TS_FAULTED guest thread halted by a
 *                   read/write/exec fault once its pager mapped the page:
 *                   it re-executes the faulting instruction (other faults:
 *                   KERR_INVAL)
 *   THREAD_GET_REGS -> mr[0..] = struct cpu_regs (paused threads only)
 *   THREAD_SET_REGS mr[1..] = struct cpu_regs (paused threads only)
 *   THREAD_STATE    -> mr[0] = enum thread_state, mr[1] = fault ip,
 *                   mr[2] = fault address, mr[3] = fault kind
 *   THREAD_SCHED    mr[1] = priority 0..KERNEL_PRIO_MAX (higher runs
 *                   first); root task only (KERR_PERM), like Fiasco.OC's
 *                   scheduler capability that only core holds.  A new
 *                   thread has KERNEL_PRIO_MAX, which core keeps for its
 *                   own threads and never gives a component's.
 */
enum thread_op {
	THREAD_CONTROL = 1,
	THREAD_EX_REGS,
	THREAD_PAUSE,
	THREAD_RESUME,
	THREAD_GET_REGS,
	THREAD_SET_REGS,
	THREAD_STATE,
	THREAD_SCHED,
};

/*
 * Priorities.  The kernel schedules by fixed priority, 0..KERNEL_PRIO_MAX,
 * round robin within one.  A CPU session's "priority" argument is
 * Genode's virtual priority: 0 (highest) .. CPU_PRIORITY_LIMIT - 1, which
 * every parent narrows to its child's band (init: <config prio_levels>,
 * <start priority>); core maps it onto KERNEL_PRIO_MAX - 1 .. 0.
 */
#define KERNEL_PRIO_MAX	   255
#define CPU_PRIORITY_LIMIT (1u << 16)
enum thread_state {
	TS_INACTIVE = 0, /* created, not started */
	TS_READY,
	TS_BLOCKED, /* in IPC */
	TS_PAUSED,
	TS_FAULTED, /* halted by an unresolvable fault */
	TS_DEAD,
};
enum fault_kind {
	FAULT_NONE = 0,
	FAULT_READ,
	FAULT_WRITE,
	FAULT_EXEC,
	FAULT_ILLEGAL, /* illegal instruction */
	FAULT_OTHER,   /* any other CPU exception */
};

/*
 * Fault message: when a thread faults, the kernel halts it and sends a
 * one-way message on its pager gate (if any): words = 4, mr[0] = FAULT_MSG,
 * mr[1] = kind, mr[2] = ip, mr[3] = address.  The message is queued in the
 * kernel and never blocks the faulting side.
 */
#define FAULT_MSG 0xfa017ULL

/*
 * Portable register state of a guest thread (THREAD_GET/SET_REGS).
 *
 * The x87 part is what a computation continues from: control word
 * (precision and rounding), status word (condition codes, sticky
 * exception flags and TOP in bits 11..13), the full tag word and the
 * eight physical data registers R0..R7 -- not in stack order: ST(i) is
 * R[(TOP + i) & 7], as the tag word counts them.  Each register is laid
 * out like a long double in memory: 64-bit significand, then sign and
 * 15-bit exponent.  The last-instruction pointers (FIP/FDP/FOP) are left
 * out: only an exception handler reads them, never an x87 operation.
 */
struct cpu_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags, fs_base, gs_base;
	uint64_t mxcsr;
	uint64_t xmm[16][2];
	uint16_t fpcw, fpsw, fptag;
	uint16_t fp_reserved; /* 0 */
	uint8_t fpr[8][10];
};
#define CPU_REGS_WORDS (sizeof(struct cpu_regs) / 8) /* 64 */
_Static_assert(sizeof(struct cpu_regs) % 8 == 0, "cpu_regs: whole message words");
/* THREAD_SET_REGS sends op + the struct; CPU_GET/SET_REGS send it as the
 * payload of one RPC that may carry MSG_MAX_ITEMS caps (base/ipc.h). */
_Static_assert(1 + CPU_REGS_WORDS <= UTCB_MRS &&
		   CPU_REGS_WORDS <= UTCB_MRS - 2 - 2 * MSG_MAX_ITEMS,
	       "cpu_regs: must fit in one message");

/*
 * Gate (invoked with RIGHT_S):
 *   GATE_BIND  mr[1] = thread kcap, mr[2] = label (low 2 bits 0)
 *   GATE_INFO  -> mr[0] = label, mr[1] = 1 if bound
 * Irq:
 *   IRQ_BIND    mr[1] = thread kcap, mr[2] = label: the thread receives
 *               (open wait) one message with this label per trigger;
 *               KERR_BUSY while bound to a live thread, except the same
 *               bind again (same thread and label), which is a no-op
 *   IRQ_UNBIND  only from the task of the bound thread (KERR_PERM while
 *               it is bound to a live thread of another task)
 *   IRQ_TRIGGER counts; semaphore semantics, never blocks
 */
enum gate_op { GATE_BIND = 1, GATE_INFO };
enum irq_op { IRQ_BIND = 1, IRQ_UNBIND, IRQ_TRIGGER, IRQ_LINE };
/*
 *   IRQ_LINE    mr[1] = external line number (< 64), root task only
 *               (KERR_PERM otherwise): every kernel_line_raise(line)
 *               (native.h) triggers this irq once; KERR_BUSY if another
 *               irq holds the line.  The binding ends when the irq dies.
 */

/* --- guest address-space layout (every guest task) ---------------------- */

#define GUEST_IMAGE_BASE 0x400000ULL /* linker script puts .text here */
/* The areas start at page numbers that differ in their low bits, so that
 * code, UTCB, stack and heap pages do not all compete for the same set of
 * the emulator's direct-mapped software TLB (measured: ~10% of an IPC
 * round trip went to TLB refills when all started at index 0). */
#define GUEST_UTCB_AREA	 0x10020000ULL /* one page per thread number */
#define GUEST_UTCB_SIZE	 0x1000ULL
#define GUEST_STACK_AREA 0x40000000ULL	/* one slot per thread number */
#define GUEST_STACK_SLOT 0x100000ULL	/* 1 MiB virtual per thread */
#define GUEST_RM_BASE	 0x100010000ULL /* region-map attach area */
#define GUEST_RM_SIZE	 0x7f00000000ULL

/* What the parent writes at the top of a new component's initial stack;
 * crt0 hands its address to libbase. */
struct startup_info {
	uint64_t magic;	       /* STARTUP_MAGIC */
	uint64_t parent_badge; /* badge of the cap at FIXED_PARENT */
	uint64_t thread_nr;    /* thread-area number of the initial thread */
	uint64_t thread_badge; /* id of its CPU-thread object (0 if none) */
	uint64_t utcb;	       /* its UTCB address */
};
#define STARTUP_MAGIC 0xca95013e57a27ULL

#endif
