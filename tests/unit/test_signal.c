/*
 * Signal sources, contexts and the timer in core, on a real kernel: each
 * case boots a node whose init is a native function of this test, which
 * drives core's PD signal ops and Timer sessions with raw RPCs and binds
 * the semaphore irq to its own thread to count the triggers (closed wait
 * with timeout).  The first failing check is reported after kernel_boot.
 */
#include <base/env.h>

struct tcase {
	int (*run)(struct env *env, struct tcase *t);
	int fail_line;
	const char *fail_expr;
};

#include "fixture_node.h"

/* One RPC: opcode op, optional cap, optional word; 0 or -errno. */
static int call(cap_t dst, uint64_t op, cap_t c, int nwords, uint64_t w, struct msg *m)
{
	msg_reset(m, op);
	if (cap_valid(c))
		msg_put_cap(m, c);
	if (nwords)
		msg_put(m, w);
	return node_call(dst, m);
}

static uint64_t caps_used(cap_t pd)
{
	struct msg m;

	return call(pd, PD_QUOTA, CAP_INVALID, 0, 0, &m) || m.nwords < 4 ? ~0ULL : m.w[3];
}

static int alloc_cap(cap_t dst, uint64_t op, cap_t c, int nwords, uint64_t w, cap_t *out)
{
	struct msg m;
	int rc = call(dst, op, c, nwords, w, &m);

	if (!rc && (m.ncaps < 1 || !cap_valid(m.caps[0])))
		rc = -EPROTO;
	if (!rc)
		*out = m.caps[0];
	return rc;
}

/* Bind the source's semaphore to the calling thread. */
static int bind_semaphore(cap_t src, cap_t *sem)
{
	struct utcb *u = sys_utcb();
	uint64_t label, tag;
	int rc = alloc_cap(src, SIGNAL_SEMAPHORE, CAP_INVALID, 0, 0, sem);

	if (rc)
		return rc;
	u->mr[0] = IRQ_BIND;
	u->mr[1] = u->tcr[TCR_THREAD_KCAP];
	u->mr[2] = 0x5e0001;
	tag = sys_invoke(cap_kcap(*sem), TAG(SYS_OP_CALL, PROTO_IRQ, 3, 0),
			 SYS_TIMEOUT_NEVER, &label);
	return TAG_ERROR(tag) ? -EIO : 0;
}

/* Pending triggers of sem, waiting up to us microseconds for the first
 * (closed wait on the irq). */
static unsigned triggers(cap_t sem, uint64_t us)
{
	uint64_t label, kcap = cap_kcap(sem);
	unsigned n = 0;

	while (
	    !TAG_ERROR(sys_invoke(kcap, TAG(SYS_OP_WAIT, 0, 0, 0), n ? 0 : us, &label)))
		n++;
	return n;
}

static int signal_wait(cap_t src, uint64_t *imprint, uint64_t *count)
{
	struct msg m;
	int rc = call(src, SIGNAL_WAIT, CAP_INVALID, 0, 0, &m);

	if (!rc && m.nwords < 2)
		rc = -EPROTO;
	if (!rc) {
		*imprint = m.w[0];
		*count = m.w[1];
	}
	return rc;
}

/* Submit counts on the context; the semaphore is triggered once per newly
 * queued context; SIGNAL_WAIT dequeues in FIFO order, then (0, 0). */
static int case_queue(struct env *env, struct tcase *t)
{
	cap_t src, sem, a, b;
	uint64_t im, n;
	struct msg m;

	CHECK(t, !alloc_cap(env->pd, PD_ALLOC_SIGNAL_SOURCE, CAP_INVALID, 0, 0, &src));
	CHECK(t, !bind_semaphore(src, &sem));
	CHECK(t, !alloc_cap(env->pd, PD_ALLOC_CONTEXT, src, 1, 0xa000, &a));
	CHECK(t, !alloc_cap(env->pd, PD_ALLOC_CONTEXT, src, 1, 0xb000, &b));
	CHECK(t, !call(env->pd, PD_SUBMIT, a, 1, 2, &m));
	CHECK(t, !call(env->pd, PD_SUBMIT, b, 1, 1, &m));
	CHECK(t, !call(env->pd, PD_SUBMIT, a, 1, 3, &m));
	CHECK(t, triggers(sem, 0) == 2);
	CHECK(t, !signal_wait(src, &im, &n) && im == 0xa000 && n == 5);
	CHECK(t, !signal_wait(src, &im, &n) && im == 0xb000 && n == 1);
	CHECK(t, !signal_wait(src, &im, &n) && im == 0 && n == 0);
	CHECK(t, !call(env->pd, PD_SUBMIT, b, 1, 1, &m));
	CHECK(t, triggers(sem, 0) == 1);
	CHECK(t, !signal_wait(src, &im, &n) && im == 0xb000 && n == 1);
	CHECK(t, call(env->pd, PD_SUBMIT, b, 1, 0, &m) == -EINVAL);
	return 0;
}

/* Quota is charged and given back; freed objects refuse further use. */
static int case_release(struct env *env, struct tcase *t)
{
	uint64_t base = caps_used(env->pd), im, n;
	cap_t src, ctx;
	struct msg m;

	CHECK(t, !alloc_cap(env->pd, PD_ALLOC_SIGNAL_SOURCE, CAP_INVALID, 0, 0, &src));
	CHECK(t, caps_used(env->pd) == base + 2);
	CHECK(t, !alloc_cap(env->pd, PD_ALLOC_CONTEXT, src, 1, 0x1000, &ctx));
	CHECK(t, caps_used(env->pd) == base + 3);
	CHECK(t, call(env->pd, PD_ALLOC_CONTEXT, ctx, 1, 0x1000, &m) == -EINVAL);
	CHECK(t, call(env->pd, PD_ALLOC_CONTEXT, src, 1, 0, &m) == -EINVAL);
	CHECK(t, call(ctx, SIGNAL_WAIT, CAP_INVALID, 0, 0, &m) == -EINVAL);
	CHECK(t, !call(env->pd, PD_SUBMIT, ctx, 1, 1, &m));
	CHECK(t, !call(env->pd, PD_FREE_CONTEXT, ctx, 0, 0, &m));
	CHECK(t, caps_used(env->pd) == base + 2);
	CHECK(t, call(env->pd, PD_SUBMIT, ctx, 1, 1, &m) == -EINVAL);
	CHECK(t, !signal_wait(src, &im, &n) && im == 0 && n == 0); /* unqueued */
	CHECK(t, !call(env->pd, PD_FREE_SIGNAL_SOURCE, src, 0, 0, &m));
	CHECK(t, caps_used(env->pd) == base);
	CHECK(t, signal_wait(src, &im, &n) == -ECONNREFUSED);
	return 0;
}

/* Timer: one-shot and periodic timeouts arrive as signals; elapsed time
 * is plausible; a cap that is not a context is refused. */
static int case_timer(struct env *env, struct tcase *t)
{
	cap_t src, sem, ctx, timer;
	uint64_t im, n, t0, t1;
	struct msg m;

	CHECK(t, !parent_session(env->parent, "Timer", "label=\"t\"", &timer));
	CHECK(t, !alloc_cap(env->pd, PD_ALLOC_SIGNAL_SOURCE, CAP_INVALID, 0, 0, &src));
	CHECK(t, !bind_semaphore(src, &sem));
	CHECK(t, !alloc_cap(env->pd, PD_ALLOC_CONTEXT, src, 1, 0x7000, &ctx));
	CHECK(t, call(timer, TIMER_SIGH, env->pd, 0, 0, &m) == -EINVAL);
	CHECK(t, call(timer, TIMER_SIGH, src, 0, 0, &m) == -EINVAL);
	CHECK(t, !call(timer, TIMER_SIGH, ctx, 0, 0, &m));
	CHECK(t, !call(timer, TIMER_ELAPSED, CAP_INVALID, 0, 0, &m) && m.nwords == 1);
	t0 = m.w[0];
	CHECK(t, !call(timer, TIMER_ONESHOT, CAP_INVALID, 1, 5000, &m));
	CHECK(t, triggers(sem, 200000) == 1);
	CHECK(t, !call(timer, TIMER_ELAPSED, CAP_INVALID, 0, 0, &m));
	t1 = m.w[0];
	CHECK(t, t1 - t0 >= 5000 && t1 - t0 < 200000);
	CHECK(t, !signal_wait(src, &im, &n) && im == 0x7000 && n == 1);
	/* a later one-shot replaced by a sooner one: the sooner one fires */
	CHECK(t, !call(timer, TIMER_ONESHOT, CAP_INVALID, 1, 10000000, &m));
	CHECK(t, !call(timer, TIMER_ONESHOT, CAP_INVALID, 1, 1000, &m));
	CHECK(t, triggers(sem, 100000) == 1);
	CHECK(t, !signal_wait(src, &im, &n) && im == 0x7000 && n == 1);
	/* periodic 2 ms for ~30 ms: several ticks, counts coalesce */
	CHECK(t, !call(timer, TIMER_PERIODIC, CAP_INVALID, 1, 2000, &m));
	sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), 30000, NULL);
	CHECK(t, !call(timer, TIMER_PERIODIC, CAP_INVALID, 1, 0, &m));
	CHECK(t, triggers(sem, 0) == 1);
	CHECK(t, !signal_wait(src, &im, &n) && im == 0x7000 && n >= 10 && n <= 16);
	CHECK(t, triggers(sem, 20000) == 0);
	CHECK(t, !call(env->parent, PARENT_CLOSE, timer, 0, 0, &m));
	return 0;
}

NODE_CASE(queue)
NODE_CASE(release)
NODE_CASE(timer)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		queue), /* counts, one trigger per newly queued context, FIFO */
	    cmocka_unit_test(release), /* quota back, freed context/source refused */
	    cmocka_unit_test(timer),   /* one-shot, sooner re-arm, periodic, bad sigh */
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
