/*
 * Session quota and session ends.  A client pays for each session it
 * opens through init: the session's ram_quota/cap_quota moves from the
 * client's PD to the server's PD (PD_TRANSFER_QUOTA), or to init's own PD
 * for a session at init's parent, where core charges it.  Closing the
 * session, or the end of either side, moves it back.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "init/init.h"

int quota_move(cap_t from, cap_t to, uint64_t ram, uint64_t caps)
{
	if (!ram && !caps)
		return 0;
	return pd_transfer_quota(from, to, ram, caps);
}

void quota_explain(cap_t pd, uint64_t ram, uint64_t caps, char *buf, size_t size)
{
	struct pd_quota q;
	unsigned long long rl, cl;

	if (pd_quota_get(pd, &q)) {
		snprintf(buf, size, "quota exceeded (the quota cannot be read)");
		return;
	}
	rl = q.ram_quota - q.ram_used;
	cl = q.cap_quota - q.cap_used;
	if (ram > rl)
		snprintf(buf, size, "RAM quota exceeded: %llu bytes asked, %llu left",
			 (unsigned long long)ram, rl);
	else if (caps > cl)
		snprintf(buf, size, "cap quota exceeded: %llu caps asked, %llu left",
			 (unsigned long long)caps, cl);
	else
		snprintf(
		    buf, size,
		    "quota exceeded: %llu of %llu bytes of RAM and %llu of %llu caps "
		    "left",
		    rl, (unsigned long long)q.ram_quota, cl,
		    (unsigned long long)q.cap_quota);
}

cap_t quota_holder(const struct child *c, const struct child_session *s)
{
	if (s->server < 0)
		return c->init->env->pd;
	return c->init->child[s->server].pd;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

void quota_return(struct child *c, const struct child_session *s)
{
	cap_t from = quota_holder(c, s);
	struct pd_quota q;
	uint64_t ram, caps;

	if (!cap_valid(from) || !cap_valid(c->pd))
		return;
	if (!quota_move(from, c->pd, s->ram, s->caps))
		return;
	/* the server spent part of it: return what is unused */
	if (pd_quota_get(from, &q))
		return;
	ram = min_u64(s->ram, q.ram_quota - q.ram_used);
	caps = min_u64(s->caps, q.cap_quota - q.cap_used);
	quota_move(from, c->pd, ram, caps);
	env_log(c->init->env,
		"child '%s': %llu bytes and %llu caps of a session's quota "
		"stay with its server",
		c->cfg->name, (unsigned long long)(s->ram - ram),
		(unsigned long long)(s->caps - caps));
}

void session_close(struct child *c, int i)
{
	struct init *in = c->init;
	struct child_session *s = &c->session[i];
	struct child *srv = s->server >= 0 ? &in->child[s->server] : NULL;
	struct msg m;

	if (!srv) {
		init_session_close_parent(in, s->cap);
	} else if (srv->state == CHILD_RUNNING && s->service < srv->nservices) {
		msg_reset(&m, ROOT_CLOSE);
		msg_put_cap(&m, s->cap);
		rpc_call_timeout(srv->service[s->service].root, &m,
				 INIT_SERVER_TIMEOUT_US);
		for (unsigned k = 0; k < m.ncaps; k++)
			cap_release(m.caps[k]);
	}
	if (!srv || srv->state == CHILD_RUNNING)
		quota_return(c, s);
	if (cap_valid(s->cap))
		cap_release(s->cap);
	c->session[i] = c->session[--c->nsessions];
}

void session_drop_served_by(struct child *srv)
{
	struct init *in = srv->init;

	for (int k = 0; k < in->nchildren; k++) {
		struct child *c = &in->child[k];
		if (c == srv || c->state != CHILD_RUNNING)
			continue;
		for (int i = 0; i < c->nsessions;) {
			struct child_session *s = &c->session[i];
			if (s->server != srv->index) {
				i++;
				continue;
			}
			/* srv's PD still holds the quota; its gates go with it */
			quota_return(c, s);
			cap_release(s->cap);
			c->session[i] = c->session[--c->nsessions];
		}
	}
}
