/*
 * The target's Timer sessions (routed through the monitor's parent),
 * intercepted: the signal context the target registered (TIMER_SIGH), a
 * periodic timeout and a pending one-shot are recorded, so that after a
 * restore, whose contexts are new objects with new badges, the timer
 * signals the new context again, keeps its period and fires the one-shot
 * when it was due.  After an image restore the session is a new one at
 * the new node's timer: TIMER_ELAPSED answers are shifted so that the
 * target's clock goes on from what it read before (the time the image
 * spent on disk does not count, as with CRIU's monotonic offset).
 *
 * state[0]: badge of the registered context; state[1]: period in µs;
 * state[2]: one-shot deadline in the real session's elapsed µs (0: none);
 * state[3]: one-shot µs left to arm after an image restore;
 * state[4]: offset added to TIMER_ELAPSED (two's complement);
 * state[5]: the real session's elapsed µs when the last checkpoint had
 * drained the signals (timer_note_drain).
 * In an image they are the session's struct image_timer (image/image.h).
 */
#include <errno.h>

#include "image/image.h"
#include "monitor/restore.h"

static int elapsed(cap_t real, uint64_t *us)
{
	struct msg m;
	int rc;

	msg_reset(&m, TIMER_ELAPSED);
	if ((rc = rpc_call(real, &m)))
		return rc;
	if (m.code != RPC_OK || m.nwords < 1)
		return -EPROTO;
	*us = m.w[0];
	return 0;
}

static void timer_after(struct proxy *p, const struct mon_req *req, struct msg *r)
{
	uint64_t now;

	if (req->code == TIMER_SIGH && req->ncaps >= 1)
		p->state[0] = req->badge[0];
	if (req->code == TIMER_PERIODIC && req->nwords >= 1)
		p->state[1] = req->w[0];
	if (req->code == TIMER_ONESHOT && req->nwords >= 1)
		p->state[2] = elapsed(p->real, &now) ? 0 : now + req->w[0];
	if (req->code == TIMER_ELAPSED && r->nwords >= 1)
		r->w[0] += p->state[4];
}

void timer_note_drain(struct proxy *p)
{
	uint64_t now;

	p->state[5] = elapsed(p->real, &now) ? 0 : now;
}

/* Did the one-shot come due after the checkpoint drained the signals
 * (its signal was not kept)? */
static int oneshot_after_drain(const struct proxy *p)
{
	return p->state[2] && p->state[2] > p->state[5];
}

int timer_state_save(struct proxy *p, struct image_timer *t)
{
	uint64_t now;
	int rc = elapsed(p->real, &now);

	if (rc)
		return rc;
	t->sigh = p->state[0];
	t->period = p->state[1];
	/* due during the pause: fire right after the restore (its firing
	 * into the old context is not in the image) */
	t->oneshot = p->state[2] > now	      ? p->state[2] - now
		     : oneshot_after_drain(p) ? 1
					      : 0;
	t->elapsed = now + p->state[4];
	return 0;
}

int timer_state_load(struct proxy *p, const struct image_timer *t)
{
	uint64_t now;
	int rc;

	if ((rc = elapsed(p->real, &now)))
		return rc;
	p->state[0] = t->sigh;
	p->state[1] = t->period;
	p->state[2] = 0;
	p->state[3] = t->oneshot;
	p->state[4] = t->elapsed - now;
	return 0;
}

/* A restore: the recreated context the timer is to signal (found now,
 * so that apply only sends core's timer what it accepts). */
static int timer_prepare(struct proxy *p, struct rs *rs)
{
	uint64_t nb;

	if (!p->state[0])
		return 0;
	nb = restore_new_badge(rs, p->state[0]);
	p->next_real = restore_new_cap(rs, nb); /* borrowed: a record at commit */
	if (!cap_valid(p->next_real))
		return -ESRCH;
	p->next_state[0] = nb;
	return 0;
}

/* Past the commit: point the timer at the new context and re-arm it.
 * The requests are ones core's timer always accepts (a context cap the
 * monitor holds, times it was given before); a failure would mean the
 * timer service itself is gone, and is logged. */
static void timer_apply(struct proxy *p)
{
	struct msg m;
	int rc = 0;

	if (!p->state[0])
		return;
	p->state[0] = p->next_state[0];
	msg_reset(&m, TIMER_SIGH);
	msg_put_cap(&m, p->next_real);
	rc = rpc_call(p->real, &m);
	/* same node: a one-shot that came due during the pause fired into the
	 * old context after the checkpoint kept the signals: fire it again */
	if (!rc && !p->state[3] && oneshot_after_drain(p)) {
		uint64_t now;
		if (!elapsed(p->real, &now) && p->state[2] <= now)
			p->state[3] = 1;
	}
	if (!rc && p->state[3]) {
		uint64_t now;
		msg_reset(&m, TIMER_ONESHOT);
		msg_put(&m, p->state[3]);
		rc = rpc_call(p->real, &m);
		p->state[2] = elapsed(p->real, &now) ? 0 : now + p->state[3];
		p->state[3] = 0;
	}
	if (!rc && p->state[1]) {
		msg_reset(&m, TIMER_PERIODIC);
		msg_put(&m, p->state[1]);
		rc = rpc_call(p->real, &m);
	}
	p->next_real = CAP_INVALID;
	if (rc)
		env_log(p->mon->env, "monitor: restore: the timer service is gone (%d)",
			rc);
}

const struct proxy_type timer_proxy_type = {"Timer",	   NULL, timer_after,
					    timer_prepare, NULL, timer_apply};
