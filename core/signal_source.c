/*
 * Signal sources and contexts (docs/design.md "Signals", seed 002), the
 * PD session's signal ops.
 *
 * A signal source is an RPC object of core (SIGNAL_WAIT, SIGNAL_SEMAPHORE)
 * with a semaphore: a kernel irq made with FACTORY_IRQ that the component
 * binds to its signal handler thread.  A signal context is a gate to core
 * whose imprint is chosen by the component (the address of its local
 * handler).  submit counts on the context and, if the context was not
 * queued yet, queues it on its source and triggers the semaphore once;
 * SIGNAL_WAIT dequeues one context and answers (imprint, count), or
 * (0, 0) when nothing is queued.
 *
 * Ownership: a source belongs to the PD session that allocated it; a
 * context to its source.  Only that PD may allocate contexts on the
 * source and free them; anybody holding a context cap may submit to it.
 * A source costs 2 caps of the PD's quota (gate + irq), a context 1; all
 * go back when they are freed, at the latest with the PD session.
 *
 * Contexts are found from a cap by its badge in core's object pool; other
 * parts of core (timer, region-map fault handlers) keep only the badge and
 * submit through signal_submit_badge(), so a context freed meanwhile is
 * simply not found.  Submitting may run on core's timer thread: every
 * update is done before the one kernel call (IRQ_TRIGGER) at the end.
 */
#include <errno.h>
#include <stdlib.h>
#include "core/core_internal.h"

#define SOURCE_CAPS  2 /* gate + semaphore irq */
#define CONTEXT_CAPS 1

struct signal_source;

/* Invariant: obj is in core's pool while the context lives; queued iff
 * it is on src's pending queue, and then count > 0. */
struct signal_context {
	struct rpc_object obj;	      /* the context cap: a gate to core */
	struct signal_context *next;  /* in src->contexts */
	struct signal_context *qnext; /* in src's pending queue */
	struct signal_source *src;
	uint64_t imprint; /* never 0 */
	uint64_t count;
	int queued;
};

/* Invariant: obj is in core's pool and the source on pd->signal_sources
 * while it lives; irq_kcap is the kcap of irq in core. */
struct signal_source {
	struct rpc_object obj; /* the source cap */
	struct signal_source *next;
	struct pd_session *pd;
	cap_t irq;	   /* the semaphore */
	uint64_t irq_kcap; /* for core's timer thread, which has no cap map */
	struct signal_context *contexts;
	struct signal_context *head, *tail; /* pending, FIFO */
};

static void source_dispatch(struct rpc_object *obj, struct msg *m);
static void context_dispatch(struct rpc_object *obj, struct msg *m);

static struct signal_context *context_of_badge(struct core *c, uint64_t badge)
{
	struct rpc_object *o = badge ? ep_lookup(c->env->ep, badge) : NULL;

	return o && o->dispatch == context_dispatch
		   ? container_of(o, struct signal_context, obj)
		   : NULL;
}

static struct signal_context *context_of_cap(struct core *c, cap_t cap)
{
	return cap_valid(cap) ? context_of_badge(c, cap_badge(cap)) : NULL;
}

/* The source named by cap if it belongs to pd, else NULL. */
static struct signal_source *source_of_cap(struct pd_session *pd, cap_t cap)
{
	struct rpc_object *o =
	    cap_valid(cap) ? ep_lookup(pd->core->env->ep, cap_badge(cap)) : NULL;
	struct signal_source *src;

	if (!o || o->dispatch != source_dispatch)
		return NULL;
	src = container_of(o, struct signal_source, obj);
	return src->pd == pd ? src : NULL;
}

uint64_t signal_context_badge(struct core *c, cap_t cap)
{
	struct signal_context *ctx = context_of_cap(c, cap);

	return ctx ? ctx->obj.badge : 0;
}

/* Count n on ctx; queue it and trigger the semaphore if newly queued. */
static void context_submit(struct signal_context *ctx, uint64_t n)
{
	struct signal_source *src = ctx->src;
	uint64_t w = IRQ_TRIGGER;

	ctx->count = ctx->count + n < ctx->count ? UINT64_MAX : ctx->count + n;
	if (ctx->queued)
		return;
	ctx->queued = 1;
	ctx->qnext = NULL;
	if (src->tail)
		src->tail->qnext = ctx;
	else
		src->head = ctx;
	src->tail = ctx;
	/* last: the trigger may let other core threads run */
	kobj_invoke(src->irq_kcap, PROTO_IRQ, &w, 1, NULL, 0);
}

int signal_submit_badge(struct core *c, uint64_t badge, uint64_t count)
{
	struct signal_context *ctx = context_of_badge(c, badge);

	if (!ctx || !count)
		return -EINVAL;
	context_submit(ctx, count);
	return 0;
}

static struct signal_context *source_dequeue(struct signal_source *src)
{
	struct signal_context *ctx = src->head;

	if (!ctx)
		return NULL;
	src->head = ctx->qnext;
	if (!src->head)
		src->tail = NULL;
	ctx->qnext = NULL;
	ctx->queued = 0;
	return ctx;
}

static void source_unqueue(struct signal_source *src, struct signal_context *ctx)
{
	struct signal_context **pp;

	if (!ctx->queued)
		return;
	for (pp = &src->head; *pp && *pp != ctx; pp = &(*pp)->qnext)
		;
	if (!*pp)
		return;
	*pp = ctx->qnext;
	if (src->tail == ctx) {
		src->tail = NULL;
		for (struct signal_context *q = src->head; q; q = q->qnext)
			src->tail = q;
	}
	ctx->qnext = NULL;
	ctx->queued = 0;
}

static void source_dispatch(struct rpc_object *obj, struct msg *m)
{
	struct signal_source *src = container_of(obj, struct signal_source, obj);
	struct signal_context *ctx;

	switch (m->code) {
	case SIGNAL_WAIT:
		ctx = source_dequeue(src);
		msg_reset(m, RPC_OK);
		msg_put(m, ctx ? ctx->imprint : 0);
		msg_put(m, ctx ? ctx->count : 0);
		if (ctx)
			ctx->count = 0;
		return;
	case SIGNAL_SEMAPHORE:
		msg_reset(m, RPC_OK);
		msg_put_cap(m, src->irq);
		return;
	}
	msg_reset(m, RPC_INVALID_OPCODE);
}

/* A context is only a name for submit (through the PD session): any
 * request sent to it, e.g. a SIGNAL_WAIT meant for a source, is refused. */
static void context_dispatch(struct rpc_object *obj, struct msg *m)
{
	core_reply_err(m, -EINVAL);
}

static void context_free(struct signal_context *ctx)
{
	struct signal_source *src = ctx->src;
	struct pd_session *pd = src->pd;

	source_unqueue(src, ctx);
	for (struct signal_context **pp = &src->contexts; *pp; pp = &(*pp)->next) {
		if (*pp == ctx) {
			*pp = ctx->next;
			break;
		}
	}
	ep_dissolve(pd->core->env->ep, &ctx->obj); /* revokes every copy */
	pd_uncharge_caps(pd, CONTEXT_CAPS);
	free(ctx);
}

static int context_alloc(struct pd_session *pd, struct signal_source *src,
			 uint64_t imprint, struct msg *r)
{
	struct signal_context *ctx;
	int err;

	if (!imprint)
		return -EINVAL;
	err = pd_charge_caps(pd, CONTEXT_CAPS);
	if (err)
		return err;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		err = -ENOMEM;
		goto err;
	}
	if (!cap_valid(ep_manage(pd->core->env->ep, &ctx->obj, context_dispatch))) {
		err = -ENOSPC;
		goto err;
	}
	ctx->src = src;
	ctx->imprint = imprint;
	ctx->next = src->contexts;
	src->contexts = ctx;
	msg_put_cap(r, ctx->obj.cap);
	return 0;
err:
	free(ctx);
	pd_uncharge_caps(pd, CONTEXT_CAPS);
	return err;
}

static void source_free(struct signal_source *src)
{
	struct pd_session *pd = src->pd;

	while (src->contexts)
		context_free(src->contexts);
	for (struct signal_source **pp = &pd->signal_sources; *pp; pp = &(*pp)->next) {
		if (*pp == src) {
			*pp = src->next;
			break;
		}
	}
	ep_dissolve(pd->core->env->ep, &src->obj);
	kobj_destroy(src->irq);
	pd_uncharge_caps(pd, SOURCE_CAPS);
	free(src);
}

static int source_alloc(struct pd_session *pd, struct msg *r)
{
	struct core *c = pd->core;
	struct signal_source *src;
	uint64_t badge;
	int err;

	err = pd_charge_caps(pd, SOURCE_CAPS);
	if (err)
		return err;
	src = calloc(1, sizeof(*src));
	badge = src ? core_badge(c) : 0;
	if (!src || !badge) {
		err = src ? -ENOSPC : -ENOMEM;
		goto err;
	}
	err = kobj_create(FACTORY_IRQ, 0, 0, badge, &src->irq);
	if (err)
		goto err;
	if (!cap_valid(ep_manage(c->env->ep, &src->obj, source_dispatch))) {
		kobj_destroy(src->irq);
		err = -ENOSPC;
		goto err;
	}
	src->irq_kcap = cap_kcap(src->irq);
	src->pd = pd;
	src->next = pd->signal_sources;
	pd->signal_sources = src;
	msg_put_cap(r, src->obj.cap);
	return 0;
err:
	free(src);
	pd_uncharge_caps(pd, SOURCE_CAPS);
	return err;
}

/* The context named by cap if its source belongs to pd, else NULL. */
static struct signal_context *own_context(struct pd_session *pd, cap_t cap)
{
	struct signal_context *ctx = context_of_cap(pd->core, cap);

	return ctx && ctx->src->pd == pd ? ctx : NULL;
}

int signal_pd_op(struct pd_session *pd, const struct msg *m, struct msg *r)
{
	cap_t cap0 = m->ncaps ? m->caps[0] : CAP_INVALID;
	struct signal_source *src;
	struct signal_context *ctx;

	switch (m->code) {
	case PD_ALLOC_SIGNAL_SOURCE:
		return source_alloc(pd, r);
	case PD_FREE_SIGNAL_SOURCE:
		src = source_of_cap(pd, cap0);
		if (!src)
			return -EINVAL;
		source_free(src);
		return 0;
	case PD_ALLOC_CONTEXT:
		src = source_of_cap(pd, cap0);
		if (!src || m->nwords < 1)
			return -EINVAL;
		return context_alloc(pd, src, m->w[0], r);
	case PD_FREE_CONTEXT:
		ctx = own_context(pd, cap0);
		if (!ctx)
			return -EINVAL;
		context_free(ctx);
		return 0;
	case PD_SUBMIT:
		ctx = context_of_cap(pd->core, cap0);
		if (!ctx || m->nwords < 1 || !m->w[0])
			return -EINVAL;
		context_submit(ctx, m->w[0]);
		return 0;
	}
	return -ENOSYS;
}

void signal_pd_release(struct pd_session *pd)
{
	while (pd->signal_sources)
		source_free(pd->signal_sources);
}

void signal_pd_forget(struct pd_session *pd)
{
	for (struct signal_source *src = pd->signal_sources, *n; src; src = n) {
		n = src->next;
		for (struct signal_context *ctx = src->contexts, *cn; ctx; ctx = cn) {
			cn = ctx->next;
			free(ctx);
		}
		free(src);
	}
	pd->signal_sources = NULL;
}
