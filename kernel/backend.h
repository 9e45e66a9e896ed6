/*
 * Execution backends behind one thread interface.
 *
 * guest (kernel/guest/, the only folder that includes Unicorn's headers):
 *   a vspace is one Unicorn engine per task; a vcpu is one thread's
 *   register context in it.  Memory is host memory mapped with
 *   uc_mem_map_ptr, so one dataspace can appear in several tasks.
 * native (kernel/native/): host C code run as coroutines on the
 *   scheduler's host thread (core, init, the monitor).
 *
 * All functions run on the node's scheduler thread unless noted.
 */
#ifndef KERNEL_BACKEND_H
#define KERNEL_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <capsule/abi.h>

/* ---- guest ---- */

struct vspace;
struct vcpu;

enum vcpu_exit {
	VCPU_SYSCALL = 1, /* executed `syscall`; ip is past the instruction */
	VCPU_PREEMPTED,	  /* time slice over */
	VCPU_FAULT,	  /* wild access, illegal instruction, exception */
};

struct vcpu_trap {
	enum vcpu_exit why;
	unsigned fault_kind; /* enum fault_kind */
	uint64_t fault_ip;
	uint64_t fault_addr;
};

/* Create an empty address space (an engine with CR4.OSFXSR set). 0 or -errno. */
int vspace_create(struct vspace **out);
void vspace_destroy(struct vspace *vs);
/* Give the heap's wholly free pages back to the host if an address space
 * was destroyed since the last trim (vspace.c) or task_gone (a task of
 * any kind ended); for an idle moment. */
void vspace_trim_idle(bool task_gone);
/* malloc_trim(0), after emptying the calling thread's tcache into the
 * arenas (heap_trim.c): for an idle moment after components ended. */
void heap_trim(void);
/* Map host memory [host, host+size) at guest address addr, page aligned,
 * perms = MEM_R|MEM_W|MEM_X.  Fails with -EEXIST on overlap. */
int vspace_map(struct vspace *vs, uint64_t addr, uint64_t size, void *host,
	       unsigned perms);
int vspace_unmap(struct vspace *vs, uint64_t addr, uint64_t size);
/* How many ranges vspace_unmap has taken out of engines in this process
 * (each a flush of the engine's TLB entries and code page by page). */
uint64_t vspace_unmap_count(void);
/* vspace_destroy leaves the engine's close to a host thread
 * (kernel/guest/vspace_close.c, any thread): wait until every engine
 * handed to it is closed; how many it closed, and how many the
 * destroying thread closed itself (the closer was full or absent). */
void vspace_close_wait(void);
void vspace_close_counts(uint64_t *away, uint64_t *here);

int vcpu_create(struct vspace *vs, struct vcpu **out);
void vcpu_destroy(struct vcpu *cpu);
void vcpu_get_regs(struct vcpu *cpu, struct cpu_regs *out);
void vcpu_set_regs(struct vcpu *cpu, const struct cpu_regs *in);
/* Read the arguments of the syscall the vcpu just trapped with. */
void vcpu_syscall_args(struct vcpu *cpu, uint64_t *kcap, uint64_t *tag,
		       uint64_t *timeout);
/* Set the syscall's results (rax = tag, rdx = label). */
void vcpu_syscall_result(struct vcpu *cpu, uint64_t tag, uint64_t label);
/* Move ip back over the `syscall` instruction, so resuming re-issues it. */
void vcpu_rewind_syscall(struct vcpu *cpu);
/* Run until the next trap; fills *trap.  Preemption after slice_us by a
 * per-node watchdog host thread (never uc_emu_start's timeout). */
void vcpu_run(struct vcpu *cpu, unsigned slice_us, struct vcpu_trap *trap);
/* The same, preempted at until_us (CLOCK_MONOTONIC µs, see
 * timeout_now) and, if kick is not NULL, at the first block boundary at
 * which *kick is non-zero (set by another host thread: a raised line). */
void vcpu_run_until(struct vcpu *cpu, uint64_t until_us, _Atomic uint64_t *kick,
		    struct vcpu_trap *trap);
/* How many runs of this process were stopped at their deadline by the
 * running thread's own timer and by the watchdog thread (whichever asked
 * first; kernel/guest/run_timer.c). */
void vcpu_preemptions(uint64_t *by_timer, uint64_t *by_watchdog);
/* How often a run's start woke the watchdog thread (a run its thread's
 * own timer does not cover; kernel/guest/watchdog.c). */
uint64_t vcpu_watchdog_wakes(void);

/* ---- native ---- */

struct coro;

/* Create a coroutine that will run fn(arg) on its own stack.  0 or -errno. */
int coro_create(struct coro **out, void (*fn)(void *), void *arg, size_t stack_size);
void coro_destroy(struct coro *co);
/* Scheduler side: run co until it yields or fn returns; returns 1 if fn
 * has returned (the coroutine is finished), else 0. */
int coro_resume(struct coro *co);
/* Coroutine side: give control back to the scheduler. */
void coro_yield(void);

#endif
