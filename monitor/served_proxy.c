/*
 * The target's services, served through the monitor.  A root the target
 * announces is announced to the monitor's parent as a proxy of the
 * monitor; every object of the target that a client gets through it (a
 * session object in a ROOT_SESSION reply, a gate of the target in any
 * reply through such a session) reaches the client as a proxy too.  So a
 * client holds caps of the monitor, not of the target: after a restore,
 * whose gates are new objects with new badges, each proxy is pointed at
 * the target's recreated object and the client goes on with the caps it
 * has.
 *
 * These proxies run on a second entrypoint of the monitor (serve_ep): a
 * forwarded call blocks until the target answers, and the target, while
 * answering, calls the monitor's main entrypoint (its PD, its LOG).
 *
 * Its state: SERVED_BADGE, SERVED_MADE (proxy.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "monitor/group.h"
#include "monitor/restore.h"

static struct entrypoint *serve_ep(struct monitor *mon)
{
	if (!mon->serve_ep && mon->group) /* the member's, kept across restores */
		mon->serve_ep = group_serve_ep(mon);
	else if (!mon->serve_ep && ep_create(mon->env, "monitor-serve", &mon->serve_ep))
		mon->serve_ep = NULL;
	return mon->serve_ep;
}

/* Is badge one of the target's own objects (a gate it allocated)? */
static int target_object(struct monitor *mon, uint64_t badge)
{
	const struct mon_record *r = record_find(mon, badge);

	return r && r->cls == MON_CLASS_RPC_GATE;
}

/* A new proxy that serves the target's object real (taken over); made:
 * for an object the restore under way recreated. */
static cap_t served_new(struct monitor *mon, const struct proxy_type *t, cap_t real,
			int made)
{
	struct entrypoint *ep = serve_ep(mon);
	struct proxy *p;
	cap_t c;

	if (!ep) {
		cap_release(real);
		return CAP_INVALID;
	}
	c = proxy_new_on(mon, ep, t, real, &p);
	if (cap_valid(c)) {
		p->state[SERVED_BADGE] = cap_badge(p->real);
		p->state[SERVED_MADE] = (uint64_t)made;
	}
	return c;
}

/* The proxy that serves the target's object real (taken over): an
 * existing one for the same object, or a new one. */
static cap_t served_wrap(struct monitor *mon, const struct proxy_type *t, cap_t real)
{
	struct proxy *p = proxy_with(mon, t, SERVED_BADGE, cap_badge(real));

	if (p && !p->state[SERVED_MADE]) {
		cap_release(real);
		return p->obj.cap;
	}
	return served_new(mon, t, real, 0);
}

/* Reply caps that are objects of the target go out as proxies. */
static void served_after(struct proxy *p, const struct mon_req *req, struct msg *r)
{
	for (unsigned i = 0; i < r->ncaps; i++) {
		if (!cap_valid(r->caps[i]) ||
		    !target_object(p->mon, cap_badge(r->caps[i])))
			continue;
		r->caps[i] = served_wrap(p->mon, &served_proxy_type, r->caps[i]);
	}
	if (req->code == ROOT_CLOSE && p->type == &root_proxy_type && req->ncaps >= 1)
		for (int i = 0; i < MON_MAX_PROXIES; i++) {
			struct proxy *s = &p->mon->proxy[i];
			if (s->used && s->type == &served_proxy_type &&
			    s->state[SERVED_BADGE] == req->badge[0])
				proxy_destroy(p->mon, s);
		}
}

/* A restore: stand for the target's recreated object from the commit
 * on (a reference to it is taken now, dropped again by undo). */
static int served_prepare(struct proxy *p, struct rs *rs)
{
	uint64_t nb;
	cap_t c;

	/* made by this restore for an object it recreated (a group's restore
	 * wraps a member's new gate for another member before it prepares):
	 * it stands for that object already.  Its badge is a new one, not
	 * an old one to translate: on a node other than the image's, a new
	 * badge may be the old badge of another object of the image (a
	 * session's new badge was its root's old one, and translating it
	 * again pointed the client's session at the server's root) */
	if (p->state[SERVED_MADE])
		return 0;
	nb = restore_new_badge(rs, p->state[SERVED_BADGE]);
	/* not recreated: gone with the old target */
	if (nb == p->state[SERVED_BADGE])
		return target_object(p->mon, nb) || cap_valid(restore_new_cap(rs, nb))
			   ? 0
			   : -ESRCH;
	/* (derived from the target's, for its revocations: restore_caps.c) */
	c = restore_new_cap(rs, nb);
	if (!cap_valid(c))
		return -ESRCH;
	p->next_real = cap_ref(c);
	p->next_state[SERVED_BADGE] = nb;
	return 0;
}

static void served_undo(struct proxy *p)
{
	if (p->next_real.idx)
		cap_release(p->next_real);
	p->next_real = CAP_INVALID;
}

static void served_apply(struct proxy *p)
{
	p->state[SERVED_MADE] = 0; /* the next restore's old object */
	if (!p->next_real.idx)
		return;
	cap_release(p->real);
	p->real = p->next_real;
	p->state[SERVED_BADGE] = p->next_state[SERVED_BADGE];
	p->next_real = CAP_INVALID;
}

const struct proxy_type served_proxy_type = {"served object", NULL,	   served_after,
					     served_prepare,  served_undo, served_apply};
const struct proxy_type root_proxy_type = {"root",	   NULL,	served_after,
					   served_prepare, served_undo, served_apply};

int served_announce(struct monitor *mon, const char *name, cap_t root)
{
	cap_t c = served_wrap(mon, &root_proxy_type, cap_ref(root));
	struct proxy *p;
	int rc;

	if (!cap_valid(c))
		return -ENOSPC;
	rc = parent_announce(mon->env->parent, name, c);
	if (rc && (p = proxy_find(mon, cap_badge(c))) != NULL)
		proxy_destroy(mon, p);
	return rc;
}

int served_announce_group(struct monitor *mon, const char *name, cap_t root)
{
	cap_t c = served_wrap(mon, &root_proxy_type, cap_ref(root));
	struct proxy *p;
	int rc;

	if (!cap_valid(c))
		return -ENOSPC;
	rc = group_announce(mon, name, c);
	if (rc && (p = proxy_find(mon, cap_badge(c))) != NULL)
		proxy_destroy(mon, p);
	return rc;
}

int served_root_wrap(struct monitor *mon, cap_t root)
{
	return cap_valid(served_wrap(mon, &root_proxy_type, cap_ref(root))) ? 0 : -ENOSPC;
}

cap_t served_proxy_of(struct monitor *mon, cap_t real)
{
	return served_wrap(mon, &served_proxy_type, real);
}

cap_t served_proxy_made(struct monitor *mon, cap_t real)
{
	return served_new(mon, &served_proxy_type, real, 1);
}

void served_reserve(struct monitor *mon, unsigned n)
{
	struct entrypoint *ep = n ? serve_ep(mon) : NULL;

	if (ep)
		ep_reserve(ep, n < 16 ? n : 16);
}

void served_unreserve(struct monitor *mon)
{
	if (mon->serve_ep)
		ep_unreserve(mon->serve_ep);
}

int served_root(struct monitor *mon, uint64_t root_badge)
{
	return proxy_with(mon, &root_proxy_type, SERVED_BADGE, root_badge) != NULL;
}
