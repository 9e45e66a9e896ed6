/*
 * The entrypoint: object pool, gates from the rpc cap factory, the exit
 * object, irq handlers, deferred work and the server loop.
 *
 * Dispatch rule (docs/design.md): a request names its destination badge in
 * mr[0]; the kernel delivers the gate label (badge | rights).  The
 * request is served only if mr[0] == label & ~3 and that badge is in the
 * pool, else it is answered RPC_INVALID_OBJECT.  Caps received with a
 * request belong to the request: they are released once the reply is out
 * (a handler that keeps one takes its own reference with cap_ref).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "platform.h"

#define AVL_PREFIX pool_avl
#define AVL_TYPE   struct rpc_object
#define AVL_KEY(n) ((n)->badge)
#include "avl_tmpl.h"

/* Caps of the request being served, released after its reply. */
struct ep_request {
	cap_t caps[MSG_MAX_ITEMS];
	unsigned ncaps;
};

struct entrypoint *ep_main(void)
{
	return &base_state()->ep;
}

static int ep_gate_alloc(struct entrypoint *ep, cap_t *gate)
{
	if (ep->nspare) {
		*gate = ep->spare[--ep->nspare];
		return 0;
	}
	if (ep->factory)
		return ep->factory->alloc(ep->factory->ctx, ep->thread, gate);
	return pd_alloc_rpc_cap(ep->env->pd, ep->thread, gate);
}

/* Give the gate back; consumes our reference to it. */
static void ep_gate_free(struct entrypoint *ep, cap_t gate)
{
	if (ep->factory) {
		ep->factory->free(ep->factory->ctx, gate);
		return;
	}
	pd_free_rpc_cap(ep->env->pd, gate);
	cap_release(gate);
}

/* One call for all n (EP_SPARE_MAX <= TASK_MAP_OUT_MAX): core maps the
 * gates into free slots of our cap map and answers their badges, where
 * a reply's caps (MSG_MAX_ITEMS a call) cost a move and an unmap each. */
_Static_assert(EP_SPARE_MAX <= TASK_MAP_OUT_MAX, "ep_reserve: one call");

int ep_reserve(struct entrypoint *ep, unsigned n)
{
	cap_t g[EP_SPARE_MAX];
	unsigned k;
	int err;

	if (!ep || ep->factory || n > EP_SPARE_MAX)
		return -EINVAL;
	if (ep->nspare >= n)
		return 0;
	k = n - ep->nspare;
	if ((err = pd_alloc_gates_mapped(ep->env->pd, ep->thread, k, g)))
		return err;
	/* (the count is read again: the call may have let the entrypoint
	 * itself take one) */
	for (unsigned i = 0; i < k; i++)
		if (ep->nspare < EP_SPARE_MAX)
			ep->spare[ep->nspare++] = g[i];
		else
			ep_gate_free(ep, g[i]);
	return 0;
}

void ep_unreserve(struct entrypoint *ep)
{
	while (ep && ep->nspare)
		ep_gate_free(ep, ep->spare[--ep->nspare]);
}

/* obj->badge is outside the cap map and, until it is in the pool (whose
 * badges a restore rewrites), outside what a restore fixes: a span a
 * checkpoint does not cut (cap_badges_hold); so is a removal that walks
 * the pool with it. */
cap_t ep_manage(struct entrypoint *ep, struct rpc_object *obj, rpc_dispatch_t fn)
{
	uint64_t held;
	cap_t gate;
	int err;

	if (!ep || !obj || !fn || ep_gate_alloc(ep, &gate))
		return CAP_INVALID;
	if (!cap_valid(gate))
		return CAP_INVALID;
	memset(obj, 0, sizeof(*obj));
	held = cap_badges_hold();
	obj->badge = cap_badge(gate);
	obj->cap = gate;
	obj->dispatch = fn;
	err = pool_avl_insert(&ep->pool, obj);
	cap_badges_done(held);
	if (err) {
		ep_gate_free(ep, gate);
		memset(obj, 0, sizeof(*obj));
		return CAP_INVALID;
	}
	return gate;
}

void ep_dissolve(struct entrypoint *ep, struct rpc_object *obj)
{
	uint64_t held;
	int found;

	if (!ep || !obj)
		return;
	held = cap_badges_hold();
	found = pool_avl_find(ep->pool, obj->badge) == obj;
	if (found)
		pool_avl_remove(&ep->pool, obj);
	cap_badges_done(held);
	if (!found)
		return;
	ep_gate_free(ep, obj->cap);
	obj->cap = CAP_INVALID;
	obj->badge = 0;
}

struct rpc_object *ep_lookup(struct entrypoint *ep, uint64_t badge)
{
	return ep ? pool_avl_find(ep->pool, badge) : NULL;
}

void ep_defer(struct entrypoint *ep, void (*fn)(void *), void *arg)
{
	if (ep->ndefer == EP_DEFER_MAX) {
		/* full: run the oldest now rather than lose it */
		struct ep_deferred d = ep->defer[0];

		memmove(&ep->defer[0], &ep->defer[1], (EP_DEFER_MAX - 1) * sizeof(d));
		ep->ndefer--;
		d.fn(d.arg);
	}
	ep->defer[ep->ndefer++] = (struct ep_deferred){fn, arg};
}

static void ep_run_deferred(struct entrypoint *ep)
{
	while (ep->ndefer) {
		struct ep_deferred d = ep->defer[0];

		memmove(&ep->defer[0], &ep->defer[1], (ep->ndefer - 1) * sizeof(d));
		ep->ndefer--;
		d.fn(d.arg);
	}
}

/* Twice the irq slots (the new ones free). */
static int ep_irqs_grow(struct entrypoint *ep)
{
	unsigned n = ep->nirqs ? 2 * ep->nirqs : EP_IRQ_FIRST;
	struct ep_irq *a = malloc(n * sizeof *a);

	if (!a)
		return -ENOMEM;
	memset(a, 0, n * sizeof *a);
	if (ep->nirqs)
		memcpy(a, ep->irqs, ep->nirqs * sizeof *a);
	free(ep->irqs);
	ep->irqs = a;
	ep->nirqs = n;
	return 0;
}

/* The last irq went: free the table.  It grew to the most irqs bound at
 * once (init binds one per running child, 12 kB for 400) and stayed
 * after they had gone, in init's entrypoint after init had exited. */
static void ep_irqs_shrink(struct entrypoint *ep)
{
	for (unsigned i = 0; i < ep->nirqs; i++)
		if (cap_valid(ep->irqs[i].irq))
			return;
	free(ep->irqs);
	ep->irqs = NULL;
	ep->nirqs = 0;
}

int ep_irq_handler(struct entrypoint *ep, cap_t irq, void (*fn)(void *), void *arg)
{
	struct utcb *u = sys_utcb();
	uint64_t label, tag;
	unsigned i;

	if (!ep || !fn || !cap_valid(irq))
		return -EINVAL;
	for (i = 0; i < ep->nirqs && cap_valid(ep->irqs[i].irq); i++)
		;
	if (i == ep->nirqs && ep_irqs_grow(ep))
		return -ENOMEM;
	u->mr[0] = IRQ_BIND;
	u->mr[1] = cap_kcap(ep->thread);
	u->mr[2] = EP_IRQ_LABEL(i);
	tag = sys_invoke(cap_kcap(irq), TAG(SYS_OP_CALL, PROTO_IRQ, 3, 0),
			 SYS_TIMEOUT_NEVER, &label);
	if (TAG_ERROR(tag))
		return kerr_to_errno(TAG_ERROR(tag));
	ep->irqs[i] = (struct ep_irq){cap_ref(irq), fn, arg};
	return 0;
}

int ep_irq_dissolve(struct entrypoint *ep, cap_t irq)
{
	uint64_t label;

	for (unsigned i = 0; ep && i < ep->nirqs; i++) {
		if (!cap_valid(ep->irqs[i].irq) || ep->irqs[i].irq.idx != irq.idx)
			continue;
		sys_utcb()->mr[0] = IRQ_UNBIND;
		/* the irq may be gone with its session already: nothing to undo */
		sys_invoke(cap_kcap(irq), TAG(SYS_OP_CALL, PROTO_IRQ, 1, 0),
			   SYS_TIMEOUT_NEVER, &label);
		cap_release(ep->irqs[i].irq);
		ep->irqs[i] = (struct ep_irq){0};
		ep_irqs_shrink(ep);
		return 0;
	}
	return -ENOENT;
}

/* The exit object: any request ends ep_run once it is answered. */
static void ep_exit_dispatch(struct rpc_object *obj, struct msg *m)
{
	struct entrypoint *ep =
	    (struct entrypoint *)((char *)obj - offsetof(struct entrypoint, exit_obj));

	ep->exit_requested = 1;
	msg_reset(m, RPC_OK);
}

/* The signal-proxy object: the signal handler thread calls it with
 * (imprint, count) so that the handler runs here, on the entrypoint. */
static void ep_signal_proxy_dispatch(struct rpc_object *obj, struct msg *m)
{
	int err;

	if (m->code != EP_SIGNAL_PROXY_DELIVER || m->nwords < 2) {
		msg_reset(m, RPC_INVALID_OPCODE);
		return;
	}
	err = signal_deliver(m->w[0], m->w[1]);
	msg_reset(m, err ? RPC_ERROR : RPC_OK);
	if (err)
		msg_put(m, (uint64_t)(int64_t)err);
}

/* The constructor object: while it exists the component is being
 * constructed; asking it says so. */
static void ep_constructor_dispatch(struct rpc_object *obj, struct msg *m)
{
	msg_reset(m, RPC_OK);
	msg_put(m, 1);
}

int ep_init(struct entrypoint *ep, struct env *env, cap_t thread, struct base_thread *bt,
	    const struct rpc_cap_factory *factory)
{
	memset(ep, 0, sizeof(*ep));
	ep->magic = EP_MAGIC;
	ep->thread = thread;
	ep->bt = bt;
	ep->env = env;
	ep->factory = factory;
	bt->ep = ep;
	cr_report_add_ep(base_state(), ep);
	if (!cap_valid(ep_manage(ep, &ep->exit_obj, ep_exit_dispatch)))
		goto err;
	if (!cap_valid(ep_manage(ep, &ep->signal_proxy_obj, ep_signal_proxy_dispatch))) {
		ep_dissolve(ep, &ep->exit_obj);
		goto err;
	}
	return 0;
err:
	cr_report_remove_ep(base_state(), ep);
	bt->ep = NULL;
	ep->magic = 0;
	return -ENOSPC;
}

/* ep_create's handshake with the new thread: it sets up its entrypoint
 * (its gates are bound to it) and reports before it serves. */
struct ep_start {
	struct entrypoint *ep;
	struct env *env;
	struct blockade ready;
	int err;
};

static void ep_thread(void *arg)
{
	struct ep_start *st = arg;
	struct entrypoint *ep = st->ep;
	struct thread *self = thread_self();

	int err = self ? ep_init(ep, st->env, self->bt->self, self->bt, NULL) : -ESRCH;

	st->err = err;
	blockade_wakeup(&st->ready); /* st (and on error ep) is gone after this */
	if (!err)
		ep_run(ep);
}

int ep_create(struct env *env, const char *name, struct entrypoint **out)
{
	struct ep_start st = {.env = env};
	struct thread *t;
	int err;

	if (!env || !out)
		return -EINVAL;
	st.ep = calloc(1, sizeof(*st.ep));
	if (!st.ep)
		return -ENOMEM;
	err = thread_create(env, name, ep_thread, &st, 0, &t);
	if (!err) {
		blockade_block(&st.ready);
		err = st.err;
	}
	if (err) {
		if (st.err) /* the thread ended; t is joined with the component */
			thread_join(t);
		free(st.ep);
		return err;
	}
	*out = st.ep;
	return 0;
}

void ep_construct(struct entrypoint *ep, void (*construct)(struct env *, void *),
		  struct env *env, void *arg)
{
	/* without a constructor cap (no quota) the component still starts */
	ep->constructing =
	    cap_valid(ep_manage(ep, &ep->constructor_obj, ep_constructor_dispatch));
	construct(env, arg);
	if (ep->constructing)
		ep_dissolve(ep, &ep->constructor_obj);
	ep->constructing = 0;
}

cap_t ep_exit_cap(struct entrypoint *ep)
{
	return ep->exit_obj.cap;
}

cap_t ep_signal_proxy_cap(struct entrypoint *ep)
{
	return ep->signal_proxy_obj.cap;
}

cap_t ep_constructor_cap(struct entrypoint *ep)
{
	return ep->constructing ? ep->constructor_obj.cap : CAP_INVALID;
}

static void ep_handle_irq(struct entrypoint *ep, uint64_t label)
{
	uint64_t i = EP_IRQ_INDEX(label);

	if (i < ep->nirqs && label == EP_IRQ_LABEL(i) && cap_valid(ep->irqs[i].irq))
		ep->irqs[i].fn(ep->irqs[i].arg);
}

/* Decode, look up and dispatch one request; m becomes the reply. */
static void ep_dispatch(struct entrypoint *ep, struct utcb *u, uint64_t tag,
			uint64_t label, struct msg *m, struct ep_request *req)
{
	uint64_t dst, badge = label & ~(uint64_t)LABEL_RIGHTS_MASK;
	struct rpc_object *obj;

	req->ncaps = 0;
	if (msg_from_utcb(u, tag, m, &dst)) {
		msg_reset(m, RPC_ERROR);
		msg_put(m, (uint64_t)(int64_t)-EINVAL);
		return;
	}
	req->ncaps = m->ncaps;
	memcpy(req->caps, m->caps, m->ncaps * sizeof(cap_t));
	obj = dst == badge ? ep_lookup(ep, badge) : NULL;
	if (!obj) {
		msg_reset(m, RPC_INVALID_OBJECT);
		return;
	}
	obj->dispatch(obj, m);
}

int ep_handle(struct entrypoint *ep, struct utcb *u, uint64_t tag, uint64_t label,
	      uint64_t *reply)
{
	struct ep_request req = {.ncaps = 0};
	struct msg m;

	if (TAG_WORDS(tag) == 0 && TAG_ITEMS(tag) == 0 && (label >> 63)) {
		ep_handle_irq(ep, label);
		return 0;
	}
	ep_dispatch(ep, u, tag, label, &m, &req);
	/* Release the request's caps now, before the reply is in the UTCB
	 * (a last release unmaps, which uses the UTCB); one the reply still
	 * carries waits until the reply is out.  Whether a release will be
	 * the last one is not asked: another thread of the component may
	 * drop its reference meanwhile. */
	for (unsigned i = 0; i < req.ncaps; i++) {
		int in_reply = 0;

		for (unsigned j = 0; j < m.ncaps; j++)
			in_reply |= m.caps[j].idx == req.caps[i].idx;
		if (in_reply && req.caps[i].idx)
			ep->late_release[ep->nlate++] = req.caps[i];
		else
			cap_release(req.caps[i]);
	}
	*reply = msg_to_utcb(u, &m, m.code);
	return 1;
}

/* Work that must follow a sent reply: late releases, deferred calls. */
static void ep_after_reply(struct entrypoint *ep)
{
	while (ep->nlate)
		cap_release(ep->late_release[--ep->nlate]);
	ep_run_deferred(ep);
}

void ep_run(struct entrypoint *ep)
{
	struct utcb *u = sys_utcb();
	uint64_t reply = 0, tag, label;
	int have_reply = 0;

	for (;;) {
		if (have_reply && (ep->nlate || ep->ndefer || ep->exit_requested)) {
			sys_invoke(KCAP_INVALID, reply | TAG(SYS_OP_REPLY, 0, 0, 0), 0,
				   &label);
			have_reply = 0;
		}
		if (!have_reply)
			ep_after_reply(ep);
		if (ep->exit_requested) {
			ep->exit_requested = 0;
			return;
		}
		u->br[0] = ep->bt->window;
		tag = sys_invoke(KCAP_INVALID,
				 have_reply ? reply | TAG(SYS_OP_REPLY_WAIT, 0, 0, 0)
					    : TAG(SYS_OP_WAIT, 0, 0, 0),
				 SYS_TIMEOUT_NEVER, &label);
		have_reply = 0;
		if (TAG_ERROR(tag))
			continue;
		have_reply = ep_handle(ep, u, tag, label, &reply);
	}
}

void ep_pool_rebuild(struct entrypoint *ep)
{
	struct rpc_object *n = pool_avl_to_list(&ep->pool);

	while (n) {
		struct rpc_object *next = n->parent;

		if (cap_valid(n->cap))
			n->badge = cap_badge(n->cap);
		/* a duplicate badge cannot be served: it stays out of the pool */
		pool_avl_insert(&ep->pool, n);
		n = next;
	}
}

/* Every object's badge must still be its cap's id. */
static int ep_pool_badges_ok(const struct rpc_object *n)
{
	if (!n)
		return 1;
	if (cap_valid(n->cap) && cap_badge(n->cap) != n->badge)
		return 0;
	return ep_pool_badges_ok(n->left) && ep_pool_badges_ok(n->right);
}

int ep_pool_check(struct entrypoint *ep)
{
	uint64_t count;

	if (pool_avl_check(ep->pool, &count) || !ep_pool_badges_ok(ep->pool))
		return -1;
	if (ep->exit_obj.badge &&
	    pool_avl_find(ep->pool, ep->exit_obj.badge) != &ep->exit_obj)
		return -1;
	if (ep->signal_proxy_obj.badge &&
	    pool_avl_find(ep->pool, ep->signal_proxy_obj.badge) != &ep->signal_proxy_obj)
		return -1;
	return 0;
}
