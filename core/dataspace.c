/*
 * Dataspaces: page-aligned, zero-filled host memory, each an RPC object
 * of core (DS_SIZE, dirty-page tracking of RAM dataspaces with
 * DS_DIRTY_*, core/dirty.h, and lazy filling with DS_LAZY_*,
 * core/ds_lazy.c).  The same host memory is mapped into every
 * task that attaches it (TASK_MAP_MEM), so a dataspace's memory must outlive its
 * last attachment even when its owner frees it: refs counts the owner and
 * the attachments.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include "core/core_internal.h"
#include "core/dirty.h"

/* The PD whose RAM ds is (UTCB pages are core's, on a PD's behalf), or
 * NULL: ROM dataspaces belong to no PD. */
static struct pd_session *ds_owner(struct dataspace *ds)
{
	if (ds->pinned || !ds->writable)
		return NULL;
	for (struct core_session *s = ds->core->sessions; s; s = s->next) {
		struct pd_session *pd;

		if (s->ops != &pd_session_ops)
			continue;
		pd = container_of(s, struct pd_session, s);
		for (struct dataspace *d = pd->ram; d; d = d->next)
			if (d == ds)
				return pd;
	}
	return NULL;
}

static uint64_t ds_track_charge(struct dataspace *ds)
{
	return PAGE_ROUND(dirty_bitmap_bytes(ds->size / PAGE_SIZE));
}

/* Who pays for a bitmap core keeps for ds: the PD session of cap capi
 * of the request if it has one (a checkpointer pays for what it asks,
 * so that its target's quota stays as the target left it), else the
 * dataspace's own PD.  NULL with *err. */
static struct pd_session *ds_payer(struct dataspace *ds, const struct msg *m,
				   unsigned capi, int *err)
{
	struct pd_session *pd = ds_owner(ds);

	*err = -EPERM;
	if (!pd)
		return NULL; /* only a PD's RAM is tracked or lazy */
	if (m->ncaps <= capi)
		return pd;
	pd = pd_session_from_cap(ds->core, m->caps[capi]);
	*err = -EINVAL;
	return pd;
}

static int ds_track_start(struct dataspace *ds, const struct msg *m, struct msg *r)
{
	struct dirty_range *dr;
	int err;
	struct pd_session *pd = ds_payer(ds, m, 0, &err);

	if (!pd)
		return err;
	if (ds->dirty_payer || ds->lazy)
		return -EBUSY; /* a lazy one's absent pages are not the target's yet */
	if ((err = pd_charge_ram(pd, ds_track_charge(ds))))
		return err;
	err = m->nwords && m->w[0] == DS_DIRTY_BACKGROUND
		  ? dirty_start_background(ds->host, ds->size / PAGE_SIZE, ds, &dr)
		  : dirty_start(ds->host, ds->size / PAGE_SIZE, ds, &dr);
	if (err) {
		pd_uncharge_ram(pd, ds_track_charge(ds));
		return err;
	}
	ds->dirty_payer = pd;
	msg_put(r, ds->size / PAGE_SIZE);
	return 0;
}

static int ds_track_fetch(struct dataspace *ds, const struct msg *m, struct msg *r)
{
	struct dirty_range *dr = ds->dirty_payer ? dirty_find(ds) : NULL;
	uint64_t bits[MSG_MAX_WORDS], dirty, flags, bare;
	unsigned n;
	int err;

	if (!dr)
		return -ENOENT;
	flags = m->nwords > 2 ? m->w[2] : 0;
	bare = flags & DS_DIRTY_BARE;
	flags &= ~(uint64_t)DS_DIRTY_BARE;
	if (m->nwords < 2 || !m->w[1] ||
	    m->w[1] > (bare ? MSG_MAX_WORDS : DS_DIRTY_WORDS))
		return -EINVAL;
	n = (unsigned)m->w[1];
	if (flags != 0 && flags != DS_DIRTY_PEEK && flags != DS_DIRTY_TAKE)
		return -EINVAL;
	err = flags == DS_DIRTY_PEEK   ? dirty_peek(dr, m->w[0], &n, bits, &dirty)
	      : flags == DS_DIRTY_TAKE ? dirty_take(dr, m->w[0], &n, bits, &dirty)
				       : dirty_fetch(dr, m->w[0], &n, bits, &dirty);
	if (err)
		return err;
	if (!bare)
		msg_put(r, dirty);
	for (unsigned i = 0; i < n; i++)
		msg_put(r, bits[i]);
	return 0;
}

/* Tracking off and its quota back to whoever paid; unmapping: the
 * memory goes next, its pages need not be writable again.  0 or -errno. */
static int ds_track_end(struct dataspace *ds, int unmapping)
{
	struct dirty_range *dr = ds->dirty_payer ? dirty_find(ds) : NULL;
	int err;

	if (!dr)
		return -ENOENT;
	if ((err = unmapping ? dirty_stop_unmapping(dr) : dirty_stop(dr)))
		return err;
	pd_uncharge_ram(ds->dirty_payer, ds_track_charge(ds));
	ds->dirty_payer = NULL;
	return 0;
}

/* DS_LAZY_*: lazy dataspaces (ds_lazy.c). */
static int ds_lazy_op(struct dataspace *ds, const struct msg *m, struct msg *r)
{
	uint64_t pages[DS_LAZY_WANTED_MAX], absent;
	struct pd_session *payer;
	unsigned n;
	int err;

	switch (m->code) {
	case DS_LAZY_START:
		if (!(payer = ds_payer(ds, m, 1, &err)))
			return err;
		err = lazy_start(
		    ds, payer,
		    signal_context_badge(ds->core, m->ncaps ? m->caps[0] : CAP_INVALID));
		if (!err)
			msg_put(r, ds->size / PAGE_SIZE);
		return err;
	case DS_LAZY_WANTED:
		if (!ds->lazy)
			return -ENOENT;
		msg_put(r, lazy_wanted(ds, pages, DS_LAZY_WANTED_MAX, &n));
		for (unsigned i = 0; i < n; i++)
			msg_put(r, pages[i]);
		return 0;
	case DS_LAZY_FILLED:
		if (m->nwords < 2)
			return -EINVAL;
		if ((err = lazy_filled(ds->core, ds, m->w[0], m->w[1], &absent)))
			return err;
		msg_put(r, absent);
		return 0;
	}
	return -ENOSYS;
}

static int ds_op(struct dataspace *ds, const struct msg *m, struct msg *r)
{
	switch (m->code) {
	case DS_LAZY_START:
	case DS_LAZY_WANTED:
	case DS_LAZY_FILLED:
		return ds_lazy_op(ds, m, r);
	case DS_SIZE:
		msg_put(r, ds->size);
		return 0;
	case DS_DIRTY_START:
		return ds_track_start(ds, m, r);
	case DS_DIRTY_FETCH:
		return ds_track_fetch(ds, m, r);
	case DS_DIRTY_STOP:
		return ds_track_end(ds, 0);
	case DS_DIRTY_REARM:
		return ds->dirty_payer && dirty_find(ds) ? dirty_rearm(dirty_find(ds))
							 : -ENOENT;
	}
	return -ENOSYS;
}

static void ds_dispatch(struct rpc_object *obj, struct msg *m)
{
	struct dataspace *ds = container_of(obj, struct dataspace, obj);
	struct msg r;

	if (core_reply_begin(
		m,
		m->code == DS_SIZE ||
		    (m->code >= DS_DIRTY_START && m->code <= DS_DIRTY_REARM) ||
		    (m->code >= DS_LAZY_START && m->code <= DS_LAZY_FILLED),
		&r))
		core_reply_end(m, &r, ds_op(ds, m, &r));
}

#define DS_HUGE (2ULL << 20)

/* size bytes of zeroed host memory; from DS_HUGE on aligned to DS_HUGE,
 * so that a user who asks for huge pages (the monitor's restore fills a
 * dataspace that way) gets them for all of it, not for all but its ends. */
static void *ds_map(uint64_t size)
{
	uint64_t slack = size >= DS_HUGE ? DS_HUGE - PAGE_SIZE : 0, head;
	uint8_t *p = mmap(NULL, size + slack, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED || !slack)
		return p;
	head = (DS_HUGE - (uintptr_t)p % DS_HUGE) % DS_HUGE;
	if (head)
		munmap(p, head);
	if (slack - head)
		munmap(p + head + size, slack - head);
	return p + head;
}

int ds_create(struct core *c, uint64_t size, int writable, struct dataspace **out)
{
	struct dataspace *ds;
	void *p;

	if (!size || PAGE_ROUND(size) < size)
		return -EINVAL;
	size = PAGE_ROUND(size);
	ds = calloc(1, sizeof(*ds));
	if (!ds)
		return -ENOMEM;
	p = ds_map(size);
	if (p == MAP_FAILED) {
		free(ds);
		return -ENOMEM;
	}
	ds->host = p;
	ds->size = size;
	ds->writable = writable;
	ds->refs = 1;
	ds->core = c;
	if (!cap_valid(ep_manage(c->env->ep, &ds->obj, ds_dispatch))) {
		munmap(p, size);
		free(ds);
		return -ENOSPC;
	}
	ds->managed = 1;
	*out = ds;
	return 0;
}

void ds_ref(struct dataspace *ds)
{
	ds->refs++;
}

void ds_unref(struct dataspace *ds)
{
	struct dirty_range *dr;

	if (--ds->refs)
		return;
	/* still tracked only when its node is forgotten: nobody to pay back */
	if ((dr = dirty_find(ds)))
		dirty_stop_unmapping(dr);
	lazy_drop(ds, 0);
	ds_host_free(ds->host, ds->size);
	free(ds);
}

/* pd goes away: the tracking and lazy fills it pays for on other PDs'
 * dataspaces end (their quota back to it), so that no dataspace keeps a
 * payer that is gone.  Its own dataspaces end with them (ds_release). */
void ds_payer_gone(struct core *c, struct pd_session *pd)
{
	for (struct core_session *s = c->sessions; s; s = s->next) {
		struct pd_session *owner;

		if (s->ops != &pd_session_ops || s == &pd->s)
			continue;
		owner = container_of(s, struct pd_session, s);
		for (struct dataspace *d = owner->ram; d; d = d->next) {
			if (d->dirty_payer == pd)
				ds_track_end(d, 0);
			if (lazy_payer(d) == pd)
				lazy_drop(d, 1);
		}
	}
}

void ds_release(struct core *c, struct dataspace *ds)
{
	/* the last reference (nobody has it attached): unmapped next */
	if (ds->dirty_payer)
		ds_track_end(ds, ds->refs == 1);
	lazy_drop(ds, 1);
	if (ds->managed) {
		ep_dissolve(c->env->ep, &ds->obj);
		ds->managed = 0;
	}
	ds_unref(ds);
}

struct dataspace *ds_from_cap(struct core *c, cap_t cap)
{
	struct rpc_object *obj;

	if (!cap_valid(cap))
		return NULL;
	obj = ep_lookup(c->env->ep, cap_badge(cap));
	if (!obj || obj->dispatch != ds_dispatch)
		return NULL;
	return container_of(obj, struct dataspace, obj);
}
