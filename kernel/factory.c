/*
 * Factory: creates tasks, threads, gates and irqs.  The new object's only
 * cap is a root mapping in the caller's receive window br[0], delivered
 * like map item 0 of a reply (mr[0] = kcap | RIGHTS_ALL).  FACTORY_STATS
 * reads the node's live-object and mapping counters.
 */
#include <stdlib.h>
#include "kernel/kernel.h"

struct kobj *factory_create(struct node *n)
{
	struct kobj *f = calloc(1, sizeof *f);

	if (f)
		kobj_init(f, n, KOBJ_FACTORY);
	return f;
}

/* Create the object described by u; NULL with *err set on failure. */
static struct kobj *factory_make(struct thread *caller, struct utcb *u, unsigned words,
				 unsigned *err)
{
	struct node *n = caller->obj.node;
	struct kobj *bind = NULL;
	struct gate *g;
	struct irq *q;

	*err = KERR_INVAL;
	switch (u->mr[0]) {
	case FACTORY_TASK:
		if (words < 2 || (u->mr[1] != TASK_GUEST && u->mr[1] != TASK_NATIVE))
			return NULL;
		*err = KERR_NOMEM;
		return (struct kobj *)task_create(n, (unsigned)u->mr[1]);
	case FACTORY_THREAD:
		*err = KERR_NOMEM;
		return (struct kobj *)kthread_create(n);
	case FACTORY_GATE:
		if (words < 3 || u->mr[2] & LABEL_RIGHTS_MASK)
			return NULL;
		if (u->mr[1] != KCAP_INVALID) {
			bind = cap_space_lookup(&caller->task->caps, u->mr[1], NULL);
			*err = KERR_INVAL_CAP;
			if (!bind || bind->type != KOBJ_THREAD ||
			    ((struct thread *)bind)->state == TS_DEAD)
				return NULL;
		}
		*err = KERR_NOMEM;
		g = gate_create(n);
		if (g && gate_bind(g, (struct thread *)bind, u->mr[2]) != KERR_OK) {
			kobj_put(&g->obj);
			return NULL;
		}
		return (struct kobj *)g;
	case FACTORY_IRQ:
		if (words < 2)
			return NULL;
		*err = KERR_NOMEM;
		q = irq_create(n);
		if (q)
			q->label = u->mr[1];
		return (struct kobj *)q;
	default:
		*err = KERR_NOSYS;
		return NULL;
	}
}

/* FACTORY_STATS: the node's counters (kobj.c keeps them), no walk. */
static uint64_t factory_stats(struct node *n, struct utcb *u)
{
	u->mr[FACTORY_STAT_TASKS] = n->nobj[KOBJ_TASK];
	u->mr[FACTORY_STAT_THREADS] = n->nobj[KOBJ_THREAD];
	u->mr[FACTORY_STAT_GATES] = n->nobj[KOBJ_GATE];
	u->mr[FACTORY_STAT_IRQS] = n->nobj[KOBJ_IRQ];
	u->mr[FACTORY_STAT_FACTORIES] = n->nobj[KOBJ_FACTORY];
	u->mr[FACTORY_STAT_MAPPINGS] = n->nmappings;
	return kres_words(FACTORY_STAT_WORDS, 0);
}

uint64_t factory_invoke(struct thread *caller, struct utcb *u, uint64_t tag)
{
	struct cap_slot *win;
	struct kobj *o;
	unsigned err;

	if (TAG_WORDS(tag) < 1)
		return kres(KERR_INVAL);
	if (u->mr[0] == FACTORY_STATS)
		return factory_stats(caller->obj.node, u);
	win = cap_space_slot(&caller->task->caps, u->br[0]);
	if (!win)
		return kres(KERR_INVAL);
	o = factory_make(caller, u, TAG_WORDS(tag), &err);
	if (!o)
		return kres(err);
	mapdb_release(win);
	cap_slot_set(win, o, RIGHTS_ALL);
	kobj_put(o); /* the cap now keeps it */
	u->mr[0] = cap_space_kcap(&caller->task->caps, win) | RIGHTS_ALL;
	return kres_words(0, 1);
}
