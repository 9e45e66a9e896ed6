/*
 * Revocation through the served proxies.  On Fiasco.OC, unmapping a cap
 * revokes every copy derived from it: a server that revokes the copies of
 * an object's cap it gave away (TASK_UNMAP without UNMAP_SELF) takes the
 * cap from each client that got one.  A client of a served target holds
 * the monitor's proxy instead, and the proxy forwards through the
 * monitor's own cap of the target's object.  So that the target's
 * revocation reaches its clients as without the monitor:
 *
 * - the monitor's cap of the target's object is derived from the
 *   target's: the copy from core that the monitor got when the target
 *   allocated the gate is released once the reply is sent (its copies, the
 *   target's among them, move up to core's), and the next copy the target
 *   hands out, in a reply or a request, takes its place in the monitor's
 *   cap map (libbase's insert_map fills an entry whose cap is gone); a
 *   restore has core derive it from the target's recreated gate
 *   (PD_DERIVE_CAPS, restore_caps.c);
 * - when a call the target answered returns through a served proxy, the
 *   monitor looks at the real cap of each proxy of that target: one the
 *   target's revocation has emptied gets the copies of the proxy that
 *   the clients hold revoked in turn, before the reply reaches the
 *   caller, so the client's next call through it fails in the kernel
 *   (-ECONNREFUSED) as it would without the monitor.  The proxy itself
 *   stays: when the target hands the same object out again, the client
 *   gets the same proxy, whose real is then the new copy;
 * - a gate the target frees (PD_FREE_RPC_CAP) takes its proxies with it.
 *
 * What the monitor does not see: a revocation whose news reaches a
 * client by another way than a call through the monitor (shared memory,
 * a component outside the group).  Such a client's next call through the
 * proxy fails, with the proxy's error (RPC_ERROR -ECONNREFUSED), and
 * revokes its copies from then on.
 */
#include <errno.h>

#include "monitor/monitor.h"

uint64_t served_task_op(uint64_t op, uint64_t kcap, uint64_t arg, int *err)
{
	struct utcb *u = sys_utcb();
	uint64_t label, tag;

	u->mr[0] = op;
	u->mr[1] = kcap;
	u->mr[2] = arg;
	tag = sys_invoke(KCAP(FIXED_TASK), TAG(SYS_OP_CALL, PROTO_TASK, 3, 0),
			 SYS_TIMEOUT_NEVER, &label);
	if (err)
		*err = TAG_ERROR(tag) ? -EINVAL : 0;
	return TAG_ERROR(tag) ? 0 : u->mr[0];
}

/* Gates the targets allocated whose reply is being sent: (monitor,
 * badge), released by release_made() on the entrypoint that replies. */
#define MADE_MAX 16
static struct {
	struct monitor *mon;
	uint64_t badge;
} made[MADE_MAX];
static unsigned nmade;

static void release_made(void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < nmade; i++) {
		const struct mon_record *r = record_find(made[i].mon, made[i].badge);

		/* UNMAP_RELEASE: the target's copy, derived from ours, moves
		 * up to core's and stays; our entry stays, without a cap */
		if (r && r->cls == MON_CLASS_RPC_GATE && r->cap.idx &&
		    cap_kcap(r->cap) != KCAP_INVALID)
			served_task_op(TASK_UNMAP, cap_kcap(r->cap), UNMAP_RELEASE, NULL);
	}
	nmade = 0;
}

void served_gate_made(struct monitor *mon, struct entrypoint *ep, cap_t gate)
{
	if (!cap_valid(gate))
		return;
	if (nmade == MADE_MAX)
		return; /* full: this gate keeps core's copy (not revocable) */
	if (!nmade)
		ep_defer(ep, release_made, NULL);
	made[nmade].mon = mon;
	made[nmade++].badge = cap_badge(gate);
}

static int is_served(const struct proxy *p)
{
	return p->used && (p->type == &served_proxy_type || p->type == &root_proxy_type);
}

void served_gate_freed(struct monitor *mon, uint64_t badge)
{
	for (int i = 0; i < MON_MAX_PROXIES; i++) {
		struct proxy *p = &mon->proxy[i];

		/* freeing the proxy's gate revokes every copy of it */
		if (is_served(p) && p->state[SERVED_BADGE] == badge)
			proxy_destroy(mon, p);
	}
}

void served_check(struct monitor *mon)
{
	for (int i = 0; i < MON_MAX_PROXIES; i++) {
		struct proxy *p = &mon->proxy[i];
		uint64_t kcap;

		if (!is_served(p) || !p->real.idx ||
		    (kcap = cap_kcap(p->real)) == KCAP_INVALID)
			continue;
		if (served_task_op(TASK_CAP_VALID, kcap, 0, NULL)) {
			p->state[SERVED_CUT] = 0;
			continue;
		}
		if (p->state[SERVED_CUT])
			continue;
		/* without UNMAP_SELF: the proxy's own cap stays */
		served_task_op(TASK_UNMAP, cap_kcap(p->obj.cap), 0, NULL);
		p->state[SERVED_CUT] = p->state[SERVED_WAS_CUT] = 1;
	}
}

int served_copy_revoked(struct monitor *owner, struct monitor *holder, uint64_t badge,
			uint64_t kcap)
{
	const struct proxy *p = proxy_find(owner, badge);
	struct msg m;

	if (!p || !is_served(p) || !p->state[SERVED_WAS_CUT])
		return 0;
	msg_reset(&m, PD_CAP_VALID);
	msg_put(&m, kcap);
	return !rpc_call(holder->pd, &m) && m.code == RPC_OK && m.nwords >= 1 && !m.w[0];
}

void served_mark_cut(struct monitor *mon, cap_t c)
{
	struct proxy *p = proxy_find(mon, cap_badge(c));

	if (p && is_served(p))
		p->state[SERVED_WAS_CUT] = 1;
}
