/*
 * IPC gate: a kernel object bound to a thread, carrying a label (the badge
 * core imprints).  IPC through a gate reaches the bound thread with
 * label = gate label | (rights of the invoked cap & 3), set by the kernel.
 * With RIGHT_S the gate also speaks the GATE_* protocol.
 */
#include <stdlib.h>
#include "kernel/kernel.h"

struct gate *gate_create(struct node *n)
{
	struct gate *g = calloc(1, sizeof *g);

	if (!g)
		return NULL;
	kobj_init(&g->obj, n, KOBJ_GATE);
	return g;
}

void gate_kill(struct gate *g)
{
	if (g->thread) {
		kobj_put(&g->thread->obj);
		g->thread = NULL;
	}
}

/* Bind g to t with label.  Validates first; enum kerr. */
unsigned gate_bind(struct gate *g, struct thread *t, uint64_t label)
{
	if (label & LABEL_RIGHTS_MASK)
		return KERR_INVAL;
	if (t && (t->state == TS_DEAD || t->obj.dead))
		return KERR_INVAL_CAP;
	if (g->thread && g->thread->state != TS_DEAD)
		return KERR_BUSY;
	if (g->thread)
		kobj_put(&g->thread->obj);
	g->thread = t;
	if (t)
		kobj_get(&t->obj);
	g->label = label;
	return KERR_OK;
}

uint64_t gate_invoke(struct thread *caller, struct gate *g, unsigned rights,
		     struct utcb *u, uint64_t tag)
{
	struct kobj *t;

	if (!(rights & RIGHT_S))
		return kres(KERR_PERM);
	if (TAG_WORDS(tag) < 1)
		return kres(KERR_INVAL);
	switch (u->mr[0]) {
	case GATE_BIND:
		if (TAG_WORDS(tag) < 3)
			return kres(KERR_INVAL);
		t = cap_space_lookup(&caller->task->caps, u->mr[1], NULL);
		if (!t || t->type != KOBJ_THREAD)
			return kres(KERR_INVAL_CAP);
		return kres(gate_bind(g, (struct thread *)t, u->mr[2]));
	case GATE_INFO:
		u->mr[0] = g->label;
		u->mr[1] = g->thread && g->thread->state != TS_DEAD;
		return kres_words(2, 0);
	default:
		return kres(KERR_NOSYS);
	}
}
