/*
 * Receive-side dedupe of capabilities (insert_map) and synchronous RPC.
 *
 * Moving a received cap out of the receive window: the entry's slot is
 * mapped from the window slot (TASK_MAP inside the own task), which makes
 * it a child of the window slot in the kernel's mapping database.  The
 * window slot is therefore NOT unmapped afterwards (TASK_UNMAP would
 * revoke the child too); the kernel releases it, handing the child to its
 * parent, when the next map item lands in that slot.  Window slots are
 * marked CAP_ID_INVALID in the cap map, so a reader of the map knows to
 * skip them.  A window slot whose cap was not moved (duplicate, forged)
 * has no children and is unmapped at once.
 *
 * insert_map runs under the cap map lock (base/platform.h) from the lookup
 * to the reference it hands out: two threads that receive the same new
 * badge would otherwise both insert it (the second one's cap dropped), and
 * one that finds an entry whose last reference is being released would
 * take it while it is freed.
 */
#include <errno.h>
#include <stddef.h>
#include "platform.h"

struct base_thread *base_thread_self(void)
{
	return (struct base_thread *)(uintptr_t)sys_utcb()->tcr[TCR_USER];
}

int kerr_to_errno(unsigned kerr)
{
	switch (kerr) {
	case KERR_OK:
		return 0;
	case KERR_INVAL_CAP:
		return -ECONNREFUSED;
	case KERR_TIMEOUT:
		return -ETIMEDOUT;
	case KERR_ABORTED:
		return -EPIPE;
	case KERR_PERM:
		return -EPERM;
	case KERR_INVAL:
		return -EINVAL;
	case KERR_NOSYS:
		return -ENOSYS;
	case KERR_NOMEM:
		return -ENOMEM;
	case KERR_BUSY:
		return -EBUSY;
	case KERR_RANGE:
		return -ERANGE;
	default:
		return -EIO;
	}
}

/* TASK_* op on the own task with two arguments; *res = mr[0] of the
 * answer.  enum kerr. */
static unsigned task_op(uint64_t op, uint64_t a, uint64_t b, uint64_t c, unsigned words,
			uint64_t *res)
{
	struct utcb *u = sys_utcb();
	uint64_t label, tag;

	u->mr[0] = op;
	u->mr[1] = a;
	u->mr[2] = b;
	u->mr[3] = c;
	tag = sys_invoke(KCAP(FIXED_TASK), TAG(SYS_OP_CALL, PROTO_TASK, words, 0),
			 SYS_TIMEOUT_NEVER, &label);
	if (!TAG_ERROR(tag) && res)
		*res = TAG_WORDS(tag) ? u->mr[0] : 0;
	return TAG_ERROR(tag);
}

/* Map own kcap src to own kcap dst (dst's old content is revoked). */
static unsigned task_move(uint64_t src, uint64_t dst)
{
	return task_op(TASK_MAP, KCAP_INVALID, src | RIGHTS_ALL, dst, 4, NULL);
}

static int task_same(uint64_t a, uint64_t b)
{
	uint64_t r = 0;

	return !task_op(TASK_CAP_EQUAL, a, b, 0, 3, &r) && r == 1;
}

static int task_valid(uint64_t kcap)
{
	uint64_t r = 0;

	return !task_op(TASK_CAP_VALID, kcap, 0, 0, 2, &r) && r == 1;
}

static cap_t insert_map_locked(struct cap_map *m, uint64_t id, uint64_t window_kcap)
{
	struct cap_index *e = cap_map_find(m, id);
	uint64_t kcap;

	if (!e) {
		/* a new badge: a fresh entry, the cap moved out of the window */
		e = cap_map_insert(m, id);
		if (!e)
			goto drop;
		if (task_move(window_kcap, cap_map_kcap(m, e)) != KERR_OK) {
			cap_map_remove(m, e);
			goto drop;
		}
		/* empty the window slot, keeping the copy derived from it */
		base_unmap(window_kcap, UNMAP_RELEASE);
		return (cap_t){e};
	}
	kcap = cap_map_kcap(m, e);
	if (task_same(window_kcap, kcap)) {
		base_unmap(window_kcap, UNMAP_SELF);
		return cap_ref_locked((cap_t){e});
	}
	if (!task_valid(kcap)) {
		/* our copy was revoked: the new one takes its place */
		if (task_move(window_kcap, kcap) != KERR_OK)
			goto drop;
		base_unmap(window_kcap, UNMAP_RELEASE);
		return cap_ref_locked((cap_t){e});
	}
	/* a known badge naming a different object: forged */
drop:
	base_unmap(window_kcap, UNMAP_SELF);
	return CAP_INVALID;
}

cap_t cap_map_insert_map(struct cap_map *m, uint64_t id, uint64_t window_kcap)
{
	cap_t c;

	cap_map_lock();
	c = insert_map_locked(m, id, window_kcap);
	cap_map_unlock();
	return c;
}

/* A call to an object of the calling thread's own entrypoint would wait
 * for itself: dispatch it directly, with the reference effects of a real
 * round trip (the caller gains a reference to every cap in the reply). */
static int rpc_call_local(struct entrypoint *ep, struct rpc_object *obj, struct msg *m)
{
	obj->dispatch(obj, m);
	cap_map_lock();
	for (unsigned i = 0; i < m->ncaps; i++)
		cap_ref_locked(m->caps[i]);
	cap_map_unlock();
	(void)ep;
	return 0;
}

int rpc_call(cap_t dst, struct msg *m)
{
	return rpc_call_timeout(dst, m, SYS_TIMEOUT_NEVER);
}

#define RPC_TAKEN_POLL_US 200

int rpc_call_taken_within(cap_t dst, struct msg *m, uint64_t send_us)
{
	uint64_t tries = send_us / RPC_TAKEN_POLL_US + 1, label;
	int rc;

	/* m is the request again after each -ETIMEDOUT: nothing was sent */
	while ((rc = rpc_call_timeout(dst, m, 0)) == -ETIMEDOUT && --tries)
		sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), RPC_TAKEN_POLL_US,
			   &label);
	return rc;
}

/* The badges of dst and of the caps sent are in registers from their
 * reading up to the trap (cap_badges_hold: a checkpoint does not cut
 * there; a restore would leave them stale and the call would name dead
 * objects).  At the trap all of them are in the UTCB, where a restore
 * rewrites them; the caller's span, if any, goes on from the moment the
 * reply is delivered (TCR_BADGES_AT_REPLY, abi.h), not from the first
 * instruction after the trap: a thread paused between the two would hold
 * a reply's badge (thread_create's new thread) unmarked.  The marks
 * are plain stores to the UTCB, without branches (cap_badges_hold's
 * calls and NULL checks cost bench_ipc's round trip about 100 ns). */
int rpc_call_timeout(cap_t dst, struct msg *m, uint64_t timeout_us)
{
	struct base_thread *bt;
	struct utcb *u;
	uint64_t tag, label, first, kcap, held;
	int err;

	if (!cap_valid(dst))
		return -EINVAL;
	u = sys_utcb();
	held = u->tcr[TCR_BADGES];
	u->tcr[TCR_BADGES] = TCR_BADGES_HELD;
	__asm__ volatile("" ::: "memory"); /* no badge is read above the mark */
	bt = base_thread_self();
	if (bt && bt->ep) {
		struct rpc_object *obj = ep_lookup(bt->ep, cap_badge(dst));

		if (obj && obj->cap.idx == dst.idx) {
			u->tcr[TCR_BADGES] = held;
			return rpc_call_local(bt->ep, obj, m);
		}
	}
	tag = msg_to_utcb(u, m, cap_badge(dst));
	u->br[0] = bt ? bt->window : KCAP_INVALID;
	kcap = cap_kcap(dst);
	__asm__ volatile("" ::: "memory");
	/* a caller's own span goes on once the reply is there: the kernel
	 * sets it as it delivers the reply, before this thread runs again */
	u->tcr[TCR_BADGES] = held ? TCR_BADGES_AT_REPLY : 0;
	tag = sys_invoke(kcap, tag | TAG(SYS_OP_CALL, 0, 0, 0), timeout_us, &label);
	u->tcr[TCR_BADGES] = held;
	if (TAG_ERROR(tag))
		return kerr_to_errno(TAG_ERROR(tag));
	err = msg_from_utcb(u, tag, m, &first);
	return err ? -EPROTO : 0;
}
