/*
 * Interception by proxy objects.  The target holds the cap of a proxy
 * (an RPC object of the monitor); each request is summarised, its caps
 * translated (a proxy cap becomes the real cap it stands for), offered to
 * the type's before() hook, forwarded to the real object, and the reply
 * offered to after() before it goes back to the target.  Adding a session
 * type is one file with a struct proxy_type.
 */
#include <errno.h>
#include <string.h>

#include "monitor/checkpoint.h"
#include "monitor/group.h"
#include "monitor/monitor.h"

#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

void mon_reply_err(struct msg *m, int err)
{
	msg_reset(m, RPC_ERROR);
	msg_put(m, (uint64_t)(int64_t)err);
}

struct proxy *proxy_find(struct monitor *mon, uint64_t badge)
{
	if (!badge)
		return NULL;
	for (int i = 0; i < mon->proxy_top; i++)
		if (mon->proxy[i].used && mon->proxy[i].obj.badge == badge)
			return &mon->proxy[i];
	return NULL;
}

struct proxy *proxy_with(struct monitor *mon, const struct proxy_type *t, unsigned k,
			 uint64_t v)
{
	for (int i = 0; i < mon->proxy_top; i++)
		if (mon->proxy[i].used && mon->proxy[i].type == t &&
		    mon->proxy[i].state[k] == v)
			return &mon->proxy[i];
	return NULL;
}

/* Replace proxy caps by the real caps they stand for; summarise. */
static void translate(struct monitor *mon, struct msg *m, struct mon_req *req)
{
	req->code = m->code;
	req->nwords = m->nwords;
	for (unsigned i = 0; i < 8; i++)
		req->w[i] = i < m->nwords ? m->w[i] : 0;
	req->ncaps = m->ncaps;
	for (unsigned i = 0; i < m->ncaps; i++) {
		struct proxy *p = proxy_find(mon, cap_badge(m->caps[i]));
		if (p)
			m->caps[i] = p->real; /* the entrypoint releases its own list */
		req->badge[i] = cap_badge(m->caps[i]);
	}
}

/*
 * A client's call to the target (served_proxy.c), forwarded from the
 * serving entrypoint.  A call the paused target had not taken when a
 * same-node restore destroyed it fails; it is made again, once, at the
 * restored object the proxy stands for then, with the client's caps
 * translated anew (orig: the request as the client sent it).  (A call the
 * old target had taken runs again too: see docs/cr.md.)  The proxy may be
 * gone or its slot reused when the call comes back: gen tells.
 */
/* A group member's root is called as the group's entrypoint calls the
 * proxy (group_root_call): a member that does not take the call (it
 * waits for the group's entrypoint, which waits for this proxy) is not
 * waited for, -EAGAIN goes back; one that took it is, however long. */
static int forward(struct proxy *p, struct msg *m)
{
	if (p->mon->group && p->type == &root_proxy_type)
		return group_root_call(p->real, m);
	return rpc_call(p->real, m);
}

static int served_call(struct proxy *p, struct msg *m, const struct msg *orig)
{
	struct monitor *mon = p->mon;
	uint64_t gen = p->gen, object = p->state[0];
	struct mon_req again;
	int rc = forward(p, m);

	if (!rc && m->code != RPC_INVALID_OBJECT)
		return 0;
	for (int i = 0; i < 5000 && mon->restoring; i++)
		mon_sleep_us(1000);
	if (!p->used || p->gen != gen || p->state[0] == object)
		return rc;
	*m = *orig;
	translate(mon, m, &again);
	return forward(p, m);
}

static void proxy_dispatch(struct rpc_object *obj, struct msg *m)
{
	struct proxy *p = container_of(obj, struct proxy, obj);
	struct monitor *mon = p->mon;
	int served = p->ep != mon->env->ep;
	uint64_t gen = p->gen;
	struct mon_req req;
	struct msg orig;
	int rc;

	if (!p->used || mon->state != MON_RUNNING)
		return mon_reply_err(m, -ESRCH);
	if (served)
		orig = *m;
	translate(mon, m, &req);
	if (served && mon->group) /* another member's objects go as proxies */
		group_wrap_request(mon, m);
	rc = p->type->before ? p->type->before(p, m) : 0;
	if (rc == 1)
		return;
	if (rc < 0)
		return mon_reply_err(m, rc);
	rc = served ? served_call(p, m, &orig) : rpc_call(p->real, m);
	if (served) /* what the target revoked meanwhile: served_revoke.c */
		served_check(mon);
	if (!p->used || p->gen != gen) /* dissolved while the call was out */
		return mon_reply_err(m, -ESRCH);
	if (rc)
		return mon_reply_err(m, rc);
	if (p->type->after && m->code == RPC_OK)
		p->type->after(p, &req, m);
	/* every cap the reply carries stays known: the monitor keeps the
	 * reference it received (a proxy cap put in by after() is its own) */
	for (unsigned i = 0; i < m->ncaps; i++)
		if (cap_valid(m->caps[i]) && !proxy_find(mon, cap_badge(m->caps[i])))
			record_hold(mon, m->caps[i], p->type->name);
}

cap_t proxy_new(struct monitor *mon, const struct proxy_type *t, cap_t real,
		struct proxy **out)
{
	return proxy_new_on(mon, mon->env->ep, t, real, out);
}

cap_t proxy_new_on(struct monitor *mon, struct entrypoint *ep, const struct proxy_type *t,
		   cap_t real, struct proxy **out)
{
	for (int i = mon->proxy_free; i < MON_MAX_PROXIES; i++) {
		struct proxy *p = &mon->proxy[i];
		cap_t c;

		if (p->used)
			continue;
		mon->proxy_free = i; /* (the ones below are used) */
		memset(p, 0, sizeof *p);
		p->mon = mon;
		p->gen = ++mon->proxy_gen;
		p->ep = ep;
		p->type = t;
		p->real = real;
		c = ep_manage(ep, &p->obj, proxy_dispatch);
		if (!cap_valid(c))
			break;
		p->used = 1;
		mon->proxy_free = i + 1;
		if (i >= mon->proxy_top) /* slots are taken lowest first */
			mon->proxy_top = i + 1;
		if (out)
			*out = p;
		return c;
	}
	cap_release(real);
	return CAP_INVALID;
}

void proxy_destroy(struct monitor *mon, struct proxy *p)
{
	int i = (int)(p - mon->proxy);

	if (!p->used)
		return;
	ep_dissolve(p->ep, &p->obj);
	cap_release(p->real);
	memset(p, 0, sizeof *p);
	if (i >= 0 && i < mon->proxy_free) /* (p is mon's) */
		mon->proxy_free = i;
}

void proxy_destroy_all(struct monitor *mon)
{
	for (int i = 0; i < MON_MAX_PROXIES; i++)
		proxy_destroy(mon, &mon->proxy[i]);
	mon->pd_proxy = mon->cpu_proxy = mon->log_proxy = mon->rom_proxy = NULL;
}
