/*
 * Irq: a counting semaphore bound to a thread.  Every trigger counts; the
 * bound thread receives one message (label, 0 words) per trigger in its
 * open wait, or in a closed wait on this irq (SYS_OP_WAIT on its kcap),
 * which takes triggers of this irq only.  A triggered irq with count > 0
 * is queued on its thread.
 */
#include <stdlib.h>
#include "kernel/kernel.h"

struct irq *irq_create(struct node *n)
{
	struct irq *q = calloc(1, sizeof *q);

	if (!q)
		return NULL;
	klist_init(&q->pending_link);
	kobj_init(&q->obj, n, KOBJ_IRQ);
	return q;
}

static void irq_unbind(struct irq *q)
{
	klist_del(&q->pending_link);
	if (q->thread && q->thread->wait == IPC_IRQ_WAIT && q->thread->wait_irq == q)
		ipc_complete(q->thread, kres(KERR_ABORTED), 0, false);
	if (q->thread) {
		kobj_put(&q->thread->obj);
		q->thread = NULL;
	}
}

void irq_kill(struct irq *q)
{
	irq_line_forget(q);
	irq_unbind(q);
}

bool irq_take(struct thread *t, uint64_t *label)
{
	struct irq *q;

	if (klist_empty(&t->irqs))
		return false;
	q = klist_entry(t->irqs.next, struct irq, pending_link);
	klist_del(&q->pending_link);
	*label = q->label;
	if (--q->count > 0)
		klist_add_tail(&t->irqs, &q->pending_link);
	return true;
}

bool irq_take_one(struct irq *q, uint64_t *label)
{
	if (!q->count)
		return false;
	klist_del(&q->pending_link);
	*label = q->label;
	if (--q->count > 0 && q->thread)
		klist_add_tail(&q->thread->irqs, &q->pending_link);
	return true;
}

void irq_unqueue_all(struct thread *t)
{
	while (!klist_empty(&t->irqs))
		klist_del(t->irqs.next);
}

/* Queue q on its thread if it has triggers to deliver; deliver at once
 * if the thread waits. */
static void irq_kick(struct irq *q)
{
	struct thread *t = q->thread;
	uint64_t label;

	if (!t || t->state == TS_DEAD || !q->count || !klist_empty(&q->pending_link))
		return;
	klist_add_tail(&t->irqs, &q->pending_link);
	if (t->state != TS_BLOCKED || !t->utcb)
		return;
	if (t->wait == IPC_RECEIVING)
		ipc_deliver_pending(t);
	else if (t->wait == IPC_IRQ_WAIT && t->wait_irq == q && irq_take_one(q, &label))
		ipc_complete(t, TAG(0, 0, 0, 0), label, false);
}

static unsigned irq_bind(struct irq *q, struct thread *caller, uint64_t kcap,
			 uint64_t label)
{
	struct kobj *o = cap_space_lookup(&caller->task->caps, kcap, NULL);
	struct thread *t = (struct thread *)o;

	if (!o || o->type != KOBJ_THREAD || t->state == TS_DEAD)
		return KERR_INVAL_CAP;
	/* bound so already: a no-op (a thread restored before its own bind
	 * ran finds the irq bound to it by the restorer) */
	if (q->thread == t && q->label == label)
		return KERR_OK;
	if (q->thread && q->thread->state != TS_DEAD)
		return KERR_BUSY;
	irq_unbind(q);
	kobj_get(&t->obj);
	q->thread = t;
	q->label = label;
	irq_kick(q);
	return KERR_OK;
}

void irq_trigger(struct irq *q)
{
	if (q->count != UINT64_MAX)
		q->count++;
	irq_kick(q);
}

uint64_t irq_invoke(struct thread *caller, struct irq *q, struct utcb *u, uint64_t tag)
{
	if (TAG_WORDS(tag) < 1)
		return kres(KERR_INVAL);
	switch (u->mr[0]) {
	case IRQ_BIND:
		if (TAG_WORDS(tag) < 3)
			return kres(KERR_INVAL);
		return kres(irq_bind(q, caller, u->mr[1], u->mr[2]));
	case IRQ_UNBIND:
		/* only the bound thread's task may take the irq away from it
		 * (a child holding its parent's fault irq must not) */
		if (q->thread && q->thread->state != TS_DEAD &&
		    q->thread->task != caller->task)
			return kres(KERR_PERM);
		irq_unbind(q);
		return kres(KERR_OK);
	case IRQ_TRIGGER:
		irq_trigger(q);
		return kres(KERR_OK);
	case IRQ_LINE: /* kernel/irq_line.c */
		if (TAG_WORDS(tag) < 2)
			return kres(KERR_INVAL);
		return kres(irq_line_bind(caller, q, u->mr[1]));
	default:
		return kres(KERR_NOSYS);
	}
}
