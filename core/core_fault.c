/*
 * core's fault thread: a second native thread in core's task that every
 * pager gate is bound to.  The kernel sends it one FAULT_MSG per halted
 * thread (abi.h).  A fault in a hole of a managed dataspace goes to the
 * region map (rm_fault: the thread waits for the pager); any other is
 * recorded on the CPU thread object and triggers the CPU session's
 * exception irq.  It prints nothing: reporting
 * is the parent's business.  It uses the kernel's native trap directly
 * (not libbase's IPC layer), because a fault message is not an RPC.
 */
#include <errno.h>
#include "core/core_internal.h"

#define CORE_FAULT_THREAD_NR 1 /* core's entrypoint is thread 0 */

static void core_fault_loop(void *arg)
{
	struct core *c = arg;
	struct utcb *u = kernel_native_utcb();

	/* share core's libbase state (cap map) with the entrypoint thread */
	u->tcr[TCR_COMPONENT] = c->component;
	for (;;) {
		uint64_t label, irq;
		uint64_t tag = kernel_native_invoke(
		    KCAP_INVALID, TAG(SYS_OP_WAIT, 0, 0, 0), SYS_TIMEOUT_NEVER, &label);
		if (TAG_ERROR(tag) || TAG_WORDS(tag) < 4 || u->mr[0] != FAULT_MSG)
			continue;
		unsigned kind = (unsigned)u->mr[1];
		uint64_t ip = u->mr[2], addr = u->mr[3];
		if (rm_fault(c, label, kind, ip, addr))
			continue; /* waits for the pager of a managed dataspace */
		irq = cpu_thread_fault(c, label, kind, ip, addr);
		if (irq != KCAP_INVALID) {
			u->mr[0] = IRQ_TRIGGER;
			kernel_native_invoke(irq, TAG(SYS_OP_CALL, PROTO_IRQ, 1, 0),
					     SYS_TIMEOUT_NEVER, &label);
		}
	}
}

int core_fault_thread_start(struct core *c)
{
	uint64_t badge = core_badge(c);
	int err;

	if (!badge)
		return -ENOSPC;
	c->component = kernel_native_utcb()->tcr[TCR_COMPONENT];
	err = kobj_create(FACTORY_THREAD, 0, 0, badge, &c->fault_thread);
	if (err)
		return err;
	uint64_t ctl[5] = {THREAD_CONTROL, KCAP(FIXED_TASK), 0, KCAP_INVALID,
			   CORE_FAULT_THREAD_NR};
	err = kobj_invoke(cap_kcap(c->fault_thread), PROTO_THREAD, ctl, 5, NULL, 0);
	if (err)
		goto err;
	uint64_t start[3] = {THREAD_EX_REGS, (uint64_t)(uintptr_t)core_fault_loop,
			     (uint64_t)(uintptr_t)c};
	err = kobj_invoke(cap_kcap(c->fault_thread), PROTO_THREAD, start, 3, NULL, 0);
	if (err)
		goto err;
	return 0;
err:
	kobj_destroy(c->fault_thread);
	c->fault_thread = CAP_INVALID;
	return err;
}
