/*
 * The target's Timer sessions (routed through the monitor's parent),
 * intercepted: the signal context the target registered (TIMER_SIGH) and
 * a periodic timeout are recorded, so that after a restore, whose
 * contexts are new objects with new badges, the timer signals the new
 * context again and keeps its period.  A pending one-shot timeout is not
 * re-armed (its deadline is not known to the monitor): documented in
 * docs/seed002.md.
 *
 * state[0]: badge of the registered context; state[1]: period in µs.
 */
#include <errno.h>

#include "monitor/restore.h"

static void timer_after(struct proxy *p, const struct mon_req *req, struct msg *r)
{
	if (req->code == TIMER_SIGH && req->ncaps >= 1)
		p->state[0] = req->badge[0];
	if (req->code == TIMER_PERIODIC && req->nwords >= 1)
		p->state[1] = req->w[0];
}

static int timer_restored(struct proxy *p, const struct badge_map *bm)
{
	struct mon_record *ctx;
	struct msg m;
	int rc;

	if (!p->state[0])
		return 0;
	ctx = record_find(p->mon, badge_map_new(bm, p->state[0]));
	if (!ctx)
		return -ESRCH;
	p->state[0] = ctx->badge;
	msg_reset(&m, TIMER_SIGH);
	msg_put_cap(&m, ctx->cap);
	if ((rc = rpc_call(p->real, &m)) || m.code != RPC_OK)
		return rc ? rc : -EPROTO;
	if (!p->state[1])
		return 0;
	msg_reset(&m, TIMER_PERIODIC);
	msg_put(&m, p->state[1]);
	rc = rpc_call(p->real, &m);
	return rc ? rc : m.code == RPC_OK ? 0 : -EPROTO;
}

const struct proxy_type timer_proxy_type = {"Timer", NULL, timer_after, timer_restored};
