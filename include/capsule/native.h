/*
 * The native "trap": how a native thread (host C code run by the kernel as
 * a coroutine) enters the kernel.  Same semantics as the guest `syscall`
 * in abi.h.  Only libbase's native platform layer and the node's boot code
 * use this header.
 */
#ifndef CAPSULE_NATIVE_H
#define CAPSULE_NATIVE_H

#include <stdint.h>
#include <capsule/abi.h>

/* Invoke kcap with tag; blocks the calling native thread (not the host
 * thread) as the kernel decides.  Returns the result tag; *label gets the
 * received label. */
uint64_t kernel_native_invoke(uint64_t kcap, uint64_t tag, uint64_t timeout,
			      uint64_t *label);

/* UTCB of the calling native thread. */
struct utcb *kernel_native_utcb(void);

/* Entry of a native thread: THREAD_EX_REGS on a thread of a TASK_NATIVE
 * task takes mr[1] = (uint64_t)entry function, mr[2] = its argument. */
typedef void (*native_entry_t)(void *arg);

/*
 * Boot a node: create the root task (native, holding the factory at
 * FIXED_FACTORY, itself at FIXED_TASK, its first thread at
 * KCAP_THREAD(0, THREAD_SLOT_GATE)), run root_entry(arg) as its first
 * thread, and schedule until kernel_stop() is called or nothing can run
 * any more.  Returns the code given to kernel_stop(), or -1 on deadlock.
 */
int kernel_boot(native_entry_t root_entry, void *arg);
/* Called by a native component (init / capsule run) to end the node. */
void kernel_stop(int code);
/*
 * Run fn(arg) when the calling thread's node has ended: after kernel_boot
 * has freed every kernel object of it, before kernel_boot returns; the
 * latest registered runs first.  For host memory a root task keeps per
 * node (core's state).  0, or -1 (no node running here, out of memory).
 */
int kernel_at_end(void (*fn)(void *arg), void *arg);
/*
 * Raise external irq line `line` (0..63) of the running node: callable
 * from ANY host thread (a device such as the control socket).  The node's
 * scheduler wakes up and triggers the Irq object bound to the line with
 * IRQ_LINE (abi.h) once per drain; raises before the drain coalesce like
 * a level.  0, -EINVAL (line out of range) or -ENODEV (no irq bound).
 */
int kernel_line_raise(unsigned line);
#endif
