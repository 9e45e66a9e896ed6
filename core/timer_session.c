/*
 * Timer session: one-shot and periodic timeouts delivered as signals to
 * the context given with TIMER_SIGH, and the time elapsed since the
 * session was opened (TIMER_ELAPSED, µs, host CLOCK_MONOTONIC).
 *
 * core's timer thread (a third native thread of core, made with the first
 * Timer session) sleeps in a wait bounded by the earliest deadline of all
 * sessions; a wake irq bound to it cuts the wait short when a session
 * programs an earlier one.  On expiry it submits to the session's context
 * (count = periods that elapsed) by badge, so a context freed meanwhile is
 * simply skipped.  Native threads are coroutines on one host thread: the
 * timer thread reads and updates the sessions only between its kernel
 * calls, and collects what is due before it submits anything.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/core_internal.h"
#include "core/session_args.h"

#define TIMER_MIN_PERIOD_US 100ULL
#define TIMER_MAX_US	    (100ULL * 365 * 24 * 3600 * 1000000) /* a century */

#define TIMER_THREAD_NR 2 /* core: 0 entrypoint, 1 fault thread */
#define TIMER_FIRE_MAX	32
#define TIMER_NONE	UINT64_MAX

/* Invariant: on the service's session list while its obj is managed;
 * deadline is TIMER_NONE or an absolute time; period 0 means one-shot. */
struct timer_session {
	struct core_session s;
	struct timer_session *next;
	struct core *core;
	uint64_t opened;   /* µs */
	uint64_t sigh;	   /* badge of the signal context, 0: none */
	uint64_t deadline; /* µs */
	uint64_t period;   /* µs */
};

/* One per core (c->timer), made with its first Timer session, freed with
 * core (timer_service_forget). */
struct timer_service {
	struct core *core;
	cap_t thread;
	cap_t wake;	    /* irq bound to the thread */
	uint64_t wake_kcap; /* for the thread itself, which has no cap map */
	struct timer_session *sessions;
};

static uint64_t timer_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t timer_next_deadline(struct timer_service *ts)
{
	uint64_t next = TIMER_NONE;

	for (struct timer_session *t = ts->sessions; t; t = t->next)
		if (t->deadline < next)
			next = t->deadline;
	return next;
}

/* Advance every session due at `now`; record (badge, count) to submit. */
static unsigned timer_collect(struct timer_service *ts, uint64_t now, uint64_t *badge,
			      uint64_t *count)
{
	unsigned n = 0;

	for (struct timer_session *t = ts->sessions; t && n < TIMER_FIRE_MAX;
	     t = t->next) {
		uint64_t ticks = 1;

		if (t->deadline > now)
			continue;
		if (t->period) {
			ticks = (now - t->deadline) / t->period + 1;
			t->deadline += ticks * t->period;
		} else {
			t->deadline = TIMER_NONE;
		}
		if (t->sigh) {
			badge[n] = t->sigh;
			count[n++] = ticks;
		}
	}
	return n;
}

static void timer_loop(void *arg)
{
	struct timer_service *ts = arg;
	uint64_t badge[TIMER_FIRE_MAX], count[TIMER_FIRE_MAX], label;

	for (;;) {
		uint64_t now = timer_now(), next = timer_next_deadline(ts);
		unsigned n;

		if (next > now)
			kernel_native_invoke(
			    ts->wake_kcap, TAG(SYS_OP_WAIT, 0, 0, 0),
			    next == TIMER_NONE ? SYS_TIMEOUT_NEVER : next - now, &label);
		n = timer_collect(ts, timer_now(), badge, count);
		for (unsigned i = 0; i < n; i++)
			signal_submit_badge(ts->core, badge[i], count[i]);
	}
}

/* Create the thread and its wake irq; on failure nothing is left. */
static int timer_service_start(struct core *c, struct timer_service *ts)
{
	uint64_t tb = core_badge(c), ib = core_badge(c);
	int err;

	memset(ts, 0, sizeof(*ts));
	ts->core = c;
	if (!tb || !ib)
		return -ENOSPC;
	err = kobj_create(FACTORY_THREAD, 0, 0, tb, &ts->thread);
	if (err)
		return err;
	err = kobj_create(FACTORY_IRQ, 0, 0, ib, &ts->wake);
	if (err)
		goto err_thread;
	ts->wake_kcap = cap_kcap(ts->wake);
	uint64_t ctl[5] = {THREAD_CONTROL, KCAP(FIXED_TASK), 0, KCAP_INVALID,
			   TIMER_THREAD_NR};
	uint64_t bind[3] = {IRQ_BIND, cap_kcap(ts->thread), ib};
	uint64_t start[3] = {THREAD_EX_REGS, (uint64_t)(uintptr_t)timer_loop,
			     (uint64_t)(uintptr_t)ts};
	err = kobj_invoke(cap_kcap(ts->thread), PROTO_THREAD, ctl, 5, NULL, 0);
	if (!err)
		err = kobj_invoke(ts->wake_kcap, PROTO_IRQ, bind, 3, NULL, 0);
	if (!err)
		err = kobj_invoke(cap_kcap(ts->thread), PROTO_THREAD, start, 3, NULL, 0);
	if (err)
		goto err_irq;
	c->timer = ts;
	return 0;
err_irq:
	kobj_destroy(ts->wake);
err_thread:
	kobj_destroy(ts->thread);
	memset(ts, 0, sizeof(*ts));
	return err;
}

/* Let the timer thread recompute its deadline. */
static void timer_wake(struct timer_service *ts)
{
	uint64_t w = IRQ_TRIGGER;

	kobj_invoke(ts->wake_kcap, PROTO_IRQ, &w, 1, NULL, 0);
}

static int timer_op(struct timer_session *t, struct msg *m, struct msg *r)
{
	struct timer_service *ts = t->core->timer;
	uint64_t badge;

	switch (m->code) {
	case TIMER_SIGH:
		badge = m->ncaps ? signal_context_badge(ts->core, m->caps[0]) : 0;
		if (!badge)
			return -EINVAL;
		t->sigh = badge;
		return 0;
	case TIMER_ONESHOT:
	case TIMER_PERIODIC:
		if (m->nwords < 1)
			return -EINVAL;
		/* a period below TIMER_MIN_PERIOD_US would keep core's timer
		 * thread busy; a timeout past TIMER_MAX_US would overflow */
		if (m->code == TIMER_PERIODIC && m->w[0] && m->w[0] < TIMER_MIN_PERIOD_US)
			return -EINVAL;
		if (m->w[0] > TIMER_MAX_US)
			return -EINVAL;
		t->period = m->code == TIMER_PERIODIC ? m->w[0] : 0;
		if (m->code == TIMER_PERIODIC && !m->w[0])
			t->deadline = TIMER_NONE;
		else
			t->deadline = timer_now() + m->w[0];
		timer_wake(ts);
		return 0;
	case TIMER_ELAPSED:
		msg_put(r, timer_now() - t->opened);
		return 0;
	}
	return -ENOSYS;
}

static void timer_dispatch(struct rpc_object *obj, struct msg *m)
{
	struct timer_session *t = container_of(obj, struct timer_session, s.obj);
	struct msg r;

	if (core_reply_begin(m, m->code >= TIMER_SIGH && m->code <= TIMER_ELAPSED, &r))
		core_reply_end(m, &r, timer_op(t, m, &r));
}

int timer_session_create(struct core *c, const char *args, struct core_session **out)
{
	struct timer_service *ts = c->timer;
	struct timer_session *t;
	char label[CORE_LABEL_MAX] = "";
	int err;

	if (!ts) {
		ts = calloc(1, sizeof(*ts));
		err = ts ? timer_service_start(c, ts) : -ENOMEM;
		if (err) {
			free(ts);
			return err;
		}
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	session_arg_str(args, "label", label, sizeof(label));
	if (!cap_valid(ep_manage(c->env->ep, &t->s.obj, timer_dispatch))) {
		free(t);
		return -ENOSPC;
	}
	t->core = c;
	t->opened = timer_now();
	t->deadline = TIMER_NONE;
	t->next = ts->sessions;
	ts->sessions = t;
	core_session_add(c, &t->s, &timer_session_ops, label);
	*out = &t->s;
	return 0;
}

void timer_session_destroy(struct core *c, struct core_session *s)
{
	struct timer_session *t = container_of(s, struct timer_session, s);
	struct timer_service *ts = c->timer;

	for (struct timer_session **pp = ts ? &ts->sessions : NULL; pp && *pp;
	     pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	core_session_remove(c, s);
	ep_dissolve(c->env->ep, &s->obj);
	free(t);
}

void timer_service_forget(struct core *c)
{
	free(c->timer);
	c->timer = NULL;
}

static int timer_ops_create(struct core *c, const char *args, struct pd_session *donor,
			    struct core_session **out)
{
	return timer_session_create(c, args, out);
}

static void timer_ops_forget(struct core_session *s)
{
	free(container_of(s, struct timer_session, s));
}

const struct core_session_ops timer_session_ops = {
    .name = "Timer",
    .create = timer_ops_create,
    .close = timer_session_destroy,
    .forget = timer_ops_forget,
};
