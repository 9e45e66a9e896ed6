/* libbase entrypoint: object pool (manage, lookup, dissolve, rebuild after
 * rebadging), dispatch rules (unknown badge, badge/label mismatch, irq
 * labels, malformed requests) and the ep_run loop with the exit cap and
 * deferred work, against a faked kernel and rpc cap factory. */
/* LDFLAGS: -Wl,--wrap=kernel_native_invoke -Wl,--wrap=kernel_native_utcb */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "base/native/native.h"
#include "fake_native.h"

static struct utcb fake_utcb;
static struct native_component *fake_nc;

/* ---- scripted kernel: each wait takes the next incoming message ---- */
struct incoming {
	uint64_t label;
	uint64_t dst; /* mr[0] */
	uint64_t code;
	uint64_t arg;
	int irq; /* 1: an irq message (no words) */
};
static struct incoming script[8];
static unsigned nscript, next_in;
static uint64_t replies[8]; /* exception codes of the replies sent */
static unsigned nreplies, irq_binds, gate_frees;

struct utcb *__wrap_kernel_native_utcb(void)
{
	return &fake_utcb;
}

static void record_reply(uint64_t tag)
{
	if (TAG_WORDS(tag) >= 3 && nreplies < 8)
		replies[nreplies++] = fake_utcb.mr[0];
}

uint64_t __wrap_kernel_native_invoke(uint64_t kcap, uint64_t tag, uint64_t timeout,
				     uint64_t *label)
{
	struct incoming *in;

	*label = 0;
	switch (TAG_OP(tag)) {
	case SYS_OP_REPLY:
		record_reply(tag);
		return 0;
	case SYS_OP_REPLY_WAIT:
		record_reply(tag);
		/* fall through */
	case SYS_OP_WAIT:
		assert_true(next_in < nscript); /* ep_run must have returned */
		in = &script[next_in++];
		*label = in->label;
		if (in->irq)
			return TAG(0, 0, 0, 0);
		fake_utcb.mr[0] = in->dst;
		fake_utcb.mr[1] = 0;
		fake_utcb.mr[2] = in->code;
		fake_utcb.mr[3] = in->arg;
		return TAG(0, 0, 4, 0);
	case SYS_OP_CALL:
		if (TAG_PROTO(tag) == PROTO_IRQ && fake_utcb.mr[0] == IRQ_BIND) {
			irq_binds++;
			return 0;
		}
		return 0; /* task ops (unmap on release) succeed */
	}
	return TAG_WITH_ERROR(0, KERR_NOSYS);
}

/* ---- fake rpc cap factory: random badges, entries in our cap map ---- */
static int fake_alloc(void *ctx, cap_t ep_thread, cap_t *gate)
{
	for (;;) {
		uint64_t badge = (((uint64_t)rand() << 20) ^ (uint64_t)rand()) & ~3ULL;
		struct cap_index *e;

		if (!badge || cap_map_find(cap_map(), badge))
			continue;
		e = cap_map_insert(cap_map(), badge);
		if (!e)
			return -ENOSPC;
		*gate = (cap_t){e};
		return 0;
	}
}

static int fake_free(void *ctx, cap_t gate)
{
	gate_frees++;
	cap_release(gate);
	return 0;
}

static const struct rpc_cap_factory fake_factory = {fake_alloc, fake_free, NULL};

static struct entrypoint *ep;
static unsigned served;

static void count_dispatch(struct rpc_object *obj, struct msg *m)
{
	uint64_t v = m->nwords ? m->w[0] : 0;

	served++;
	msg_reset(m, RPC_OK);
	msg_put(m, v + 1);
}

static int setup(void **state)
{
	struct base_state *bs;
	cap_t self;

	if (fake_native_begin(&fake_utcb, &fake_nc))
		return -1;
	bs = base_state();
	self = (cap_t){
	    cap_map_insert_at(cap_map(), 0x1000, KCAP_THREAD(0, THREAD_SLOT_GATE))};
	bs->main_thread.window =
	    cap_map_kcap(cap_map(), cap_map_alloc_range(cap_map(), 4));
	nscript = next_in = nreplies = irq_binds = gate_frees = served = 0;
	srand(4242);
	ep = ep_main();
	return ep_init(ep, &bs->env, self, &bs->main_thread, &fake_factory);
}

static int teardown(void **state)
{
	free(ep->irqs); /* an entrypoint's irq table lives as long as it */
	ep->irqs = NULL;
	ep->nirqs = 0;
	free(fake_nc);
	return 0;
}

/* Feed one request through ep_handle; returns the reply's exception. */
static uint64_t request(uint64_t label, uint64_t dst, uint64_t code, uint64_t arg,
			uint64_t *result)
{
	uint64_t tag, reply = 0, first;
	struct msg r;

	fake_utcb.mr[0] = dst;
	fake_utcb.mr[1] = 0;
	fake_utcb.mr[2] = code;
	fake_utcb.mr[3] = arg;
	tag = TAG(0, 0, 4, 0);
	assert_int_equal(ep_handle(ep, &fake_utcb, tag, label, &reply), 1);
	assert_int_equal(msg_from_utcb(&fake_utcb, reply, &r, &first), 0);
	assert_int_equal(first, r.code);
	if (result)
		*result = r.nwords ? r.w[0] : 0;
	return r.code;
}

/* ---- cases ---------------------------------------------------------------*/

/* The exit object is managed from the start and findable by its cap. */
static void exit_object_managed(void **state)
{
	cap_t x = ep_exit_cap(ep);

	assert_true(cap_valid(x));
	assert_ptr_equal(ep_lookup(ep, cap_badge(x)), &ep->exit_obj);
	assert_int_equal(ep_pool_check(ep), 0);
}

/* Managing, looking up and dissolving many objects with random badges
 * keeps the pool consistent; dissolved objects are gone and their gates
 * returned to the factory. */
static void pool_manage_lookup_dissolve(void **state)
{
	enum { N = 300 };
	static struct rpc_object objs[N];

	for (int i = 0; i < N; i++) {
		cap_t c = ep_manage(ep, &objs[i], count_dispatch);

		assert_true(cap_valid(c));
		assert_int_equal(objs[i].badge, cap_badge(c));
		assert_int_equal(ep_pool_check(ep), 0);
	}
	for (int i = 0; i < N; i++)
		assert_ptr_equal(ep_lookup(ep, objs[i].badge), &objs[i]);
	for (int i = 0; i < N; i += 2) {
		uint64_t badge = objs[i].badge;

		ep_dissolve(ep, &objs[i]);
		assert_null(ep_lookup(ep, badge));
		assert_null(cap_map_find(cap_map(), badge));
		assert_int_equal(ep_pool_check(ep), 0);
	}
	assert_int_equal(gate_frees, N / 2);
	ep_dissolve(ep, &objs[0]); /* twice: no effect */
	assert_int_equal(gate_frees, N / 2);
	for (int i = 1; i < N; i += 2)
		assert_ptr_equal(ep_lookup(ep, objs[i].badge), &objs[i]);
}

/* After a restorer rebadges the caps (same slots, new ids) the pool is
 * stale until ep_pool_rebuild, then every object is found by its new
 * badge. */
static void pool_rebuild_after_rebadge(void **state)
{
	enum { N = 64 };
	static struct rpc_object objs[N];

	for (int i = 0; i < N; i++)
		ep_manage(ep, &objs[i], count_dispatch);
	for (int i = 0; i < N; i++)
		assert_int_equal(
		    cap_map_rekey(cap_map(), objs[i].cap.idx, 0x7000000 + 4 * (N - i)),
		    0);
	assert_int_not_equal(ep_pool_check(ep), 0);
	ep_pool_rebuild(ep);
	assert_int_equal(ep_pool_check(ep), 0);
	for (int i = 0; i < N; i++)
		assert_ptr_equal(ep_lookup(ep, 0x7000000 + 4 * (N - i)), &objs[i]);
	assert_ptr_equal(ep_lookup(ep, cap_badge(ep_exit_cap(ep))), &ep->exit_obj);
}

/* Dispatch rules: a known badge is served (rights bits in the label are
 * ignored), an unknown one or a request whose mr[0] differs from the
 * label's badge is answered RPC_INVALID_OBJECT. */
static void dispatch_rules(void **state)
{
	struct rpc_object o;
	uint64_t b, res = 0;

	ep_manage(ep, &o, count_dispatch);
	b = o.badge;
	assert_int_equal(request(b | RIGHT_W, b, 1, 41, &res), RPC_OK);
	assert_int_equal(res, 42);
	assert_int_equal(served, 1);
	assert_int_equal(request(b + 4, b + 4, 1, 0, NULL), RPC_INVALID_OBJECT);
	assert_int_equal(request(b, b + 4, 1, 0, NULL), RPC_INVALID_OBJECT);
	assert_int_equal(request(b + 4, b, 1, 0, NULL), RPC_INVALID_OBJECT);
	assert_int_equal(request(0, 0, 1, 0, NULL), RPC_INVALID_OBJECT);
	assert_int_equal(served, 1);
}

/* A malformed request gets RPC_ERROR(-EINVAL) rather than no answer. */
static void malformed_request_answered(void **state)
{
	uint64_t reply = 0, first;
	struct msg r;

	fake_utcb.mr[0] = 4;
	fake_utcb.mr[1] = 9; /* more caps than allowed */
	assert_int_equal(ep_handle(ep, &fake_utcb, TAG(0, 0, 3, 0), 4, &reply), 1);
	assert_int_equal(msg_from_utcb(&fake_utcb, reply, &r, &first), 0);
	assert_int_equal(r.code, RPC_ERROR);
	assert_int_equal((int64_t)r.w[0], -EINVAL);
}

static unsigned irq_hits;
static void irq_fn(void *arg)
{
	irq_hits += (unsigned)(uintptr_t)arg;
}

/* Irq messages (no words, an irq label) run their handler and need no
 * reply; unknown irq labels are ignored. */
static void irq_handlers(void **state)
{
	cap_t irq = {cap_map_insert(cap_map(), 0x5000)};
	uint64_t reply;

	irq_hits = 0;
	assert_int_equal(ep_irq_handler(ep, irq, irq_fn, (void *)3), 0);
	assert_int_equal(irq_binds, 1);
	assert_int_equal(
	    ep_handle(ep, &fake_utcb, TAG(0, 0, 0, 0), EP_IRQ_LABEL(0), &reply), 0);
	assert_int_equal(irq_hits, 3);
	assert_int_equal(
	    ep_handle(ep, &fake_utcb, TAG(0, 0, 0, 0), EP_IRQ_LABEL(5), &reply), 0);
	assert_int_equal(irq_hits, 3);
	assert_int_equal(ep_irq_handler(ep, CAP_INVALID, irq_fn, NULL), -EINVAL);
	/* a zero-word message through a gate is not an irq: it is answered */
	assert_int_equal(ep_handle(ep, &fake_utcb, TAG(0, 0, 0, 0), 0x5000 | 1, &reply),
			 1);
	assert_int_equal(irq_hits, 3);
}

/* No fixed number of irqs per entrypoint (init binds one per child): the
 * table grows, and every irq keeps its own label. */
static void many_irq_handlers(void **state)
{
	enum { N = 300 };
	uint64_t reply;

	irq_hits = 0;
	for (unsigned i = 0; i < N; i++) {
		cap_t irq = {cap_map_insert(cap_map(), 0x10000 + 4 * i)};

		assert_int_equal(
		    ep_irq_handler(ep, irq, irq_fn, (void *)(uintptr_t)(i + 1)), 0);
	}
	assert_int_equal(irq_binds, N);
	assert_int_equal(
	    ep_handle(ep, &fake_utcb, TAG(0, 0, 0, 0), EP_IRQ_LABEL(N - 1), &reply), 0);
	assert_int_equal(irq_hits, N);
	assert_int_equal(
	    ep_handle(ep, &fake_utcb, TAG(0, 0, 0, 0), EP_IRQ_LABEL(7), &reply), 0);
	assert_int_equal(irq_hits, N + 8);
}

static unsigned deferred_runs, replies_at_defer;
static void deferred(void *arg)
{
	deferred_runs++;
	replies_at_defer = nreplies;
}

static void defer_dispatch(struct rpc_object *obj, struct msg *m)
{
	ep_defer(ep, deferred, NULL);
	msg_reset(m, RPC_OK);
}

/* ep_run serves requests until the exit cap is invoked; deferred work
 * runs only after its request's reply was sent; the exit request is
 * answered before ep_run returns. */
static void run_until_exit(void **state)
{
	struct rpc_object o, d;
	uint64_t x = cap_badge(ep_exit_cap(ep));

	ep_manage(ep, &o, count_dispatch);
	ep_manage(ep, &d, defer_dispatch);
	script[0] = (struct incoming){o.badge, o.badge, 1, 5, 0};
	script[1] = (struct incoming){0x123454, 0x123454, 1, 5, 0}; /* unknown */
	script[2] = (struct incoming){d.badge, d.badge, 1, 0, 0};
	script[3] = (struct incoming){x | RIGHT_W, x, 1, 0, 0};
	nscript = 4;
	ep_run(ep);
	assert_int_equal(next_in, 4);
	assert_int_equal(served, 1);
	assert_int_equal(deferred_runs, 1);
	assert_int_equal(replies_at_defer, 3); /* its own reply was out already */
	assert_int_equal(nreplies, 4);
	assert_int_equal(replies[0], RPC_OK);
	assert_int_equal(replies[1], RPC_INVALID_OBJECT);
	assert_int_equal(replies[2], RPC_OK);
	assert_int_equal(replies[3], RPC_OK);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(exit_object_managed),	   T(pool_manage_lookup_dissolve),
	    T(pool_rebuild_after_rebadge), T(dispatch_rules),
	    T(malformed_request_answered), T(irq_handlers),
	    T(many_irq_handlers),	   T(run_until_exit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
