/*
 * Task: a protection domain (cap space + address space) and the TASK_*
 * protocol of abi.h.
 */
#include <stdlib.h>
#include "kernel/kernel.h"

struct task *task_create(struct node *n, unsigned flags)
{
	struct task *t;

	if (flags != TASK_GUEST && flags != TASK_NATIVE)
		return NULL;
	t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	if (cap_space_init(&t->caps, flags == TASK_NATIVE ? CAP_SLOTS_NATIVE : CAP_SLOTS))
		goto err;
	if (flags == TASK_GUEST && vspace_create(&t->vs))
		goto err_caps;
	t->flags = flags;
	klist_init(&t->threads);
	klist_init(&t->regions);
	kobj_init(&t->obj, n, KOBJ_TASK);
	return t;
err_caps:
	cap_space_fini(&t->caps);
err:
	free(t);
	return NULL;
}

void task_kill(struct task *t)
{
	while (!klist_empty(&t->threads)) {
		struct thread *th =
		    klist_entry(t->threads.next, struct thread, task_link);
		kobj_kill(&th->obj); /* unlinks th from t->threads */
	}
	cap_space_fini(&t->caps);
	t->obj.node->cap_trim_due = true;
	task_mem_fini(t);
	if (t->vs) {
		vspace_destroy(t->vs);
		t->vs = NULL;
	}
}

unsigned task_map_cap(struct task *dst, uint64_t dst_kcap, struct task *src,
		      uint64_t src_kcap, unsigned mask)
{
	struct cap_slot *s = cap_space_slot(&src->caps, src_kcap);
	struct cap_slot *d = cap_space_slot(&dst->caps, dst_kcap);

	if (!s || !s->obj)
		return KERR_INVAL_CAP;
	if (!d)
		return KERR_RANGE;
	if (d == s)
		return KERR_OK; /* mapping a slot onto itself changes nothing */
	if (mapdb_is_ancestor(d, s))
		return KERR_INVAL; /* replacing d would revoke the source */
	mapdb_map(d, s, mask, true);
	return KERR_OK;
}

unsigned task_unmap_cap(struct task *t, uint64_t kcap, unsigned flags)
{
	struct cap_slot *s = cap_space_slot(&t->caps, kcap);

	if (!s)
		return KERR_RANGE;
	if (flags & ~(unsigned)(UNMAP_SELF | UNMAP_RELEASE))
		return KERR_INVAL;
	if (flags & UNMAP_RELEASE)
		mapdb_release(s);
	else
		mapdb_revoke(s, flags & UNMAP_SELF);
	return KERR_OK;
}

/* Resolve a task kcap of the caller; KCAP_INVALID names the caller's task. */
static struct task *task_arg(struct thread *caller, uint64_t kcap)
{
	struct kobj *o;

	if (kcap == KCAP_INVALID)
		return caller->task;
	o = cap_space_lookup(&caller->task->caps, kcap, NULL);
	return o && o->type == KOBJ_TASK && !o->dead ? (struct task *)o : NULL;
}

/* Would filling slot d (its subtree revoked when occupied) take slot x
 * away or change it? */
static bool map_out_hits(const struct cap_slot *d, const struct cap_slot *x)
{
	return d == x || (d->obj && mapdb_is_ancestor(d, x));
}

/* TASK_MAP_OUT: n triples at w out of src, all checked, then all mapped
 * (abi.h).  A destination replaced revokes its subtree, so no triple's
 * source or destination may lie in another's destination subtree: then
 * no map undoes an earlier one or empties a later one's source. */
static unsigned task_map_out(struct thread *caller, struct task *src, const uint64_t *w,
			     unsigned n, uint64_t flags)
{
	struct cap_slot *s[TASK_MAP_OUT_MAX], *d[TASK_MAP_OUT_MAX];

	if (!n || n > TASK_MAP_OUT_MAX ||
	    (flags & ~(uint64_t)(TASK_MAP_OUT_GATES | TASK_MAP_OUT_EMPTY)))
		return KERR_INVAL;
	for (unsigned i = 0; i < n; i++) {
		struct task *to = task_arg(caller, w[3 * i]);

		if (!to)
			return KERR_INVAL_CAP;
		s[i] = cap_space_slot(&src->caps, w[3 * i + 1]);
		d[i] = cap_space_slot(&to->caps, w[3 * i + 2]);
		if (!s[i] || !s[i]->obj ||
		    ((flags & TASK_MAP_OUT_GATES) && s[i]->obj->type != KOBJ_GATE) ||
		    (d[i] && d[i]->obj && (flags & TASK_MAP_OUT_EMPTY)))
			return KERR_INVAL_CAP;
		if (!d[i])
			return KERR_RANGE;
	}
	for (unsigned i = 0; i < n; i++) {
		/* an empty destination (a restore's, mostly) revokes nothing and
		 * is no source: only a slot named twice is refused (the pairs
		 * of 21 triples cost a group restore 1.6 us) */
		for (unsigned j = 0; !d[i]->obj && j < i; j++)
			if (d[j] == d[i])
				return KERR_INVAL;
		for (unsigned j = 0; d[i]->obj && j < n; j++)
			if (map_out_hits(d[i], s[j]) ||
			    (j != i && map_out_hits(d[i], d[j])))
				return KERR_INVAL;
	}
	for (unsigned i = 0; i < n; i++)
		mapdb_map(d[i], s[i], (unsigned)w[3 * i + 1] & RIGHTS_ALL, true);
	return KERR_OK;
}

/* TASK_CAP_EQUAL's pairs after the first (from mr[4]): each the same
 * object in t and in other? */
static bool cap_equal_more(struct task *t, struct task *other, const uint64_t *mr,
			   unsigned words)
{
	for (unsigned i = 4; i + 1 < words; i += 2) {
		struct kobj *a = cap_space_lookup(&t->caps, mr[i], NULL);
		if (!a || a != cap_space_lookup(&other->caps, mr[i + 1], NULL))
			return false;
	}
	return true;
}

/* other: the task of TASK_CAP_EQUAL's second kcaps (t itself, or the one
 * its fourth word names); words: the request's */
static uint64_t task_cap_info(struct task *t, struct task *other, struct utcb *u,
			      unsigned op, unsigned words)
{
	unsigned r1, r2;
	struct kobj *a = cap_space_lookup(&t->caps, u->mr[1], &r1);
	struct kobj *b;

	switch (op) {
	case TASK_CAP_VALID:
		u->mr[0] = a && !a->dead;
		return kres_words(1, 0);
	case TASK_CAP_EQUAL:
		b = cap_space_lookup(&other->caps, u->mr[2], &r2);
		u->mr[0] = a && a == b && cap_equal_more(t, other, u->mr, words);
		return kres_words(1, 0);
	default: /* TASK_CAP_INFO */
		u->mr[0] = a ? a->type : KOBJ_NONE;
		u->mr[1] = a ? r1 : 0;
		return kres_words(2, 0);
	}
}

/* TASK_* protocol on task t, invoked by caller; message in u. */
uint64_t task_invoke(struct thread *caller, struct task *t, struct utcb *u, uint64_t tag)
{
	bool root = caller->task == caller->obj.node->root;
	struct task *src;

	if (TAG_WORDS(tag) < 1)
		return kres(KERR_INVAL);
	switch (u->mr[0]) {
	case TASK_MAP:
		if (TAG_WORDS(tag) < 4)
			return kres(KERR_INVAL);
		src = task_arg(caller, u->mr[1]);
		if (!src)
			return kres(KERR_INVAL_CAP);
		return kres(
		    task_map_cap(t, u->mr[3], src, u->mr[2], u->mr[2] & RIGHTS_ALL));
	case TASK_UNMAP:
		if (TAG_WORDS(tag) < 3)
			return kres(KERR_INVAL);
		return kres(task_unmap_cap(t, u->mr[1], (unsigned)u->mr[2]));
	case TASK_CAP_VALID:
	case TASK_CAP_INFO:
		if (TAG_WORDS(tag) < 2)
			return kres(KERR_INVAL);
		return task_cap_info(t, t, u, (unsigned)u->mr[0], 2);
	case TASK_MAP_OUT:
		if (TAG_WORDS(tag) < 2 || (TAG_WORDS(tag) - 2) % 3)
			return kres(KERR_INVAL);
		return kres(task_map_out(caller, t, &u->mr[2], (TAG_WORDS(tag) - 2) / 3,
					 u->mr[1]));
	case TASK_CAP_EQUAL:
		if (TAG_WORDS(tag) < 3)
			return kres(KERR_INVAL);
		/* a fourth word: mr[2] is a kcap of that task of the caller's,
		 * and pairs may follow */
		if (TAG_WORDS(tag) > 4 && TAG_WORDS(tag) % 2)
			return kres(KERR_INVAL);
		src = TAG_WORDS(tag) < 4 ? t : task_arg(caller, u->mr[3]);
		if (!src)
			return kres(KERR_INVAL_CAP);
		return task_cap_info(t, src, u, TASK_CAP_EQUAL, TAG_WORDS(tag));
	case TASK_MAP_MEM:
		if (!root)
			return kres(KERR_PERM);
		if (TAG_WORDS(tag) < 5)
			return kres(KERR_INVAL);
		return kres(
		    task_mem_map(t, u->mr[1], u->mr[2], u->mr[3], (unsigned)u->mr[4]));
	case TASK_UNMAP_MEM:
		if (!root)
			return kres(KERR_PERM);
		if (TAG_WORDS(tag) < 3)
			return kres(KERR_INVAL);
		return kres(task_mem_unmap(t, u->mr[1], u->mr[2]));
	default:
		return kres(KERR_NOSYS);
	}
}
