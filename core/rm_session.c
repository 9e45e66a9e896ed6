/*
 * RM sessions and region-map objects.  A region map object serves
 * REGION_* on a region map; its dataspace (REGION_DATASPACE, a second RPC
 * object answering DS_SIZE) can be attached into another map, which makes
 * it a managed dataspace.  Three kinds of objects:
 *   - maps made by RM_CREATE, owned by an RM session;
 *   - each guest PD's stack area, attached at GUEST_STACK_AREA of its
 *     address space (PD_STACK_AREA);
 *   - the RPC view of a PD's address space (PD_ADDRESS_SPACE): attaches
 *     go through the PD (so the stack area stays where it is); it has no
 *     dataspace of its own.
 * Faults: core's fault thread calls rm_fault; a hole of a managed
 * dataspace halts the thread until something is attached in that map.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include "core/core_internal.h"
#include "core/session_args.h"

#define RM_SESSION_MAPS 64 /* region maps per RM session */
#define RM_MAX_SIZE	(1ULL << 40)
#define STACK_AREA_SIZE ((uint64_t)THREAD_AREA_THREADS * GUEST_STACK_SLOT)

/* A thread halted on a fault in a map, named by its pager gate's badge
 * (the thread may be destroyed meanwhile: it is looked up on resume). */
struct rm_waiter {
	struct rm_waiter *next;
	uint64_t pager;
	uint64_t ip, addr; /* as the kernel reported the fault */
};

/* Invariants: obj (and ds_obj unless view) are managed by core's ep while
 * the object lives; map is &own, or &pd->rm for a view; waiters are the
 * threads halted on a fault in this map since the last attach into it. */
struct rm_object {
	struct rpc_object obj;
	struct rpc_object ds_obj;
	struct rm_object *next; /* in the RM session's list */
	struct core *core;
	struct pd_session *pd; /* view: the PD whose address space it is */
	int view;
	struct region_map own;
	struct region_map *map;
	uint64_t sigh; /* badge of the fault handler's signal context, 0: none */
	uint64_t state, fault_addr, fault_kind;
	struct rm_waiter *waiters;
};

struct rm_session {
	struct core_session s;
	struct core *core;
	struct rm_object *maps;
	unsigned nmaps;
	bool full_told; /* the full table was logged (once per session) */
};

static void rm_obj_dispatch(struct rpc_object *obj, struct msg *m);

static void rm_ds_dispatch(struct rpc_object *obj, struct msg *m)
{
	struct rm_object *o = container_of(obj, struct rm_object, ds_obj);

	if (m->code != DS_SIZE) {
		msg_reset(m, RPC_INVALID_OPCODE);
		return;
	}
	core_reply_ok(m);
	msg_put(m, o->own.size);
}

struct region_map *rm_managed_from_cap(struct core *c, cap_t cap)
{
	struct rpc_object *obj;

	if (!cap_valid(cap))
		return NULL;
	obj = ep_lookup(c->env->ep, cap_badge(cap));
	if (!obj || obj->dispatch != rm_ds_dispatch)
		return NULL;
	return &container_of(obj, struct rm_object, ds_obj)->own;
}

/* The CPU thread whose pager gate has this badge, or NULL.  Reads only. */
struct cpu_thread *rm_thread_of_pager(struct core *c, uint64_t badge)
{
	for (struct core_session *s = c->sessions; s; s = s->next) {
		struct cpu_session *cpu;
		if (s->ops != &cpu_session_ops)
			continue;
		cpu = container_of(s, struct cpu_session, s);
		for (struct cpu_thread *t = cpu->threads; t; t = t->next)
			if (cap_badge(t->pager) == badge)
				return t;
	}
	return NULL;
}

void rm_thread_resume(struct cpu_thread *t)
{
	uint64_t w = THREAD_RESUME;

	kobj_invoke(cap_kcap(t->thread), PROTO_THREAD, &w, 1, NULL, 0);
}

/* After an attach into map m: the threads halted on faults in m go on (a
 * thread whose address is still a hole faults again and waits again). */
static void rm_wake(struct core *c, struct region_map *m)
{
	struct rm_object *o;
	struct rm_waiter *w;

	if (m->pd)
		return; /* an address space itself never has waiters */
	o = container_of(m, struct rm_object, own);
	w = o->waiters;
	o->waiters = NULL; /* the fault thread may add new ones meanwhile */
	o->state = REGION_READY;
	while (w) {
		struct rm_waiter *n = w->next;
		struct cpu_thread *t = rm_thread_of_pager(c, w->pager);
		if (t)
			rm_thread_resume(t);
		free(w);
		w = n;
	}
}

/* A map goes away: its waiters' faults become fatal (reported as usual). */
static void rm_fail_waiters(struct core *c, struct rm_object *o)
{
	while (o->waiters) {
		struct rm_waiter *w = o->waiters;
		struct cpu_thread *t = rm_thread_of_pager(c, w->pager);
		o->waiters = w->next;
		if (t) {
			uint64_t irq = cpu_thread_fault(
			    c, w->pager, (unsigned)o->fault_kind, w->ip, w->addr);
			uint64_t trig = IRQ_TRIGGER;
			if (irq != KCAP_INVALID)
				kobj_invoke(irq, PROTO_IRQ, &trig, 1, NULL, 0);
		}
		free(w);
	}
}

static int rm_perm_allows(unsigned perm, unsigned kind)
{
	switch (kind) {
	case FAULT_READ:
		return !!(perm & MEM_R);
	case FAULT_WRITE:
		return !!(perm & MEM_W);
	case FAULT_EXEC:
		return !!(perm & MEM_X);
	}
	return 0;
}

/* addr (in r's map) lies in r, a dataspace region: if that page of a lazy
 * dataspace is absent, or the next one is (an access across the page
 * boundary reports its first byte), the thread waits for it (1). */
static int rm_lazy_fault(struct core *c, struct region *r, uint64_t addr, uint64_t pager)
{
	uint64_t page = (addr - r->addr + r->off) / PAGE_SIZE;

	if (!r->ds->lazy)
		return 0;
	if (lazy_fault(c, r->ds, page, pager))
		return 1;
	return addr - r->addr + PAGE_SIZE < r->size &&
	       lazy_fault(c, r->ds, page + 1, pager);
}

int rm_fault(struct core *c, uint64_t label, unsigned kind, uint64_t ip, uint64_t addr)
{
	uint64_t fault_addr = addr;
	uint64_t badge = label & ~(uint64_t)LABEL_RIGHTS_MASK;
	struct cpu_thread *t = rm_thread_of_pager(c, badge);
	struct region_map *m;
	struct rm_object *o;
	struct rm_waiter *w;
	unsigned perm = MEM_R | MEM_W | MEM_X;

	if (!t || t->pd->native || !rm_perm_allows(perm, kind))
		return 0;
	/* walk down through managed dataspaces to the innermost map */
	for (m = &t->pd->rm;;) {
		struct region *r = rm_lookup(m, addr);
		if (!r)
			break;
		perm &= r->perm;
		if (r->ds) {
			/* attached meanwhile, or a real protection fault */
			if (!rm_perm_allows(perm, kind))
				return 0;
			if (rm_lazy_fault(c, r, addr, badge))
				return 1; /* waits for its page (ds_lazy.c) */
			rm_thread_resume(t);
			return 1;
		}
		addr -= r->addr;
		m = r->sub;
	}
	if (m->pd)
		return 0; /* nothing at all there: a wild access */
	o = container_of(m, struct rm_object, own);
	/* a hole of the stack area (a guard page, a stack overflow): nobody
	 * can be its pager, so it is a fault like any other */
	if (o == t->pd->stack_area)
		return 0;
	for (w = o->waiters; w && w->pager != badge; w = w->next)
		;
	if (!w) {
		w = calloc(1, sizeof(*w));
		if (!w)
			return 0;
		w->pager = badge;
		w->ip = ip;
		w->addr = fault_addr;
		w->next = o->waiters;
		o->waiters = w;
	}
	o->state = REGION_FAULTED;
	o->fault_addr = addr;
	o->fault_kind = kind;
	if (o->sigh)
		signal_submit_badge(c, o->sigh, 1);
	return 1;
}

/* REGION_ATTACH / REGION_DETACH on object o. */
static int rm_obj_attach(struct rm_object *o, const struct msg *m, struct msg *r)
{
	struct core *c = o->core;
	cap_t cap = m->ncaps ? m->caps[0] : CAP_INVALID;
	struct dataspace *ds = ds_from_cap(c, cap);
	struct region_map *sub = ds ? NULL : rm_managed_from_cap(c, cap);
	uint64_t addr, at;
	int fixed, err;

	if ((!ds && !sub) || m->nwords < 4)
		return -EINVAL;
	addr = m->w[0];
	fixed = addr != REGION_ANY;
	if (o->view)
		err = pd_attach_region(o->pd, ds, sub, fixed ? addr : 0, fixed, m->w[1],
				       m->w[2], (unsigned)m->w[3], &at);
	else
		err = rm_attach(o->map, ds, sub, fixed ? addr : 0, fixed, m->w[1],
				m->w[2], (unsigned)m->w[3], &at);
	if (err)
		return err;
	if (!o->view)
		rm_wake(c, o->map);
	msg_put(r, at);
	return 0;
}

static int rm_obj_op(struct rm_object *o, const struct msg *m, struct msg *r)
{
	struct core *c = o->core;

	switch (m->code) {
	case REGION_ATTACH:
		return rm_obj_attach(o, m, r);
	case REGION_DETACH:
		if (m->nwords < 1)
			return -EINVAL;
		return o->view ? pd_detach_addr(o->pd, m->w[0])
			       : rm_detach(o->map, m->w[0]);
	case REGION_FAULT_HANDLER: {
		uint64_t badge =
		    signal_context_badge(c, m->ncaps ? m->caps[0] : CAP_INVALID);
		if (!badge || o->view)
			return -EINVAL;
		o->sigh = badge;
		if (o->state == REGION_FAULTED) /* a fault it has not heard of */
			signal_submit_badge(c, badge, 1);
		return 0;
	}
	case REGION_STATE:
		msg_put(r, o->state);
		msg_put(r, o->fault_addr);
		msg_put(r, o->fault_kind);
		return 0;
	case REGION_DATASPACE:
		if (o->view)
			return -EINVAL;
		return msg_put_cap(r, o->ds_obj.cap) ? -EINVAL : 0;
	}
	return -ENOSYS;
}

static void rm_obj_dispatch(struct rpc_object *obj, struct msg *m)
{
	struct rm_object *o = container_of(obj, struct rm_object, obj);
	struct msg r;

	if (core_reply_begin(m, m->code >= REGION_ATTACH && m->code <= REGION_DATASPACE,
			     &r))
		core_reply_end(m, &r, rm_obj_op(o, m, &r));
}

/* A new object over a map of `size` bytes (view: pd's address space). */
static int rm_obj_create(struct core *c, uint64_t size, struct pd_session *view,
			 struct rm_object **out)
{
	struct rm_object *o = calloc(1, sizeof(*o));

	if (!o)
		return -ENOMEM;
	o->core = c;
	rm_init(&o->own, 0, size, size, 0);
	o->map = &o->own;
	if (view) {
		o->view = 1;
		o->pd = view;
		o->map = &view->rm;
	}
	if (!cap_valid(ep_manage(c->env->ep, &o->obj, rm_obj_dispatch)))
		goto err;
	if (!view && !cap_valid(ep_manage(c->env->ep, &o->ds_obj, rm_ds_dispatch))) {
		ep_dissolve(c->env->ep, &o->obj);
		goto err;
	}
	*out = o;
	return 0;
err:
	free(o);
	return -ENOSPC;
}

static void rm_obj_destroy(struct rm_object *o)
{
	struct core *c = o->core;

	ep_dissolve(c->env->ep, &o->obj);
	if (o->view) {
		free(o);
		return;
	}
	ep_dissolve(c->env->ep, &o->ds_obj);
	rm_release(&o->own);
	rm_fail_waiters(c, o);
	free(o);
}

static void rm_obj_forget(struct rm_object *o)
{
	if (!o)
		return;
	if (!o->view)
		rm_forget(&o->own);
	while (o->waiters) {
		struct rm_waiter *w = o->waiters;
		o->waiters = w->next;
		free(w);
	}
	free(o);
}

/* ---- PD side ---- */

struct region_map *rm_pd_stack(struct pd_session *pd)
{
	return pd->stack_area ? &pd->stack_area->own : NULL;
}

int rm_pd_init(struct pd_session *pd)
{
	uint64_t at;
	int err;

	if (pd->native)
		return 0;
	err = rm_obj_create(pd->core, STACK_AREA_SIZE, NULL, &pd->stack_area);
	if (err)
		return err;
	err = rm_attach(&pd->rm, NULL, &pd->stack_area->own, GUEST_STACK_AREA, 1, 0, 0,
			MEM_R | MEM_W, &at);
	if (err) {
		rm_obj_destroy(pd->stack_area);
		pd->stack_area = NULL;
	}
	return err;
}

void rm_pd_release(struct pd_session *pd)
{
	if (pd->address_space)
		rm_obj_destroy(pd->address_space);
	if (pd->stack_area)
		rm_obj_destroy(pd->stack_area);
	pd->address_space = pd->stack_area = NULL;
}

void rm_pd_forget(struct pd_session *pd)
{
	rm_obj_forget(pd->address_space);
	rm_obj_forget(pd->stack_area);
	pd->address_space = pd->stack_area = NULL;
}

void rm_pd_attached(struct pd_session *pd, struct region_map *m)
{
	rm_wake(pd->core, m);
}

int rm_pd_op(struct pd_session *pd, const struct msg *m, struct msg *r)
{
	int err;

	switch (m->code) {
	case PD_ADDRESS_SPACE:
		if (!pd->address_space) {
			err = rm_obj_create(pd->core, 0, pd, &pd->address_space);
			if (err)
				return err;
		}
		return msg_put_cap(r, pd->address_space->obj.cap) ? -EINVAL : 0;
	case PD_STACK_AREA:
		if (!pd->stack_area)
			return -ENOENT;
		return msg_put_cap(r, pd->stack_area->obj.cap) ? -EINVAL : 0;
	}
	return -ENOSYS;
}

/* ---- RM session ---- */

static struct rm_object *rm_session_map(struct rm_session *rs, cap_t cap)
{
	uint64_t badge = cap_badge(cap);

	if (!cap_valid(cap))
		return NULL;
	for (struct rm_object *o = rs->maps; o; o = o->next)
		if (o->obj.badge == badge)
			return o;
	return NULL;
}

/* RM_CREATE with RM_SESSION_MAPS maps already: a limit of core's table,
 * not a quota (the client's RAM and caps may have room), so not -EDQUOT
 * ("Disk quota exceeded" to whoever prints it): -ENOSPC, and one line
 * naming the limit, once per session (a client that retries does not
 * flood the log). */
static int rm_session_full(struct rm_session *rs)
{
	int n = 0;

	if (!rs->full_told) {
		rs->full_told = true;
		while (rs->s.label[n] && (unsigned char)rs->s.label[n] >= 0x20 &&
		       rs->s.label[n] != 0x7f)
			n++;
		fprintf(stderr,
			"core: RM session \"%.*s\": region map refused: %u region maps, "
			"the most one RM session holds (destroy one first)\n",
			n, rs->s.label, RM_SESSION_MAPS);
	}
	return -ENOSPC;
}

static int rm_session_op(struct rm_session *rs, const struct msg *m, struct msg *r)
{
	struct rm_object *o;
	uint64_t size;
	int err;

	switch (m->code) {
	case RM_CREATE:
		if (m->nwords < 1 || !m->w[0] || m->w[0] > RM_MAX_SIZE)
			return -EINVAL;
		if (rs->nmaps >= RM_SESSION_MAPS)
			return rm_session_full(rs);
		size = PAGE_ROUND(m->w[0]);
		err = rm_obj_create(rs->core, size, NULL, &o);
		if (err)
			return err;
		o->next = rs->maps;
		rs->maps = o;
		rs->nmaps++;
		return msg_put_cap(r, o->obj.cap) ? -EINVAL : 0;
	case RM_DESTROY:
		o = rm_session_map(rs, m->ncaps ? m->caps[0] : CAP_INVALID);
		if (!o)
			return -EINVAL;
		for (struct rm_object **pp = &rs->maps; *pp; pp = &(*pp)->next) {
			if (*pp == o) {
				*pp = o->next;
				break;
			}
		}
		rs->nmaps--;
		rm_obj_destroy(o);
		return 0;
	}
	return -ENOSYS;
}

static void rm_session_dispatch(struct rpc_object *obj, struct msg *m)
{
	struct rm_session *rs = container_of(obj, struct rm_session, s.obj);
	struct msg r;

	if (core_reply_begin(m, m->code == RM_CREATE || m->code == RM_DESTROY, &r))
		core_reply_end(m, &r, rm_session_op(rs, m, &r));
}

int rm_session_create(struct core *c, const char *args, struct core_session **out)
{
	struct rm_session *rs = calloc(1, sizeof(*rs));
	char label[CORE_LABEL_MAX];

	if (!rs)
		return -ENOMEM;
	if (session_arg_str(args, "label", label, sizeof(label)))
		label[0] = 0;
	rs->core = c;
	if (!cap_valid(ep_manage(c->env->ep, &rs->s.obj, rm_session_dispatch))) {
		free(rs);
		return -ENOSPC;
	}
	core_session_add(c, &rs->s, &rm_session_ops, label);
	*out = &rs->s;
	return 0;
}

void rm_session_destroy(struct core *c, struct core_session *s)
{
	struct rm_session *rs = container_of(s, struct rm_session, s);

	while (rs->maps) {
		struct rm_object *o = rs->maps;
		rs->maps = o->next;
		rm_obj_destroy(o);
	}
	core_session_remove(c, s);
	ep_dissolve(c->env->ep, &s->obj);
	free(rs);
}

static void rm_session_forget(struct core_session *s)
{
	struct rm_session *rs = container_of(s, struct rm_session, s);

	while (rs->maps) {
		struct rm_object *o = rs->maps;
		rs->maps = o->next;
		rm_obj_forget(o);
	}
	free(rs);
}

static int rm_ops_create(struct core *c, const char *args, struct pd_session *donor,
			 struct core_session **out)
{
	return rm_session_create(c, args, out);
}

const struct core_session_ops rm_session_ops = {
    .name = "RM",
    .create = rm_ops_create,
    .close = rm_session_destroy,
    .forget = rm_session_forget,
};
