/*
 * Kernel objects: reference counting, capability counting, deferred death.
 *
 * Deaths are deferred: dropping an object's last capability only queues it
 * on node->dying.  kobj_reap() runs at the end of every syscall (and at
 * node teardown), outside any mapping-database walk, so a kill that
 * revokes more capabilities never re-enters a revocation in progress.
 */
#include <assert.h>
#include <stdlib.h>
#include "kernel/kernel.h"

void kobj_init(struct kobj *o, struct node *n, enum kobj_type type)
{
	o->type = type;
	o->dead = false;
	o->dying = false;
	o->ncaps = 0;
	o->refs = 1;
	o->node = n;
	klist_init(&o->dying_link);
	klist_add_tail(&n->objects, &o->all);
	n->nobj[type]++;
}

void kobj_get(struct kobj *o)
{
	o->refs++;
}

/* Containers embed struct kobj first, so freeing the header frees all. */
static void kobj_free(struct kobj *o)
{
	assert(o->dead || o->ncaps == 0);
	assert(o->node->nobj[o->type] > 0);
	o->node->nobj[o->type]--;
	klist_del(&o->all);
	free(o);
}

void kobj_put(struct kobj *o)
{
	assert(o->refs > 0);
	if (--o->refs > 0)
		return;
	if (!o->dead) {
		/* never had a cap: dies with its last reference; the kill's
		 * own put then frees it */
		kobj_kill(o);
		return;
	}
	kobj_free(o);
}

void kobj_cap_add(struct kobj *o)
{
	o->ncaps++;
	o->refs++;
	o->node->nmappings++;
}

void kobj_cap_drop(struct kobj *o)
{
	assert(o->ncaps > 0 && o->node->nmappings > 0);
	o->node->nmappings--;
	if (--o->ncaps == 0 && !o->dead && !o->dying) {
		o->dying = true;
		o->refs++;
		klist_add_tail(&o->node->dying, &o->dying_link);
	}
	kobj_put(o);
}

void kobj_kill(struct kobj *o)
{
	if (o->dead)
		return;
	o->refs++; /* o must outlive its own teardown; freed by the put below
		    * if nobody else holds it */
	switch (o->type) {
	case KOBJ_TASK:
		task_kill((struct task *)o);
		break;
	case KOBJ_THREAD:
		thread_kill((struct thread *)o);
		break;
	case KOBJ_GATE:
		gate_kill((struct gate *)o);
		break;
	case KOBJ_IRQ:
		irq_kill((struct irq *)o);
		break;
	case KOBJ_FACTORY:
	case KOBJ_NONE:
		break;
	}
	o->dead = true;
	kobj_put(o);
}

void kobj_reap(struct node *n)
{
	while (!klist_empty(&n->dying)) {
		struct kobj *o = klist_entry(n->dying.next, struct kobj, dying_link);

		klist_del(&o->dying_link);
		o->dying = false;
		if (o->ncaps == 0)
			kobj_kill(o);
		kobj_put(o);
	}
}
