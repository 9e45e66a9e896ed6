/*
 * Internals of the Unicorn guest backend (kernel/backend.h, "guest").
 *
 * Only the files in this folder include this header and <unicorn/...>.
 *
 *   vspace.c    one Unicorn engine per task: creation, memory map, hooks
 *   vcpu.c      register contexts, lazy register switching, vcpu_run
 *   watchdog.c  the one preemption thread of the process
 *   fault_locate.c  the exact instruction of a data fault
 *   user_mode.c the move of each engine to CPL 3
 *   tlb_fill.c  the engine's TLB filled from the task's mappings: exact
 *               data faults
 *   code_pages.c  self-modifying code: a page is written or run
 *   code_shared.c  the same for pages mapped by several engines (or twice)
 *   tb_budget.c the translation buffer never fills inside a run
 *   vspace_close.c  an ended task's engine closed off the node's thread
 */
#ifndef KERNEL_GUEST_GUEST_H
#define KERNEL_GUEST_GUEST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <unicorn/unicorn.h>
#include "kernel/backend.h"

/*
 * A run slot: how the watchdog sees one engine.
 *
 * state = gen << 2 | phase.  Only the owner (the thread calling vcpu_run)
 * moves IDLE -> RUNNING and RUNNING -> IDLE; only the watchdog moves
 * RUNNING -> STOPPING -> STOPPED, and only for the generation it observed
 * running past its deadline.  An owner that finds its run in
 * STOPPING/STOPPED waits for STOPPED before it returns, so a stop request
 * never outlives the run it was meant for and the engine is never closed
 * while the watchdog is stopping it.
 */
enum wd_phase { WD_IDLE = 0, WD_RUNNING = 1, WD_STOPPING = 2, WD_STOPPED = 3 };
/* Who asked a run to stop (wd_slot.stop_request). */
enum wd_stop { WD_STOP_WATCHDOG = 1, WD_STOP_TIMER = 2 };

struct wd_slot {
	_Atomic uint64_t state;
	_Atomic uint64_t deadline_ns; /* of the current run, CLOCK_MONOTONIC */
	/* set by the watchdog, taken by the engine's block hook, which stops
	 * the run at the next block boundary (see watchdog.c) */
	_Atomic uint32_t stop_request; /* WD_STOP_*: who asked */
	uint64_t gen;  /* owner only: generation of the current/last run */
	uc_engine *uc; /* constant while registered */
	/* under the registry lock: */
	struct wd_slot *next;
	struct wd_slot *prev;
};

/* Put a slot on the watchdog's list (starting the thread the first time).
 * 0 or -errno. */
int wd_register(struct wd_slot *s, uc_engine *uc);
/* Take it off; afterwards the watchdog never touches s or its engine. */
void wd_unregister(struct wd_slot *s);
/* Owner side: bracket one uc_emu_start that the watchdog stops at
 * deadline_ns (CLOCK_MONOTONIC).  wd_run_end returns true if the
 * watchdog stopped (or tried to stop) this run. */
void wd_run_begin(struct wd_slot *s, uint64_t deadline_ns);
bool wd_run_end(struct wd_slot *s);
/* run_timer.c: the same deadline as a signal to the thread running the
 * engine (it sets s->stop_request); from wd_run_begin and wd_run_end.
 * run_timer_begin: true if this thread's timer is armed for deadline_ns
 * or earlier (the run is covered without the watchdog). */
bool run_timer_begin(struct wd_slot *s, uint64_t deadline_ns);
/* Whether the calling thread takes the timer's signal (not blocked). */
bool run_timer_deliverable(void);
void run_timer_end(void);
/* The block hook stopped a run for stop_request `who` (enum wd_stop). */
void wd_count_stop(uint32_t who);

/*
 * A task's address space: one engine.
 *
 * loaded is the vcpu whose registers the engine holds (NULL: none); trap
 * is written by the hooks during a run and read by vcpu_run afterwards
 * (trap.why == 0: no hook fired).
 */
struct probe_engine;

/* user_mode.c: what moving an engine to CPL 3 left to free. */
struct guest_user {
	void *kpage;	   /* the engine's GDT and TSS */
	uc_context *clean; /* its CPU state right after the move */
};

/* tlb_fill.c: one mapping of a task, [start, end) with UC_PROT_* rights
 * of host memory from host; shared: another mapping of the same host
 * pages writes what this one runs or runs what it writes (code_shared.c) */
struct guest_range {
	uint64_t start, end;
	uint32_t prot;
	bool shared;
	uint8_t *host;
};

/* The task's mappings, sorted by address, not overlapping. */
struct guest_map {
	struct guest_range *r;
	size_t n, cap;
};

/* code_pages.c: the mode of each page of a writable and executable
 * mapping that was ever run (a hash table of page | mode) */
struct guest_code {
	uint64_t *slot;
	size_t n, cap;
	uint64_t write_fault; /* the code page a write was refused on (run) */
	uint64_t pending;     /* a page whose TLB entry may be stale */
	uint64_t rewrites;    /* code pages made writable again */
};

/* tb_budget.c: estimated bytes of translated code */
struct guest_tb {
	uint64_t used;	  /* in the buffer since the last flush */
	uint64_t run;	  /* translated in this run */
	uint64_t blocks;  /* translated in all */
	uint64_t flushes; /* of the buffer, between runs */
	bool stopped;	  /* this run was stopped for its budget */
};

/* code_shared.c: an engine in the process's record of shared code */
#define SHARE_DROP_MAX 16
struct guest_share {
	struct vspace *next, *prev; /* all engines (under the record's lock) */
	/* work queued by other engines' faults for this one's next run
	 * (under the lock; stale says there is some): drop the code at
	 * drop[] (drop_all: all code) and flush the TLB */
	_Atomic bool stale;
	bool drop_all;
	unsigned ndrop;
	uint64_t drop[SHARE_DROP_MAX];
	bool held;		/* ever held a shared page as code */
	bool lookup_stale;	/* an entry the engine's own lookup got */
	uint64_t fault_page;	/* a refused access in this run ... */
	uc_mem_type fault_type; /* ... and its type */
	uint64_t faults;	/* fetches and writes handled */
};

struct vspace {
	uc_engine *uc;
	struct guest_code code;
	struct guest_share share;
	struct guest_tb tb;
	struct guest_user user;
	struct guest_map map; /* what the TLB hook enters (tlb_fill.c) */
	uc_hook tlb_hook;
	struct vcpu *loaded;
	struct vcpu_trap trap;
	uc_hook hooks[7];
	struct wd_slot wd;
	struct probe_engine *probe; /* fault_locate.c, made on first use */
	/* the translation block being run, [block, block_end) (hook_block;
	 * block 0: none yet in this run): a data fault lies in it */
	uint64_t block, block_end;
	/* the arguments of the syscall cpu sys_cpu trapped with, read in one
	 * batch with rflags after the run (vcpu.c; NULL: none) */
	struct vcpu *sys_cpu;
	uint64_t sys_args[3];
	/* vcpu_run_until's kick: the block hook stops the run when *kick is
	 * set (NULL outside a run) or a stop is requested (wd.stop_request),
	 * and records that it did in kicked */
	_Atomic uint64_t *kick;
	bool kicked;
	bool port_fault; /* the trap is an `in`/`out` (vspace.c) */
	/* the trap is a page fault raised through the TLB hook (tlb_fill.c):
	 * the registers are those at the faulting instruction, fault_addr is
	 * the page, fault_ip still to be read */
	bool page_fault;
	bool running;	/* inside vcpu_run_until's uc_emu_start */
	bool exception; /* the trap is an exception (hook_intr) */
};

/*
 * One thread's register context.
 *
 * If vs->loaded == cpu and !dirty, the engine's registers are the truth
 * and regs may be stale; otherwise regs is the truth (dirty: regs were set
 * while loaded, the engine must be reloaded before it runs).
 */
struct vcpu {
	struct vspace *vs;
	struct cpu_regs regs;
	bool dirty;
};

/* vspace.c: close vs's engines and free it and what it holds (the
 * closer thread, or the caller: vspace_close.c); nothing else may reach
 * vs any more. */
void vspace_free(struct vspace *vs);
/* vspace_close.c: vspace_free(vs) by the closer thread, or at once by
 * the caller if the closer cannot take it. */
void vspace_close_away(struct vspace *vs);

/* Map a Unicorn error to -errno (for the memory calls). */
int guest_uc_errno(uc_err err);
/* CLOCK_MONOTONIC in ns (watchdog.c). */
uint64_t wd_now_ns(void);
/* Set CR4's SSE bits (gcc's -O2 code takes #UD without them).  0 or -EIO. */
int guest_enable_sse(uc_engine *uc);
/* A new x86-64 engine (and, once per process, the heap policy engines
 * need, vspace.c): 0 or -ENOMEM. */
int guest_uc_open(uc_engine **out);

/* The kernel page (user_mode.c): its linear address, the top page of the
 * address space, and the physical page behind it (the engine's physical
 * addresses have 52 bits). */
#define GUEST_KPAGE_ADDR 0xfffffffffffff000ULL
#define GUEST_KPAGE_PHYS 0x000ffffffffff000ULL

/* Move a fresh engine (no hooks yet) to CPL 3 (user_mode.c).  0 or
 * -errno; guest_user_free(u) after uc_close either way. */
int guest_user_mode(uc_engine *uc, struct guest_user *u);
/* Forget pending exception state (see user_mode.c): the engine's CPU
 * state is that right after the move, the caller reloads registers. */
int guest_user_reset(uc_engine *uc, struct guest_user *u);
/* rflags.VM: virtual-8086 mode (see user_mode.c) */
#define GUEST_RFLAGS_VM (1ULL << 17)
/* True if the engine left 64-bit mode for virtual-8086 mode. */
bool guest_user_left(uc_engine *uc);
void guest_user_free(struct guest_user *u);
/* rflags as a guest may hold them (no IOPL, IF, VM, ...). */
uint64_t guest_user_rflags(uint64_t rflags);
/* A fault address as the engine reports it (the low 52 bits of the
 * linear address) extended to 64 bits. */
uint64_t guest_fault_addr(uint64_t addr);

/* An engine's translation buffer (vspace.c, tb_budget.c), sized from
 * what components translate: 500-900 blocks in their life (counter,
 * ticker, rpc, signals, worker, pager, multi, the cr_ scenarios), 0.06-0.42
 * MB of host code, 2.8-5.1 MB in tb_budget.c's estimate.  16 MiB flushes
 * at 4 MiB of estimate, so most never flush and the busiest once; a
 * guest that translates without end (tbfill) flushes 4 times as often as
 * with 64 MiB (README, "Limits", has the cost).  Unicorn cannot grow a
 * buffer: it is allocated once, when the engine is first used. */
#define GUEST_TCG_BUFFER (16u << 20)

/* The edge hook that counts new blocks (tb_budget.c).  0 or -EIO. */
int guest_tb_init(struct vspace *vs);
/* Before a run: flush the buffer if it holds its share. */
void guest_tb_run_begin(struct vspace *vs);
/* After a run: was it stopped because it translated its budget? */
bool guest_tb_stopped(struct vspace *vs);

/* The rights the TLB may enter for page of a mapping with rights prot
 * at an access of type (code_pages.c): write or execute, not both. */
uint32_t guest_code_prot(struct vspace *vs, uint64_t page, uint32_t prot,
			 uc_mem_type type);
/* After a run that ended in a page fault with the thread at rip: if it
 * was a write to a code page, its translations are gone and the write is
 * allowed: true, run the instruction again. */
bool guest_code_write_fault(struct vspace *vs, uint64_t rip);
/* Before and after the runs of one vcpu_run_until: flush the TLB if an
 * entry may break the rule. */
void guest_code_settle(struct vspace *vs);
/* [addr, addr+size) was unmapped: forget its pages. */
void guest_code_unmap(struct vspace *vs, uint64_t addr, uint64_t size);
void guest_code_free(struct vspace *vs);

/* code_shared.c: vs joins / leaves the record (after creation, before
 * uc_close). */
void guest_share_add(struct vspace *vs);
void guest_share_remove(struct vspace *vs);
/* vs->map's changes, under the record's lock: guest_map_prepare, then
 * guest_map_add of host at addr (is it shared, which ranges does it make
 * shared?) or guest_map_remove of the range (its pages held go). */
int guest_share_prepare(struct vspace *vs);
void guest_share_map(struct vspace *vs, uint64_t addr, uint64_t size, uint32_t prot,
		     uint8_t *host);
void guest_share_unmap(struct vspace *vs, uint64_t addr, uint64_t size);
/* The rights the TLB may enter for page of the shared range r at an
 * access of type. */
uint32_t guest_share_prot(struct vspace *vs, const struct guest_range *r, uint64_t page,
			  uc_mem_type type);
/* After a run that ended in a page fault with the thread at rip: if the
 * record refused it, it is handled: true, run the instruction again. */
bool guest_share_fault(struct vspace *vs, uint64_t rip);
/* Before a run: do what other engines queued (guest_code_settle). */
void guest_share_settle(struct vspace *vs);

/* Switch vs's engine to the TLB filled from vs->map (tlb_fill.c); after
 * guest_user_mode.  0 or -EIO. */
int guest_tlb_init(struct vspace *vs);
/* Room in m for one more range (a map, or an unmap that splits one).  0
 * or -ENOMEM; then guest_map_add / guest_map_remove cannot fail. */
int guest_map_prepare(struct guest_map *m);
/* Contract: [addr, addr+size) overlaps no range of m. */
void guest_map_add(struct guest_map *m, uint64_t addr, uint64_t size, uint32_t prot,
		   uint8_t *host);
/* The range holding addr (NULL: not mapped). */
struct guest_range *guest_map_range(const struct guest_map *m, uint64_t addr);
/* Drop [addr, addr+size) from m, cutting ranges that stick out. */
void guest_map_remove(struct guest_map *m, uint64_t addr, uint64_t size);
void guest_map_free(struct guest_map *m);
/* MEM_R|MEM_W|MEM_X as UC_PROT_*. */
uint32_t guest_map_uc_prot(unsigned perms);

/* fault_locate.c: what one single-instruction probe run saw ... */
struct probe {
	uint32_t insn_size; /* 0: the instruction was not reached */
	bool port;	    /* it executed `in` or `out` */
	bool exception;	    /* it raised an exception */
	bool faulted;	    /* its first invalid access: */
	unsigned kind;
	uint64_t addr;
	int size;
};
/* ... in a code-only engine (hooks write p). */
struct probe_engine {
	uc_engine *uc;
	struct guest_user user;
	struct probe p;
	unsigned uses; /* locates run in it (fault_locate.c renews it) */
};
/* A data fault of kind at addr (FAULT_OTHER: a port access) happened in the block [start,
 * block_end) (block_end 0: unknown) with registers now (those before the faulting
 * instruction): find the faulting instruction's address.  0 and *ip, or
 * -ENOENT / -ENOMEM. */
int guest_fault_locate(struct vspace *vs, const struct cpu_regs *now, uint64_t start,
		       uint64_t block_end, unsigned kind, uint64_t addr, uint64_t *ip);
/* A page fault at page (tlb_fill.c) of the instruction at now->rip with
 * registers now: the address of its access in that page.  0 and *addr, or
 * -ENOENT (its first access is elsewhere) / -ENOMEM. */
int guest_fault_addr_at(struct vspace *vs, const struct cpu_regs *now, uint64_t page,
			uint64_t *addr);
void guest_probe_destroy(struct vspace *vs);

#endif
