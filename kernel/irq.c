/*
 * Irq: a counting semaphore bound to a thread.  Every trigger counts; the
 * bound thread receives one message (label, 0 words) per trigger in its
 * open wait.  A triggered irq with count > 0 is queued on its thread.
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
	if (q->thread) {
		kobj_put(&q->thread->obj);
		q->thread = NULL;
	}
}

void irq_kill(struct irq *q)
{
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

	if (!t || t->state == TS_DEAD || !q->count || !klist_empty(&q->pending_link))
		return;
	klist_add_tail(&t->irqs, &q->pending_link);
	if (t->state == TS_BLOCKED && t->wait == IPC_RECEIVING && t->utcb)
		ipc_deliver_pending(t);
}

static unsigned irq_bind(struct irq *q, struct thread *caller, uint64_t kcap,
			 uint64_t label)
{
	struct kobj *o = cap_space_lookup(&caller->task->caps, kcap, NULL);
	struct thread *t = (struct thread *)o;

	if (!o || o->type != KOBJ_THREAD || t->state == TS_DEAD)
		return KERR_INVAL_CAP;
	if (q->thread && q->thread->state != TS_DEAD)
		return KERR_BUSY;
	irq_unbind(q);
	kobj_get(&t->obj);
	q->thread = t;
	q->label = label;
	irq_kick(q);
	return KERR_OK;
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
		irq_unbind(q);
		return kres(KERR_OK);
	case IRQ_TRIGGER:
		if (q->count != UINT64_MAX)
			q->count++;
		irq_kick(q);
		return kres(KERR_OK);
	default:
		return kres(KERR_NOSYS);
	}
}
