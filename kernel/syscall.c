/*
 * The one system call: invoke the object named by a kcap with a message
 * tag (abi.h).  Decodes the operation, resolves the kcap in the caller's
 * cap space and routes to IPC or to the object's protocol.
 */
#include "kernel/kernel.h"

/* Invoke object o (named with rights) with a send or call from t. */
static void syscall_invoke(struct thread *t, struct kobj *o, unsigned rights,
			   uint64_t tag, uint64_t timeout)
{
	unsigned proto = TAG_PROTO(tag), op = TAG_OP(tag);
	uint64_t label = rights & LABEL_RIGHTS_MASK;
	struct utcb *u = t->utcb;
	uint64_t res;

	switch (o->type) {
	case KOBJ_GATE: {
		struct gate *g = (struct gate *)o;

		if (proto == PROTO_GATE) {
			res = gate_invoke(t, g, rights, u, tag);
			break;
		}
		if (!g->thread) {
			res = kres(KERR_INVAL_CAP);
			break;
		}
		ipc_send(t, g->thread, tag, g->label | label, op, timeout);
		return;
	}
	case KOBJ_THREAD:
		if (proto == PROTO_IPC) {
			ipc_send(t, (struct thread *)o, tag, label, op, timeout);
			return;
		}
		res = proto == PROTO_THREAD ? thread_invoke(t, (struct thread *)o, u, tag)
					    : kres(KERR_NOSYS);
		break;
	case KOBJ_TASK:
		res = proto == PROTO_TASK ? task_invoke(t, (struct task *)o, u, tag)
					  : kres(KERR_NOSYS);
		break;
	case KOBJ_FACTORY:
		res =
		    proto == PROTO_FACTORY ? factory_invoke(t, u, tag) : kres(KERR_NOSYS);
		break;
	case KOBJ_IRQ:
		res = proto == PROTO_IRQ ? irq_invoke(t, (struct irq *)o, u, tag)
					 : kres(KERR_NOSYS);
		break;
	default:
		res = kres(KERR_INVAL_CAP);
		break;
	}
	ipc_complete(t, res, 0, false);
}

void syscall_dispatch(struct thread *t, uint64_t kcap, uint64_t tag, uint64_t timeout)
{
	unsigned op = TAG_OP(tag);
	struct kobj *o;
	unsigned rights;

	if (!t->utcb) {
		/* its UTCB went away: it cannot take part in IPC any more */
		struct cpu_regs r = {0};

		if (t->vcpu)
			vcpu_get_regs(t->vcpu, &r);
		thread_fault(t, FAULT_OTHER, r.rip, t->utcb_addr);
		return;
	}
	switch (op) {
	case SYS_OP_SEND:
	case SYS_OP_CALL:
		o = cap_space_lookup(&t->task->caps, kcap, &rights);
		if (!o || (o->dead && o->type != KOBJ_THREAD)) {
			ipc_complete(t, kres(KERR_INVAL_CAP), 0, false);
			return;
		}
		syscall_invoke(t, o, rights, tag, timeout);
		return;
	case SYS_OP_WAIT:
		if (kcap == KCAP_NIL) {
			ipc_sleep(t, ipc_timeout_deadline(timeout));
			return;
		}
		if (KCAP_INDEX(kcap) == 0) {
			ipc_wait(t, ipc_timeout_deadline(timeout));
			return;
		}
		/* closed wait on an irq: only one bound to the caller */
		o = cap_space_lookup(&t->task->caps, kcap, NULL);
		if (o && o->type == KOBJ_IRQ && !o->dead &&
		    ((struct irq *)o)->thread == t)
			ipc_wait_irq(t, (struct irq *)o, ipc_timeout_deadline(timeout));
		else
			ipc_complete(t, kres(KERR_INVAL_CAP), 0, false);
		return;
	case SYS_OP_REPLY_WAIT:
		/* a failed reply (caller gone, timed out) does not stop the wait */
		(void)ipc_reply(t, tag);
		ipc_wait(t, ipc_timeout_deadline(timeout));
		return;
	case SYS_OP_REPLY:
		ipc_complete(t, kres(ipc_reply(t, tag)), 0, false);
		return;
	default:
		ipc_complete(t, kres(KERR_INVAL), 0, false);
		return;
	}
}
