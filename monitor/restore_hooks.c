/*
 * The steps of a restore between building the new target and the point
 * of no return, and the step after it.  Every step that can fail runs
 * before the commit and changes nothing the old target uses, so that a
 * failure leaves the node as it was:
 *
 *   prepare   each proxy's hook (Timer, region map, served object) sets
 *             up, at real objects, the state that names the recreated
 *             objects; the new CPU session's fault irq is bound; signals
 *             drained at the checkpoint are queued at the new contexts.
 *   verify    the new target's memory: every cap at its kcap with its new
 *             badge, cap map and every object pool consistent.
 *   announce  a root the target announced on another node is announced
 *             again (last: an announcement cannot be taken back).
 *   apply     after the commit: the prepared state becomes current; no
 *             step of it can fail.
 *
 * In a test build (CAPSULE_TEST_HOOKS, capsule-test; monitor/test_hooks.c)
 * <test fail_restore_at="STEP"> makes the named step fail and
 * <test fail_restore_nth="N"> the Nth point of any kind (restore_point).
 * Other builds only count the points.  In every build a client's cancel
 * (Ctrl-C on `capsule restore`) fails the next point.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <capsule/control.h>

#include "config/test_env.h"
#include "monitor/group.h"
#include "monitor/restore_state.h"
#include "monitor/verify.h"

/* The test hook of tests/cli/cancel.sh: each point waits this long, so
 * that a Ctrl-C reaches a restore half made.  Read once (the node's
 * environment is set when it starts): a restore passes hundreds of
 * points, and a group's passes one per cap between members. */
static void restore_point_stall(void)
{
	static long stall_ms = -1;

	if (stall_ms < 0) {
		const char *v = test_env("CAPSULE_TEST_RESTORE_POINT_MS");
		long ms = v ? strtol(v, NULL, 10) : 0;
		stall_ms = ms > 0 && ms <= 10000 ? ms : 0;
	}
	if (stall_ms)
		usleep((useconds_t)stall_ms * 1000);
}

int restore_point(struct monitor *mon, const char *what)
{
	/* a group's members are restored as one: points counted across them,
	 * and its control endpoint is the group's */
	struct control_mailbox *mb = mon->group ? mon->group->endpoint : mon->endpoint;
	unsigned n = ++mon->restore_points;

	if (mon->group)
		mon->group->restore_points++;
	restore_point_stall();
	if (mb && control_cancelled(mb)) { /* Ctrl-C */
		env_log(mon->env, "monitor: restore: cancelled at point %u (%s)", n,
			what);
		return -ECANCELED;
	}
#ifdef CAPSULE_TEST_HOOKS
	unsigned *nth = &mon->cfg.fail_restore_nth;
	if (mon->group) {
		n = mon->group->restore_points;
		nth = &mon->group->cfg.fail_restore_nth;
	}
	if (n == *nth) {
		*nth = 0; /* once: the next restore goes through */
		env_log(mon->env,
			"monitor: restore: failing at point %u (%s) (test hook)", n,
			what);
		return -ECANCELED;
	}
#endif
	return 0;
}

int restore_forced(struct rs *rs, const char *step)
{
	int rc = restore_point(rs->mon, step);

#ifdef CAPSULE_TEST_HOOKS
	if (!rc && !strcmp(rs->mon->cfg.fail_restore_at, step)) {
		env_log(rs->mon->env, "monitor: restore: failing at '%s' (test hook)",
			step);
		/* a group's: once (its next members' monitors copy its config) */
		if (rs->mon->group)
			rs->mon->group->cfg.fail_restore_at[0] = 0;
		return -ECANCELED;
	}
#endif
	return rc;
}

uint64_t restore_new_badge(const struct rs *rs, uint64_t old)
{
	return badge_map_new(&rs->bm, old);
}

cap_t restore_new_cap(const struct rs *rs, uint64_t new_badge)
{
	struct mon_record *r;

	for (unsigned i = 0; i < rs->ncaps; i++)
		if (rs->cap[i].badge == new_badge)
			return rs->cap[i].cap;
	for (unsigned i = 0; i < rs->nds; i++)
		if (cap_badge(rs->ds[i].cap) == new_badge)
			return rs->ds[i].cap;
	/* objects an image restore made beforehand are records already */
	r = record_find(rs->mon, new_badge);
	return r && r->cls != MON_CLASS_DEAD ? r->cap : CAP_INVALID;
}

/* Is p one of the region maps this restore made (the old target's go at
 * the commit and are not prepared)? */
static int made_map(const struct rs *rs, const struct proxy *p)
{
	for (unsigned i = 0; i < rs->rm.n; i++)
		if (rs->rm.map[i].p == p)
			return 1;
	return 0;
}

static int hooked(const struct rs *rs, const struct proxy *p)
{
	return p->used && p->type->prepare &&
	       (p->type != &region_map_proxy_type || made_map(rs, p));
}

static int prepare_proxies(struct rs *rs)
{
	struct monitor *mon = rs->mon;
	int rc;

	for (int i = 0; i < MON_MAX_PROXIES; i++) {
		struct proxy *p = &mon->proxy[i];
		if (!hooked(rs, p))
			continue;
		rs->what = p->type->name;
		if ((rc = restore_forced(rs, p->type->name)) ||
		    (rc = p->type->prepare(p, rs)))
			return rc;
		p->prepared = 1;
	}
	return 0;
}

/* The drained signals, queued at the new target's contexts. */
static int prepare_signals(struct rs *rs)
{
	int rc;

	rs->what = "signals";
	if ((rc = restore_forced(rs, "signals")))
		return rc;
	for (unsigned i = 0; i < rs->m->npending; i++) {
		cap_t ctx = CAP_INVALID;
		struct msg m;

		for (unsigned k = 0; k < rs->ncaps && !ctx.idx; k++)
			if (rs->cap[k].cls == MON_CLASS_SIGNAL_CONTEXT &&
			    rs->cap[k].aux == rs->m->pending[i].imprint)
				ctx = rs->cap[k].cap;
		if (!ctx.idx)
			return -ESRCH; /* a pending signal whose context is gone */
		msg_reset(&m, PD_SUBMIT);
		msg_put_cap(&m, ctx);
		msg_put(&m, rs->m->pending[i].count);
		if ((rc = rpc_call(rs->pd, &m)) || m.code != RPC_OK)
			return rc ? rc : -EPROTO;
	}
	return 0;
}

int restore_prepare(struct rs *rs)
{
	int rc;

	if ((rc = prepare_proxies(rs)))
		return rc;
	rs->what = "watch";
	if ((rc = restore_forced(rs, "watch")) ||
	    (rc = target_watch_prepare(rs->mon, rs->cpu, &rs->exc_irq)))
		return rc;
	return prepare_signals(rs);
}

/* End every prepared proxy hook with its undo (apply 0) or apply. */
static void end_prepared(struct monitor *mon, int apply)
{
	for (int i = 0; i < MON_MAX_PROXIES; i++) {
		struct proxy *p = &mon->proxy[i];
		void (*end)(struct proxy *);

		if (!p->prepared)
			continue;
		end = apply ? p->type->apply : p->type->undo;
		if (end)
			end(p);
		p->prepared = 0;
	}
}

void restore_undo(struct rs *rs)
{
	end_prepared(rs->mon, 0);
	if (rs->exc_irq.idx)
		target_watch_undo(rs->mon, &rs->exc_irq);
}

int restore_verify(struct rs *rs, const struct mon_model *before)
{
	int rc;

	rs->what = "verify";
	if ((rc = restore_forced(rs, "verify")))
		return rc;
	return monitor_verify_restore_map(rs->mon, before, rs->m, &rs->bm);
}

int restore_announce(struct rs *rs)
{
	struct monitor *mon = rs->mon;
	int rc;

	rs->what = "announce";
	if ((rc = restore_forced(rs, "announce")))
		return rc;
	for (int i = 0; i < mon->nannounced; i++) {
		uint64_t nb = restore_new_badge(rs, mon->announced[i].badge);
		cap_t root = restore_new_cap(rs, nb);

		if (!root.idx)
			continue; /* it holds no cap of its root any more */
		if (served_root(mon, mon->announced[i].badge))
			continue; /* its proxy stays announced and is retargeted */
		/* a group's member: announced to the group at its commit */
		if ((rc = mon->group
			      ? served_root_wrap(mon, root)
			      : served_announce(mon, mon->announced[i].name, root))) {
			env_log(mon->env, "monitor: restore: cannot announce '%s' again",
				mon->announced[i].name);
			return rc;
		}
	}
	return 0;
}

void restore_apply(struct rs *rs)
{
	struct monitor *mon = rs->mon;

	end_prepared(mon, 1);
	target_watch_apply(mon, &rs->exc_irq);
	/* the roots it announced are its recreated gates now */
	for (int i = 0; i < mon->nannounced; i++) {
		struct mon_record *r =
		    record_find(mon, restore_new_badge(rs, mon->announced[i].badge));
		mon->announced[i].badge = r ? r->badge : 0;
	}
}
