/*
 * signal_bad: bad input to the signal and timer interfaces, each refused
 * with a clear error, and nothing leaked (the PD's cap_used is back to its
 * old value after each round).  Runs beside sig_consumer, whose context
 * cap it gets through a "Sig" session: a context it may submit to but
 * does not own.  Finally it submits the consumer's signals, so that the
 * consumer exits too.
 */
#include <base/env.h>
#include <base/signal.h>
#include <base/timer.h>

#include "../sig_consumer/sig.h"

static struct env *bad_env;
static int failures;

/* One RPC: opcode op, optional cap, optional word; 0 or -errno. */
static int call(cap_t dst, uint64_t op, cap_t c, int nwords, uint64_t w, struct msg *m)
{
	int rc;

	msg_reset(m, op);
	if (cap_valid(c))
		msg_put_cap(m, c);
	if (nwords)
		msg_put(m, w);
	rc = rpc_call(dst, m);
	if (rc)
		return rc;
	if (m->code == RPC_OK)
		return 0;
	if (m->code == RPC_ERROR && m->nwords)
		return (int)(int64_t)m->w[0];
	return m->code == RPC_INVALID_OBJECT ? -9 : -38;
}

static uint64_t caps_used(void)
{
	struct msg m;

	if (call(bad_env->pd, PD_QUOTA, CAP_INVALID, 0, 0, &m) || m.nwords < 4)
		return ~0ULL;
	return m.w[3];
}

static void expect(const char *what, int rc, int want)
{
	if (rc == want) {
		env_log(bad_env, "bad: %s: refused (%d) as expected", what, rc);
		return;
	}
	env_log(bad_env, "bad: %s: got %d, want %d", what, rc, want);
	failures++;
}

static void expect_caps(const char *what, uint64_t before)
{
	uint64_t now = caps_used();

	if (now == before) {
		env_log(bad_env, "bad: %s: cap_used back to %llu", what,
			(unsigned long long)now);
		return;
	}
	env_log(bad_env, "bad: %s: cap_used %llu, was %llu", what,
		(unsigned long long)now, (unsigned long long)before);
	failures++;
}

static void noop(void *arg, unsigned count)
{
}

/* A freed context refuses submits; its quota came back. */
static void freed_context(void)
{
	struct signal_handler h;
	uint64_t before = caps_used();
	cap_t ctx;
	int rc;

	if ((rc = signal_handler_init(bad_env, &h, noop, 0))) {
		expect("context alloc", rc, 0);
		return;
	}
	ctx = cap_ref(h.context);
	if (caps_used() != before + 1) {
		env_log(bad_env, "bad: a context did not count against cap quota");
		failures++;
	}
	signal_handler_dissolve(bad_env, &h);
	expect("submit to a freed context", signal_submit(bad_env, ctx, 1), -22);
	cap_release(ctx);
	expect_caps("context freed", before);
}

/* Timer: a cap that is not a signal context at core. */
static void timer_bad_sigh(void)
{
	cap_t timer;
	int rc = timer_connect(bad_env, &timer);

	if (rc) {
		expect("Timer session", rc, 0);
		return;
	}
	expect("TIMER_SIGH with the PD session cap", timer_sigh(timer, bad_env->pd), -22);
	expect("TIMER_SIGH with the timer cap itself", timer_sigh(timer, timer), -22);
	expect("TIMER_SIGH without a cap", timer_sigh(timer, CAP_INVALID), -22);
	expect("TIMER_PERIODIC of 1 us", timer_periodic(timer, 1), -22);
	expect("TIMER_ONESHOT of ~0 us", timer_oneshot(timer, ~0ULL), -22);
}

/* A second signal source: quota, SIGNAL_WAIT after free, contexts on a
 * cap that is not one of our sources. */
static void source_rounds(cap_t foreign_ctx)
{
	uint64_t before = caps_used();
	struct msg m;
	cap_t src;
	int rc;

	if ((rc = call(bad_env->pd, PD_ALLOC_SIGNAL_SOURCE, CAP_INVALID, 0, 0, &m)) ||
	    !m.ncaps) {
		expect("second signal source", rc, 0);
		return;
	}
	src = m.caps[0];
	if (caps_used() != before + 2) {
		env_log(bad_env, "bad: a source did not count 2 caps");
		failures++;
	}
	expect("SIGNAL_WAIT on a context (not a source)",
	       call(foreign_ctx, SIGNAL_WAIT, CAP_INVALID, 0, 0, &m), -22);
	expect("ALLOC_CONTEXT on a context (not a source)",
	       call(bad_env->pd, PD_ALLOC_CONTEXT, foreign_ctx, 1, 0x1000, &m), -22);
	expect("ALLOC_CONTEXT with imprint 0",
	       call(bad_env->pd, PD_ALLOC_CONTEXT, src, 1, 0, &m), -22);
	expect("FREE_CONTEXT of the consumer's context",
	       call(bad_env->pd, PD_FREE_CONTEXT, foreign_ctx, 0, 0, &m), -22);
	expect("FREE_SIGNAL_SOURCE of a context",
	       call(bad_env->pd, PD_FREE_SIGNAL_SOURCE, foreign_ctx, 0, 0, &m), -22);
	rc = call(bad_env->pd, PD_FREE_SIGNAL_SOURCE, src, 0, 0, &m);
	expect_caps("source freed", before);
	expect("SIGNAL_WAIT on a freed source",
	       rc ? rc : call(src, SIGNAL_WAIT, CAP_INVALID, 0, 0, &m), -111);
	cap_release(src);
}

/* Contexts until the cap quota is exhausted: -EDQUOT, then all back. */
static void quota_round(void)
{
	static struct signal_handler hs[400];
	uint64_t before = caps_used();
	unsigned n = 0;
	int rc = 0;

	while (n < 400 && !(rc = signal_handler_init(bad_env, &hs[n], noop, 0)))
		n++;
	expect("contexts beyond the cap quota", rc, -122);
	env_log(bad_env, "bad: %s contexts before the quota ran out", n ? "some" : "no");
	while (n)
		signal_handler_dissolve(bad_env, &hs[--n]);
	expect_caps("contexts freed", before);
}

void component_construct(struct env *env)
{
	cap_t ctx;
	int rc;

	bad_env = env;
	if ((rc = env_session(env, "Sig", "", &ctx))) {
		env_log(env, "bad: Sig session failed (%d)", rc);
		env_exit(env, 1);
	}
	freed_context();
	timer_bad_sigh();
	source_rounds(ctx);
	quota_round();
	for (unsigned i = 0; i < SIG_ROUNDS; i++)
		if ((rc = signal_submit(env, ctx, 1)))
			expect("submit to the consumer", rc, 0);
	env_log(env, "bad: %s",
		failures ? "FAILED" : "every bad request refused, nothing leaked");
	env_exit(env, failures ? 1 : 0);
}
