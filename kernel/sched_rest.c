/*
 * Rests: a node whose host thread runs under a real-time policy
 * (capsule --realtime) leaves the CPU on purpose for about one part in
 * eleven of the time it is busy, in pieces of 0.3-1 ms placed between the
 * node's own deadlines.
 *
 * Why: the host keeps a share of each CPU for ordinary tasks (of
 * sched_rt_period_us, 1 s, real-time threads get sched_rt_runtime_us,
 * 950 ms; since Linux 6.12 the fair server enforces it).  A real-time
 * thread that never sleeps, as the node's thread running busy guests,
 * had that share taken from it in one piece: it stood still for ~50 ms
 * once a second (seen on Linux 6.18: a SCHED_RR thread spinning beside
 * two ordinary spinning processes was off the CPU 52 ms at 0.95, 1.95
 * and 2.95 s), and a 10 ms ticker above busy threads was 42-48 ms late.
 * A thread that gives the CPU away a little more than 5% of the time in
 * small pieces is never throttled: resting 1 ms after every 10 ms, the
 * same thread was never off the CPU longer than 1.4 ms in 6 s.
 *
 * A rest delays nothing that is due: it ends REST_MARGIN_US before the
 * node's next deadline, a raised line ends it, and it comes only before
 * background work goes on (kernel/sched.c), not while a thread above that
 * is ready.  Background is what ran before the last timeout or line woke
 * threads, or anything REST_EVENT_US after it: a 10 ms ticker above busy
 * threads, and core's timer thread that signals it, run at once at their
 * deadline, and the node rests when they have blocked again, before the
 * busy threads go on.  Time the node sleeps with nothing to run pays the
 * same debt, so an idle or lightly loaded node never rests.
 *
 * SCHED_DEADLINE, the other way to bound the throttling, was measured and
 * is not used: on this (virtual) host a deadline thread of 900 us per
 * 1 ms was off the CPU for up to 10-16 ms at a time under load,
 * ordinary tasks running meanwhile: throttled for many periods at once
 * (runtime enforced at the tick, HZ 250, and time its vCPU lost counted
 * as runtime would explain it; not confirmed).
 */
#define _GNU_SOURCE
#include <sched.h>
#include "kernel/sched_rest.h"

void sched_rest_init(struct sched_rest *r, bool on, uint64_t now)
{
	*r = (struct sched_rest){.on = on, .since = now, .event_at = now, .above = -1};
}

void sched_rest_event(struct sched_rest *r, uint64_t now, int above)
{
	r->event_at = now;
	r->above = above;
}

bool sched_rest_may(const struct sched_rest *r, uint64_t now, int prio)
{
	return prio <= r->above || now - r->event_at >= REST_EVENT_US;
}

void sched_rest_ran(struct sched_rest *r, uint64_t now)
{
	if (now <= r->since)
		return;
	r->owed += (now - r->since) / REST_RATIO;
	if (r->owed > REST_OWED_MAX)
		r->owed = REST_OWED_MAX;
	r->since = now;
}

void sched_rest_slept(struct sched_rest *r, uint64_t from, uint64_t to)
{
	uint64_t off = to > from ? to - from : 0;

	r->owed = off < r->owed ? r->owed - off : 0;
	if (to > r->since)
		r->since = to;
}

uint64_t sched_rest_due(const struct sched_rest *r, uint64_t now, uint64_t next)
{
	uint64_t len = r->owed < REST_MAX_US ? r->owed : REST_MAX_US;

	if (!r->on || len < REST_MIN_US)
		return 0;
	if (next != UINT64_MAX) {
		if (next < now + REST_MARGIN_US + REST_MIN_US)
			return 0;
		if (len > next - now - REST_MARGIN_US)
			len = next - now - REST_MARGIN_US;
	}
	return len;
}

bool sched_rest_wanted(void)
{
	int policy = sched_getscheduler(0) & ~SCHED_RESET_ON_FORK;

	return policy == SCHED_RR || policy == SCHED_FIFO;
}
