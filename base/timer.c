/*
 * Timer session client (base/include/base/timer.h): each call is one RPC
 * to the session with the word layout of enum timer_op.
 */
#include <errno.h>
#include <base/env.h>
#include <base/timer.h>
#include "platform.h"

int timer_connect(struct env *env, cap_t *timer)
{
	if (!env || !timer)
		return -EINVAL;
	return env_session(env, "Timer", "", timer);
}

static int timer_call(cap_t timer, uint64_t op, cap_t c, int with_word, uint64_t w,
		      struct msg *m)
{
	msg_reset(m, op);
	if (cap_valid(c))
		msg_put_cap(m, c);
	if (with_word)
		msg_put(m, w);
	return base_call(timer, m);
}

int timer_sigh(cap_t timer, cap_t context)
{
	struct msg m;

	return timer_call(timer, TIMER_SIGH, context, 0, 0, &m);
}

int timer_oneshot(cap_t timer, uint64_t us)
{
	struct msg m;

	return timer_call(timer, TIMER_ONESHOT, CAP_INVALID, 1, us, &m);
}

int timer_periodic(cap_t timer, uint64_t us)
{
	struct msg m;

	return timer_call(timer, TIMER_PERIODIC, CAP_INVALID, 1, us, &m);
}

int timer_elapsed_us(cap_t timer, uint64_t *us)
{
	struct msg m;
	int err = timer_call(timer, TIMER_ELAPSED, CAP_INVALID, 0, 0, &m);

	if (err)
		return err;
	if (m.nwords < 1 || !us)
		return -EPROTO;
	*us = m.w[0];
	return 0;
}
