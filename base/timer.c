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

int timer_sigh(cap_t timer, cap_t context)
{
	struct msg m;

	return base_request(timer, TIMER_SIGH, context, NULL, 0, &m);
}

int timer_oneshot(cap_t timer, uint64_t us)
{
	struct msg m;

	return base_request(timer, TIMER_ONESHOT, CAP_INVALID, &us, 1, &m);
}

int timer_periodic(cap_t timer, uint64_t us)
{
	struct msg m;

	return base_request(timer, TIMER_PERIODIC, CAP_INVALID, &us, 1, &m);
}

int timer_elapsed_us(cap_t timer, uint64_t *us)
{
	struct msg m;
	int err = base_request(timer, TIMER_ELAPSED, CAP_INVALID, NULL, 0, &m);

	if (err)
		return err;
	if (m.nwords < 1 || !us)
		return -EPROTO;
	*us = m.w[0];
	return 0;
}
