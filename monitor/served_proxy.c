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
 * state[0]: badge of the target's object the proxy stands for.
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

/* The proxy that serves the target's object real (taken over): an
 * existing one for the same object, or a new one. */
static cap_t served_wrap(struct monitor *mon, const struct proxy_type *t, cap_t real)
{
	struct entrypoint *ep = serve_ep(mon);
	struct proxy *p = proxy_with(mon, t, 0, cap_badge(real));
	cap_t c;

	if (p) {
		cap_release(real);
		return p->obj.cap;
	}
	if (!ep) {
		cap_release(real);
		return CAP_INVALID;
	}
	c = proxy_new_on(mon, ep, t, real, &p);
	if (cap_valid(c))
		p->state[0] = cap_badge(p->real);
	return c;
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
			    s->state[0] == req->badge[0])
				proxy_destroy(p->mon, s);
		}
}

/* A restore: stand for the target's recreated object from the commit
 * on (a reference to it is taken now, dropped again by undo). */
static int served_prepare(struct proxy *p, struct rs *rs)
{
	uint64_t nb;
	cap_t c;

	/* a group's restore wrapped a member's recreated gate for another
	 * member: its badge is this node's, and may be an old badge of the
	 * image too (one taken on another node), which must not remap it */
	if (restore_made(rs, p->state[0]))
		return 0;
	nb = restore_new_badge(rs, p->state[0]);

	/* made by this restore (a group's restore wraps a member's recreated
	 * gate for another member before it prepares), or gone with the old
	 * target */
	if (nb == p->state[0])
		return target_object(p->mon, nb) || cap_valid(restore_new_cap(rs, nb))
			   ? 0
			   : -ESRCH;
	c = restore_new_cap(rs, nb);
	if (!cap_valid(c))
		return -ESRCH;
	p->next_real = cap_ref(c);
	p->next_state[0] = nb;
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
	if (!p->next_real.idx)
		return;
	cap_release(p->real);
	p->real = p->next_real;
	p->state[0] = p->next_state[0];
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

int served_root(struct monitor *mon, uint64_t root_badge)
{
	return proxy_with(mon, &root_proxy_type, 0, root_badge) != NULL;
}
