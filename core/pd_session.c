/*
 * PD session: one kernel task (TASK_GUEST, or TASK_NATIVE with
 * `native=1`), its RAM and cap quota (`ram_quota=N cap_quota=N`, taken
 * from the donor PD when created through a parent), its RAM dataspaces,
 * region map, RPC gates, and the native-PD extension (cap map address,
 * the caps it maps: pd_caps.c).  Every op validates before it acts, so
 * a refused request changes nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "core/core_internal.h"
#include "core/session_args.h"

static void pd_dispatch(struct rpc_object *obj, struct msg *m);
static int pd_session_free_gate(struct pd_session *pd, cap_t gate);

struct pd_session *pd_session_from_cap(struct core *c, cap_t cap)
{
	struct core_session *s = core_session_find(c, cap, &pd_session_ops);

	return s ? container_of(s, struct pd_session, s) : NULL;
}

static int pd_session_alloc_gate(struct pd_session *pd, cap_t ep_thread, cap_t *out)
{
	struct pd_gate *g = calloc(1, sizeof(*g));
	int err = g ? pd_charge_caps(pd, 1) : -ENOMEM;

	if (err)
		goto err;
	err = core_gate_alloc(pd->core, ep_thread, &g->cap);
	if (err) {
		pd_uncharge_caps(pd, 1);
		goto err;
	}
	g->next = pd->gates;
	pd->gates = g;
	*out = g->cap;
	return 0;
err:
	free(g);
	return err;
}

/* PD_ALLOC_RPC_CAPS: words are kcaps in this PD, or 0 for a gate only
 * handed to the caller; all checked first, and a failure part-way frees
 * the gates made.  Core's gate list keeps each alive (no MAP_CAP hold). */
static int pd_session_alloc_gates_at(struct pd_session *pd, cap_t ep_thread,
				     const struct msg *m, struct msg *r)
{
	unsigned k = m->nwords, made;
	cap_t gate[MSG_MAX_ITEMS];
	int err = 0;

	if (k < 1 || k > MSG_MAX_ITEMS || !cap_valid(ep_thread))
		return -EINVAL;
	for (unsigned i = 0; i < k; i++) {
		if (!m->w[i])
			continue;
		if (!pd_kcap_ok(m->w[i]) || m->w[i] == KCAP(FIXED_PARENT))
			return -EINVAL;
		for (unsigned j = 0; j < i; j++)
			if (m->w[j] == m->w[i])
				return -EINVAL;
	}
	for (made = 0; made < k && !err; made++) {
		err = pd_session_alloc_gate(pd, ep_thread, &gate[made]);
		if (err)
			break;
		if (m->w[made])
			err =
			    kobj_map(pd->task, gate[made], m->w[made], RIGHT_R | RIGHT_W);
	}
	if (err) {
		/* unmapping is part of freeing: core revokes every copy */
		for (unsigned i = 0; i < made; i++)
			pd_session_free_gate(pd, gate[i]);
		return err;
	}
	for (unsigned i = 0; i < k; i++)
		r->caps[i] = gate[i];
	r->ncaps = k;
	return 0;
}

/* The caller's copies (PD `to`) of n gates just mapped at kcaps of pd,
 * derived from pd's slots, as PD_DERIVE_CAPS makes them: w pairs (a
 * kcap of pd, one of to's); into empty slots, all or none. */
static int pd_derive_out(struct pd_session *pd, struct pd_session *to, const uint64_t *w,
			 unsigned n)
{
	uint64_t k[2 + 3 * TASK_MAP_OUT_MAX] = {TASK_MAP_OUT,
						TASK_MAP_OUT_GATES | TASK_MAP_OUT_EMPTY};

	for (unsigned i = 0; i < n; i++) {
		k[2 + 3 * i] = cap_kcap(to->task);
		k[3 + 3 * i] = w[2 * i] | RIGHT_R | RIGHT_W;
		k[4 + 3 * i] = w[2 * i + 1];
	}
	return kobj_invoke(cap_kcap(pd->task), PROTO_TASK, k, 2 + 3 * n, NULL, 0)
		   ? -EINVAL
		   : 0;
}

/* PD_ALLOC_GATES_MAPPED: k gates bound to ep_thread at empty kcaps of
 * this PD, answered as badges (caps in a reply, four a call, cost the
 * receiver a move and an unmap each); with the caller's PD `to` (a
 * restoring monitor), words are pairs, a kcap of this PD and one of
 * to's, and the caller's copy is derived from the PD's (as PD_DERIVE_CAPS
 * makes it: the PD's revocation takes it), so that a restore needs no
 * unmap and derive per gate it serves to others.  Kcaps and quota are
 * checked first, the slots by the TASK_MAP_OUT from core's task that maps
 * the PD's and the one from the PD's task that derives the caller's; a
 * refused map frees the gates made, which revokes every copy. */
static int pd_session_alloc_gates_mapped(struct pd_session *pd, cap_t ep_thread,
					 struct pd_session *to, const struct msg *m,
					 struct msg *r)
{
	uint64_t k[2 + 3 * TASK_MAP_OUT_MAX] = {TASK_MAP_OUT,
						TASK_MAP_OUT_GATES | TASK_MAP_OUT_EMPTY};
	unsigned w = to ? 2 : 1, n = m->nwords / w, made;
	cap_t gate[TASK_MAP_OUT_MAX];
	int err = 0;

	if (n < 1 || n * w > TASK_MAP_OUT_MAX || m->nwords % w ||
	    m->ncaps != (to ? 2 : 1) || !cap_valid(ep_thread) || to == pd)
		return -EINVAL;
	for (unsigned i = 0; i < n * w; i++) {
		if (!pd_kcap_ok(m->w[i]) || KCAP_INDEX(m->w[i]) < FIXED_USER_BASE)
			return -EINVAL;
		for (unsigned j = i % w; j < i; j += w)
			if (m->w[j] == m->w[i])
				return -EINVAL;
	}
	if (n > pd->cap_quota - pd->cap_used)
		return -EDQUOT;
	for (made = 0; made < n; made++) {
		uint64_t *t = &k[2 + 3 * made];
		if ((err = pd_session_alloc_gate(pd, ep_thread, &gate[made])))
			break;
		t[0] = cap_kcap(pd->task);
		t[1] = cap_kcap(gate[made]) | RIGHT_R | RIGHT_W;
		t[2] = m->w[made * w];
	}
	if (!err && kobj_invoke(KCAP(FIXED_TASK), PROTO_TASK, k, 2 + 3 * n, NULL, 0))
		err = -EINVAL;
	if (!err && to)
		err = pd_derive_out(pd, to, m->w, n);
	if (err) {
		for (unsigned i = 0; i < made; i++)
			pd_session_free_gate(pd, gate[i]);
		return err;
	}
	for (unsigned i = 0; i < n; i++)
		msg_put(r, cap_badge(gate[i]));
	return 0;
}

static int pd_session_free_gate(struct pd_session *pd, cap_t gate)
{
	uint64_t badge = cap_badge(gate);

	if (!cap_valid(gate))
		return -EINVAL;
	for (struct pd_gate **pp = &pd->gates; *pp; pp = &(*pp)->next) {
		struct pd_gate *g = *pp;
		if (cap_badge(g->cap) != badge)
			continue;
		*pp = g->next;
		core_gate_free(pd->core, g->cap);
		pd_uncharge_caps(pd, 1);
		free(g);
		return 0;
	}
	return -ENOENT;
}

int pd_session_transfer(struct pd_session *from, struct pd_session *to, uint64_t ram,
			uint64_t caps)
{
	if (!to || to == from)
		return -EINVAL;
	if (ram > from->ram_quota - from->ram_used ||
	    caps > from->cap_quota - from->cap_used)
		return -EDQUOT;
	if (to->ram_quota + ram < ram || to->cap_quota + caps < caps)
		return -EINVAL;
	from->ram_quota -= ram;
	from->cap_quota -= caps;
	to->ram_quota += ram;
	to->cap_quota += caps;
	return 0;
}

static int pd_op_free_ram(struct pd_session *pd, cap_t cap)
{
	struct dataspace *ds = ds_from_cap(pd->core, cap);
	struct dataspace *d;

	for (d = pd->ram; d && d != ds; d = d->next)
		;
	if (!ds || !d)
		return -EINVAL;
	if (ds->pinned)
		return -EBUSY;
	/* a freed dataspace vanishes from the owner's address space */
	pd_detach_ds(pd, ds);
	pd_free_ds(pd, ds);
	return 0;
}

/* Ops with a dataspace / cap / PD argument; returns 0 or -errno and
 * fills the reply payload on success. */
static int pd_op(struct pd_session *pd, struct msg *m, struct msg *r)
{
	struct core *c = pd->core;
	struct dataspace *ds;
	cap_t cap0 = m->ncaps ? m->caps[0] : CAP_INVALID;
	uint64_t at;
	int err;

	switch (m->code) {
	case PD_ALLOC_RAM:
		if (m->nwords < 1)
			return -EINVAL;
		err = pd_alloc_ds(pd, m->w[0], &ds);
		if (!err)
			msg_put_cap(r, ds->obj.cap);
		return err;
	case PD_FREE_RAM:
		return pd_op_free_ram(pd, cap0);
	case PD_ATTACH: {
		/* a dataspace, or a region map's (managed) dataspace */
		struct region_map *sub = NULL;
		ds = ds_from_cap(c, cap0);
		if (!ds)
			sub = rm_managed_from_cap(c, cap0);
		if ((!ds && !sub) || m->nwords < 4)
			return -EINVAL;
		err = pd_attach_region(pd, ds, sub, m->w[0], m->w[0] != 0, m->w[1],
				       m->w[2], (unsigned)m->w[3], &at);
		if (!err)
			msg_put(r, at);
		return err;
	}
	case PD_DETACH:
		return m->nwords < 1 ? -EINVAL : pd_detach_addr(pd, m->w[0]);
	case PD_ALLOC_RPC_CAP:
		err = pd_session_alloc_gate(pd, cap0, &r->caps[0]);
		if (!err)
			r->ncaps = 1;
		return err;
	case PD_FREE_RPC_CAP:
		return pd_session_free_gate(pd, cap0);
	case PD_ALLOC_RPC_CAPS:
		return pd_session_alloc_gates_at(pd, cap0, m, r);
	case PD_CAP_MAP_REPORT:
		if (m->nwords < 2)
			return -EINVAL;
		pd->cap_map_addr = m->w[0];
		pd->cap_map_entries = m->w[1];
		pd->cr_report_addr = m->nwords > 2 ? m->w[2] : 0;
		pd->cr_abi_version = m->nwords > 3 ? m->w[3] : 0;
		return 0;
	case PD_CAP_MAP_INFO:
		msg_put(r, pd->cap_map_addr);
		msg_put(r, pd->cap_map_entries);
		msg_put(r, pd->cr_report_addr);
		msg_put(r, pd->cr_abi_version);
		return 0;
	case PD_MAP_CAP:
		return m->nwords < 1 ? -EINVAL : pd_session_map_cap(pd, cap0, m->w[0]);
	case PD_MAP_CAPS:
		return pd_session_map_caps(pd, m);
	case PD_ASSIGN_PARENT:
		return pd_session_map_cap(pd, cap0, KCAP(FIXED_PARENT));
	case PD_DERIVE_CAPS:
		return pd_session_derive_caps(pd, pd_session_from_cap(c, cap0), m);
	case PD_MAP_OUT:
		return pd_session_map_out(pd, m);
	case PD_ALLOC_GATES_MAPPED:
		return pd_session_alloc_gates_mapped(
		    pd, cap0, m->ncaps > 1 ? pd_session_from_cap(c, m->caps[1]) : NULL, m,
		    r);
	case PD_CAP_VALID:
		if (m->nwords < 1 || !pd_kcap_ok(m->w[0]))
			return -EINVAL;
		msg_put(r, pd_cap_valid(pd, m->w[0]));
		return 0;
	case PD_QUOTA:
		msg_put(r, pd->ram_quota);
		msg_put(r, pd->ram_used);
		msg_put(r, pd->cap_quota);
		msg_put(r, pd->cap_used);
		return 0;
	case PD_TRANSFER_QUOTA:
		if (m->nwords < 2)
			return -EINVAL;
		return pd_session_transfer(pd, pd_session_from_cap(c, cap0), m->w[0],
					   m->w[1]);
	case PD_DS_SIZE:
		ds = ds_from_cap(c, cap0);
		if (!ds)
			return -EINVAL;
		msg_put(r, ds->size);
		return 0;
	case PD_ALLOC_SIGNAL_SOURCE:
	case PD_FREE_SIGNAL_SOURCE:
	case PD_ALLOC_CONTEXT:
	case PD_FREE_CONTEXT:
	case PD_SUBMIT:
		return signal_pd_op(pd, m, r);
	case PD_ADDRESS_SPACE:
	case PD_STACK_AREA:
		return rm_pd_op(pd, m, r);
	}
	return -ENOSYS;
}

static void pd_dispatch(struct rpc_object *obj, struct msg *m)
{
	struct pd_session *pd = container_of(obj, struct pd_session, s.obj);
	struct msg r;

	if (core_reply_begin(
		m, m->code >= PD_ALLOC_RAM && m->code <= PD_ALLOC_GATES_MAPPED, &r))
		core_reply_end(m, &r, pd_op(pd, m, &r));
}

int pd_session_create(struct core *c, const char *args, struct pd_session *donor,
		      struct pd_session **out)
{
	struct pd_session *pd;
	char label[CORE_LABEL_MAX] = "";
	uint64_t native, ram, caps, badge;
	int err;

	if (session_arg_u64(args, "native", 0, &native) ||
	    session_arg_u64(args, "ram_quota", 0, &ram) ||
	    session_arg_u64(args, "cap_quota", 0, &caps) || native > 1)
		return -EINVAL;
	session_arg_str(args, "label", label, sizeof(label));
	if (donor && (ram > donor->ram_quota - donor->ram_used ||
		      caps > donor->cap_quota - donor->cap_used))
		return -EDQUOT;
	pd = calloc(1, sizeof(*pd));
	if (!pd)
		return -ENOMEM;
	pd->core = c;
	pd->native = (int)native;
	pd_rm_init(pd);
	badge = core_badge(c);
	err = badge ? kobj_create(FACTORY_TASK, native ? TASK_NATIVE : TASK_GUEST, 0,
				  badge, &pd->task)
		    : -ENOSPC;
	if (err)
		goto err;
	/* the task's own cap at FIXED_TASK, derived from core's: revoking
	 * core's cap takes it along */
	err = kobj_map(pd->task, pd->task, KCAP(FIXED_TASK), RIGHTS_ALL);
	if (err) {
		kobj_destroy(pd->task);
		goto err;
	}
	if (!cap_valid(ep_manage(c->env->ep, &pd->s.obj, pd_dispatch))) {
		kobj_destroy(pd->task);
		err = -ENOSPC;
		goto err;
	}
	pd->ram_quota = ram;
	pd->cap_quota = caps;
	if (donor) {
		donor->ram_quota -= ram;
		donor->cap_quota -= caps;
	}
	pd->s.donor = donor;
	core_session_add(c, &pd->s, &pd_session_ops, label);
	*out = pd;
	return 0;
err:
	rm_pd_release(pd);
	free(pd);
	return err;
}

void pd_session_destroy(struct pd_session *pd)
{
	struct core *c = pd->core;

	cpu_threads_of_pd_destroy(c, pd);
	pd->dying = 1; /* no thread runs in its task any more */
	signal_pd_release(pd);
	ds_payer_gone(c, pd);
	pd_memory_release(pd);
	while (pd->gates)
		pd_session_free_gate(pd, pd->gates->cap);
	while (pd->held) {
		struct pd_gate *h = pd->held;
		pd->held = h->next;
		cap_release(h->cap);
		free(h);
	}
	kobj_destroy(pd->task);
	if (pd->s.donor) {
		pd->s.donor->ram_quota += pd->ram_quota;
		pd->s.donor->cap_quota += pd->cap_quota;
	}
	/* quota this PD gave away cannot come back to it any more */
	for (struct core_session *s = c->sessions; s; s = s->next)
		if (s->donor == pd)
			s->donor = NULL;
	core_session_remove(c, &pd->s);
	ep_dissolve(c->env->ep, &pd->s.obj);
	free(pd);
}

/* ---- the session type ---- */

static int pd_ops_create(struct core *c, const char *args, struct pd_session *donor,
			 struct core_session **out)
{
	struct pd_session *pd;
	int err = pd_session_create(c, args, donor, &pd);

	if (!err)
		*out = &pd->s;
	return err;
}

static void pd_ops_close(struct core *c, struct core_session *s)
{
	pd_session_destroy(container_of(s, struct pd_session, s));
}

static int pd_ops_upgrade(struct core_session *s, struct pd_session *from, uint64_t ram,
			  uint64_t caps)
{
	return pd_session_transfer(from, container_of(s, struct pd_session, s), ram,
				   caps);
}

static void pd_ops_forget_refs(struct core_session *s)
{
	pd_memory_forget(container_of(s, struct pd_session, s));
}

static void pd_ops_forget(struct core_session *s)
{
	struct pd_session *pd = container_of(s, struct pd_session, s);

	signal_pd_forget(pd);
	for (struct pd_gate *g = pd->gates, *n; g; g = n) {
		n = g->next;
		free(g);
	}
	for (struct pd_gate *g = pd->held, *n; g; g = n) {
		n = g->next;
		free(g);
	}
	free(pd);
}

const struct core_session_ops pd_session_ops = {
    .name = "PD",
    .create = pd_ops_create,
    .close = pd_ops_close,
    .upgrade = pd_ops_upgrade,
    .forget_refs = pd_ops_forget_refs,
    .forget = pd_ops_forget,
};
