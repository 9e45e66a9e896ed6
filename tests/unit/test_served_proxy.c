/* A restore's prepare of a served proxy (monitor/served_proxy.c): a
 * proxy of an old object is pointed at the object recreated for it (by
 * the badge map); a proxy the restore itself made for a recreated object
 * (a group's restore wraps a member's new gate for another member before
 * it prepares) stays at that object, even when its new badge is the old
 * badge of another object of the image, as a badge allocated on another
 * node can be.  Badges as in a group_rpc restore that went wrong so: the
 * server's session 0x1e0 became 0x1c0, its root 0x1c0 became 0x1c4, and
 * the client's session proxy ended at the root. */
/* LDFLAGS: -Wl,--wrap=kernel_native_utcb */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>

#include "base/native/native.h"
#include "monitor/monitor.h"
#include "monitor/restore_state.h"

/* libbase's state (its cap map's lock) for this host thread */
static struct utcb fake_utcb;
static struct native_component fake_nc;

struct utcb *__wrap_kernel_native_utcb(void)
{
	fake_utcb.tcr[TCR_COMPONENT] = (uint64_t)(uintptr_t)&fake_nc;
	return &fake_utcb;
}

static struct cap_index idx[3];

/* A cap of a fake object (fixed: cap_ref and cap_release leave it). */
static cap_t cap_of(unsigned i, uint64_t badge)
{
	idx[i].id = badge;
	idx[i].fixed = 1;
	return (cap_t){&idx[i]};
}

/* A restore that made the session 0x1e0 anew as 0x1c0 and the root
 * 0x1c0 as 0x1c4. */
static struct rs *restore(void)
{
	struct rs *rs = calloc(1, sizeof *rs);

	rs->mon = calloc(1, sizeof *rs->mon);
	badge_map_add(&rs->bm, 0x1e0, 0x1c0);
	badge_map_add(&rs->bm, 0x1c0, 0x1c4);
	rs->cap[rs->ncaps++] =
	    (struct rs_cap){MON_CLASS_RPC_GATE, cap_of(0, 0x1c0), 0, 0x1c0};
	rs->cap[rs->ncaps++] =
	    (struct rs_cap){MON_CLASS_RPC_GATE, cap_of(1, 0x1c4), 0, 0x1c4};
	return rs;
}

static void release(struct rs *rs)
{
	free(rs->mon);
	free(rs);
}

/* A served proxy of rs's monitor for real (badge), made by rs or not. */
static struct proxy served(struct rs *rs, cap_t real, int made)
{
	struct proxy p = {.mon = rs->mon, .type = &served_proxy_type, .real = real};

	p.state[SERVED_BADGE] = cap_badge(real);
	p.state[SERVED_MADE] = (uint64_t)made;
	return p;
}

/* prepare then apply, as restore_hooks.c drives them */
static void prepare_apply(struct proxy *p, struct rs *rs)
{
	assert_int_equal(p->type->prepare(p, rs), 0);
	p->type->apply(p);
}

static void made_by_the_restore_stays_at_its_object(void **state)
{
	struct rs *rs = restore();
	struct proxy p = served(rs, cap_of(0, 0x1c0), 1);

	prepare_apply(&p, rs);
	assert_int_equal(p.state[SERVED_BADGE], 0x1c0);
	assert_int_equal(cap_badge(p.real), 0x1c0);
	assert_ptr_equal(p.real.idx, &idx[0]);
	/* the next restore translates it as any other */
	assert_int_equal(p.state[SERVED_MADE], 0);
	release(rs);
}

static void of_an_old_object_goes_to_its_new_one(void **state)
{
	struct rs *rs = restore();
	struct cap_index old_session = {.id = 0x1e0, .fixed = 1};
	struct cap_index old_root = {.id = 0x1c0, .fixed = 1};
	struct proxy session = served(rs, (cap_t){&old_session}, 0);
	struct proxy root = served(rs, (cap_t){&old_root}, 0);

	prepare_apply(&session, rs);
	assert_int_equal(session.state[SERVED_BADGE], 0x1c0);
	assert_ptr_equal(session.real.idx, &idx[0]);
	prepare_apply(&root, rs);
	assert_int_equal(root.state[SERVED_BADGE], 0x1c4);
	assert_ptr_equal(root.real.idx, &idx[1]);
	release(rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(made_by_the_restore_stays_at_its_object),
	    cmocka_unit_test(of_an_old_object_goes_to_its_new_one),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
