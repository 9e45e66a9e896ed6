/*
 * Restore, the cap map entries: every live (kcap, badge) pair of the model
 * mapped at its old kcap in the new PD (PD_MAP_CAP) -- served sessions as
 * the monitor's proxies, RAM dataspaces and threads as made by restore.c,
 * gates of the target's own objects made anew in batches bound to their
 * restored entrypoint threads (PD_ALLOC_RPC_CAPS), signal contexts and the
 * source's semaphore made anew and bound to the restored handler thread.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <capsule/checkpoint_abi.h>

#include "image/group.h"
#include "monitor/restore_state.h"

static int pd_call_cap(struct rs *rs, uint64_t op, cap_t arg, int have_w0, uint64_t w0,
		       cap_t *out)
{
	struct msg m;

	msg_reset(&m, op);
	if (cap_valid(arg))
		msg_put_cap(&m, arg);
	if (have_w0)
		msg_put(&m, w0);
	return restore_call_cap(rs->pd, &m, out);
}

static int signal_source(struct rs *rs)
{
	if (cap_valid(rs->source))
		return 0;
	return pd_call_cap(rs, PD_ALLOC_SIGNAL_SOURCE, CAP_INVALID, 0, 0, &rs->source);
}

static unsigned own_home(uint64_t badge)
{
	/* badges go in steps of 4: the multiply spreads them */
	return (unsigned)((badge * 0x9e3779b97f4a7c15ULL) >> (64 - RS_OWN_BITS));
}

/* The object just kept (the last of rs->cap) indexed by its old badge,
 * for a group's restore (restore_member_object). */
static void own_add(struct rs *rs, uint64_t old_badge)
{
	const unsigned mask = (1u << RS_OWN_BITS) - 1;
	unsigned p = own_home(old_badge);

	if (!rs->mon->group || !old_badge || rs->nown >= (1u << RS_OWN_BITS) / 2)
		return;
	while (rs->own[p].old_badge)
		p = (p + 1) & mask;
	rs->own[p].old_badge = old_badge;
	rs->own[p].cap = rs->cap[rs->ncaps - 1].cap;
	rs->nown++;
}

static cap_t own_find(const struct rs *rs, uint64_t old_badge)
{
	const unsigned mask = (1u << RS_OWN_BITS) - 1;

	for (unsigned p = own_home(old_badge); rs->own[p].old_badge; p = (p + 1) & mask)
		if (rs->own[p].old_badge == old_badge)
			return rs->own[p].cap;
	return CAP_INVALID;
}

/* A new object for an entry the target owns: *c (one reference, kept). */
static int recreate(struct rs *rs, const struct mon_model_cap *mc, cap_t *c)
{
	struct msg m;
	int rc;

	switch (mc->cls) {
	case MON_CLASS_SIGNAL_CONTEXT:
		if ((rc = signal_source(rs)) ||
		    (rc = pd_call_cap(rs, PD_ALLOC_CONTEXT, rs->source, 1, mc->aux, c)) ||
		    (rc = rs_keep(rs, mc->cls, *c, mc->aux)))
			return rc;
		own_add(rs, mc->badge);
		return 0;
	case MON_CLASS_SEMAPHORE:
		if ((rc = signal_source(rs)))
			return rc;
		msg_reset(&m, SIGNAL_SEMAPHORE);
		if ((rc = restore_call_cap(rs->source, &m, c)))
			return rc;
		return rs_keep(rs, mc->cls, *c, 0);
	default:
		return -ENOTSUP;
	}
}

/* The cap for model entry mc in the new target (borrowed), or an error. */
static int cap_for(struct rs *rs, const struct mon_model_cap *mc, cap_t *c)
{
	struct mon_record *r;
	struct rs_thread *t;
	struct proxy *p;
	struct rs_ds *d;
	int rc;

	switch (mc->cls) {
	case MON_CLASS_SESSION:	   /* the proxy, served by the monitor (a new one
				      after an image restore: the seeded map) */
	case MON_CLASS_REGION_MAP: /* a new proxy (rm_restore_make) */
	case MON_CLASS_SIGNAL_SOURCE:
		p = proxy_find(rs->mon, badge_map_new(&rs->bm, mc->badge));
		if (!p)
			return -ESRCH;
		if (mc->cls == MON_CLASS_SIGNAL_SOURCE && (rc = signal_source(rs)))
			return rc;
		*c = p->obj.cap;
		return 0;
	case MON_CLASS_ROM_DS: /* held by the monitor's sessions: unchanged */
	case MON_CLASS_ROUTED:
		r = record_find(rs->mon, badge_map_new(&rs->bm, mc->badge));
		if (!r)
			return -ESRCH;
		*c = r->cap;
		return 0;
	case MON_CLASS_MANAGED_DS:
		*c = rm_restore_ds(&rs->rm, mc->badge);
		return cap_valid(*c) ? 0 : -ESRCH;
	case MON_CLASS_DATASPACE:
		d = rs_ds_get(rs, mc->badge, mc->aux);
		if (!d)
			return -ENOMEM;
		*c = d->cap;
		return 0;
	case MON_CLASS_THREAD:
		t = rs_thread_by_badge(rs, mc->badge, 1);
		if (!t)
			return -ESRCH;
		*c = t->obj;
		return 0;
	default:
		if ((rc = recreate(rs, mc, c)))
			return rc;
		return badge_map_add(&rs->bm, mc->badge, cap_badge(*c));
	}
}

/*
 * RPC gates, the bulk of a large cap map, are made in batches: core
 * allocates each gate and maps it at its kcap in the new PD and at a free
 * slot of the monitor in one call (PD_ALLOC_GATES_MAPPED with the
 * monitor's PD), for up to GATE_BATCH consecutive entries bound to the
 * same entrypoint thread.  Its caps in a reply (PD_ALLOC_RPC_CAPS, four a
 * call) cost a map into the target, and the monitor a move and an unmap,
 * per gate; that call stays for a batch the first refuses (the monitor's
 * fixed slots used up, a kcap it does not take), and names the cap.
 */
#define GATE_BATCH (TASK_MAP_OUT_MAX / 2)

struct gate_batch {
	struct rs_thread *t;
	unsigned n;
	const struct mon_model_cap *mc[GATE_BATCH];
};

static void why(struct rs *rs, uint64_t kcap, uint64_t badge, enum mon_class cls, int rc)
{
	monitor_why(rs->mon, "restore: kcap 0x%llx badge 0x%llx (%s): %s",
		    (unsigned long long)kcap, (unsigned long long)badge,
		    mon_class_name(cls), strerror(-rc));
}

static void map_failed(struct rs *rs, const struct mon_model_cap *mc, int rc)
{
	why(rs, mc->kcap, mc->badge, mc->cls, rc);
}

/*
 * Caps that need only mapping at their kcaps (no object made with them)
 * go to core MSG_MAX_ITEMS to a call (PD_MAP_CAPS), as gates do.  The
 * queue holds a reference to each, so a cap stays what it was when it
 * was queued (the serving entrypoint may drop a proxy meanwhile).  A
 * refused batch maps none; it is then mapped one cap at a time, so the
 * line says which cap core refused.
 */
/* A session routed outside (or a dataspace of one) whose server has
 * gone: the monitor's cap was revoked with the target's, so the target
 * held an empty slot there, which is what it gets back.  (soak.sh: the
 * server exits once its last client is done, while the target still
 * drains its signals; a restore then failed with -EINVAL.) */
static int server_gone(const struct rs_mapq *q, unsigned i)
{
	return (q->cls[i] == MON_CLASS_ROUTED || q->cls[i] == MON_CLASS_ROM_DS) &&
	       !served_task_op(TASK_CAP_VALID, cap_kcap(q->c[i]), 0, NULL);
}

static int map_send(struct rs *rs, const struct rs_mapq *q, unsigned n)
{
	int rc;

	if (!(rc = pd_map_caps(rs->pd, q->c, q->kcap, n)))
		return 0;
	for (unsigned i = 0; i < n; i++)
		if ((rc = pd_map_cap(rs->pd, q->c[i], q->kcap[i])) &&
		    !server_gone(q, i)) {
			why(rs, q->kcap[i], q->badge[i], q->cls[i], rc);
			return rc;
		}
	return 0;
}

static int map_flush(struct rs *rs)
{
	struct rs_mapq *q = &rs->mapq;
	unsigned n = q->n;
	int rc = n ? map_send(rs, q, n) : 0;

	rs_mapq_drop(rs);
	return rc;
}

void rs_mapq_drop(struct rs *rs)
{
	for (unsigned i = 0; i < rs->mapq.n; i++)
		cap_release(rs->mapq.c[i]);
	rs->mapq.n = 0;
}

static int map_queue(struct rs *rs, cap_t c, uint64_t kcap, uint64_t badge,
		     enum mon_class cls)
{
	struct rs_mapq *q = &rs->mapq;
	int rc;

	if (q->n == MSG_MAX_ITEMS && (rc = map_flush(rs)))
		return rc;
	q->c[q->n] = cap_ref(c);
	q->kcap[q->n] = kcap;
	q->badge[q->n] = badge;
	q->cls[q->n++] = cls;
	return 0;
}

/* The n gates made for b->mc[from..] kept, their badges mapped. */
static int gates_keep(struct rs *rs, const struct gate_batch *b, unsigned from,
		      unsigned n, cap_t *gate)
{
	int rc = 0;

	for (unsigned i = 0; i < n; i++) {
		if (rc) { /* rs_keep() failed: the rest is released here */
			cap_release(gate[i]);
			continue;
		}
		rc = rs_keep(rs, MON_CLASS_RPC_GATE, gate[i], b->t->badge);
		if (!rc) {
			own_add(rs, b->mc[from + i]->badge);
			rc = badge_map_add(&rs->bm, b->mc[from + i]->badge,
					   cap_badge(gate[i]));
		}
	}
	return rc;
}

/*
 * The monitor's copy of each of the target's gates is derived from the
 * target's, so that the target's revocation reaches it and the clients
 * of the served proxy that stands for it (served_revoke.c): core makes
 * it so in PD_ALLOC_GATES_MAPPED.  A gate that came in a reply is core's
 * copy: its slot is emptied (its cap map entry stays) and its refill
 * from the target's slot sent with the batch's (PD_DERIVE_CAPS).
 */
static int derive_gates(struct rs *rs, const uint64_t *theirs, const cap_t *gate,
			unsigned n)
{
	uint64_t mine[MSG_MAX_ITEMS];
	int rc;

	for (unsigned i = 0; i < n; i++) {
		mine[i] = cap_kcap(gate[i]);
		served_task_op(TASK_UNMAP, mine[i], UNMAP_RELEASE, &rc);
		if (rc)
			return rc;
	}
	return pd_derive_caps(rs->pd, rs->mon->env->pd, theirs, mine, n);
}

/* A batch PD_ALLOC_GATES_MAPPED refused, MSG_MAX_ITEMS to a call. */
static int gates_in_replies(struct rs *rs, const struct gate_batch *b,
			    const uint64_t *kcap, unsigned n)
{
	cap_t gate[MSG_MAX_ITEMS];
	int rc;

	for (unsigned i = 0; i < n; i += MSG_MAX_ITEMS) {
		unsigned k = n - i < MSG_MAX_ITEMS ? n - i : MSG_MAX_ITEMS;
		if ((rc = pd_alloc_rpc_caps(rs->pd, b->t->kthread, kcap + i, k, gate))) {
			map_failed(rs, b->mc[i], rc);
			return rc;
		}
		if ((rc = gates_keep(rs, b, i, k, gate)))
			return rc;
		if ((rc = derive_gates(rs, kcap + i, gate, k))) {
			map_failed(rs, b->mc[i], rc);
			return rc;
		}
	}
	return 0;
}

static int gates_flush(struct rs *rs, struct gate_batch *b)
{
	uint64_t kcap[GATE_BATCH];
	cap_t gate[GATE_BATCH];
	unsigned n = b->n;
	int rc;

	if (!n)
		return 0;
	b->n = 0;
	rs->what = mon_class_name(MON_CLASS_RPC_GATE);
	for (unsigned i = 0; i < n; i++)
		kcap[i] = b->mc[i]->kcap;
	rc = pd_alloc_gates_at(rs->pd, rs->mon->env->pd, b->t->kthread, kcap, n, gate);
	if (rc == -ENOSPC || rc == -EINVAL)
		return gates_in_replies(rs, b, kcap, n);
	if (rc) {
		map_failed(rs, b->mc[0], rc);
		return rc;
	}
	return gates_keep(rs, b, 0, n, gate);
}

/* Queue a gate entry, first flushing a batch it cannot join. */
static int gate_add(struct rs *rs, struct gate_batch *b, const struct mon_model_cap *mc)
{
	/* bound to the restored entrypoint thread */
	struct rs_thread *t = rs_thread_by_badge(rs, mc->aux, 0);
	int rc;

	if (!t) {
		map_failed(rs, mc, -ESRCH);
		return -ESRCH;
	}
	if (b->n && (b->t != t || b->n == GATE_BATCH) && (rc = gates_flush(rs, b)))
		return rc;
	b->t = t;
	b->mc[b->n++] = mc;
	return 0;
}

int rs_map_caps(struct rs *rs)
{
	struct gate_batch b = {0};
	int rc;

	for (unsigned i = 0; i < rs->m->ncaps; i++) {
		const struct mon_model_cap *mc = &rs->m->cap[i];
		uint64_t idx = KCAP_INDEX(mc->kcap);
		cap_t c;

		rs->what = mon_class_name(mc->cls);
		switch (mc->cls) {
		case MON_CLASS_TASK:
		case MON_CLASS_SKIPPED:
			continue;
		case MON_CLASS_MEMBER: /* the group's restore maps it */
			if (rs->mon->group)
				continue;
			map_failed(rs, mc, -ENOTSUP);
			return -ENOTSUP;
		case MON_CLASS_RPC_GATE:
			if ((rc = restore_point(rs->mon, "gate")) ||
			    (rc = gate_add(rs, &b, mc))) {
				map_failed(rs, mc, rc);
				return rc;
			}
			continue;
		case MON_CLASS_PARENT:
			rc = pd_assign_parent(rs->pd, rs->mon->parent_obj.cap);
			break;
		case MON_CLASS_THREAD:
			if (idx < FIXED_USER_BASE)
				continue; /* core mapped the kernel thread there */
					  /* fall through */
		default:
			rc = restore_point(rs->mon, "cap");
			if (!rc)
				rc = cap_for(rs, mc, &c);
			if (!rc)
				rc = map_queue(rs, c, mc->kcap, mc->badge, mc->cls);
		}
		if (rc) {
			map_failed(rs, mc, rc);
			return rc;
		}
	}
	if ((rc = map_flush(rs)))
		return rc;
	return gates_flush(rs, &b);
}

/* Bind the new semaphore to the restored handler thread, as the target's
 * libbase bound the old one (docs/design.md "Signals"). */
int rs_bind_semaphore(struct rs *rs)
{
	struct utcb *u = sys_utcb();
	uint64_t nr, label, tag;
	int rc;

	for (unsigned i = 0; i < rs->ncaps; i++) {
		if (rs->cap[i].cls != MON_CLASS_SEMAPHORE)
			continue;
		rs->what = "cannot bind its signal semaphore";
		if ((rc = model_handler_thread_nr(rs->m, &nr)))
			return rc;
		for (unsigned k = 0; k < rs->m->nthreads; k++) {
			if (rs->thread[k].nr != nr)
				continue;
			u->mr[0] = IRQ_BIND;
			u->mr[1] = cap_kcap(rs->thread[k].kthread);
			u->mr[2] = CR_SIGNAL_SEMAPHORE_LABEL;
			tag = sys_invoke(cap_kcap(rs->cap[i].cap),
					 TAG(SYS_OP_CALL, PROTO_IRQ, 3, 0),
					 SYS_TIMEOUT_NEVER, &label);
			return TAG_ERROR(tag) ? kerr_to_errno(TAG_ERROR(tag)) : 0;
		}
		return -ESRCH;
	}
	return 0;
}

int restore_member_cap(struct rs *holder, struct member_mapq *q, uint64_t kcap,
		       uint64_t old_badge, cap_t c)
{
	int rc;

	holder->what = mon_class_name(MON_CLASS_MEMBER);
	if ((rc = restore_point(holder->mon, "member cap")) ||
	    (rc = member_map_queue(q, holder, kcap, old_badge, c)) ||
	    (rc = badge_map_add(&holder->bm, old_badge, cap_badge(c)))) {
		why(holder, kcap, old_badge, MON_CLASS_MEMBER, rc);
		return rc;
	}
	return 0;
}

int restore_member_entry(struct rs *holder, uint64_t kcap, uint64_t old_badge, cap_t c)
{
	int rc;

	holder->what = mon_class_name(MON_CLASS_MEMBER);
	if ((rc = restore_point(holder->mon, "member cap")) ||
	    (rc = badge_map_add(&holder->bm, old_badge, cap_badge(c)))) {
		why(holder, kcap, old_badge, MON_CLASS_MEMBER, rc);
		return rc;
	}
	return 0;
}

int restore_member_object(struct rs *owner, uint32_t kind, uint64_t object, cap_t *out)
{
	const struct rm_made *map;
	struct rs_ds *d;

	*out = CAP_INVALID;
	switch (kind) {
	case IMAGE_MEMBER_GATE:
	case IMAGE_MEMBER_SIGNAL_CONTEXT:
		/* only an object this restore made anew (on another node an old
		 * badge may be a new object's) */
		*out = own_find(owner, object);
		for (unsigned i = 0; i < owner->bm.n && !cap_valid(*out); i++)
			if (owner->bm.pair[i].old_badge == object)
				*out =
				    restore_new_cap(owner, owner->bm.pair[i].new_badge);
		break;
	case IMAGE_MEMBER_DATASPACE:
		if ((d = rs_ds_get(owner, object, 0)) != NULL)
			*out = d->cap;
		else
			*out = rm_restore_ds(&owner->rm, object);
		break;
	case IMAGE_MEMBER_REGION_MAP:
		if ((map = rm_restore_find(&owner->rm, object)) != NULL)
			*out = map->p->obj.cap;
		break;
	}
	return cap_valid(*out) ? 0 : -ESRCH;
}

struct monitor *restore_monitor(const struct rs *rs)
{
	return rs->mon;
}
