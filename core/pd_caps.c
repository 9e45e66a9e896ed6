/*
 * PD session: the caps core maps into a PD and out of it.  A native PD
 * (the monitor) has caps put at kcaps it chooses (PD_MAP_CAP,
 * PD_MAP_CAPS), held by core for the PD's lifetime; derives its own
 * copies of gates it made in another PD (PD_DERIVE_CAPS); and has its
 * gates mapped into the PDs its task holds the sessions of (PD_MAP_OUT).
 * Every op checks all its input before it maps anything.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "core/core_internal.h"

/* Keep a reference to cap c, mapped at kcap, for the PD's lifetime (see
 * PD_MAP_CAP).  At most one hold per kcap: mapping again over a kcap drops
 * the earlier hold, so a client repeating the call cannot grow core. */
static int pd_hold(struct pd_session *pd, cap_t c, uint64_t kcap)
{
	struct pd_gate *h;

	for (h = pd->held; h; h = h->next) {
		if (h->kcap == kcap) {
			cap_t old = h->cap;

			h->cap = cap_ref(c);
			cap_release(old);
			return 0;
		}
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->cap = cap_ref(c);
	h->kcap = kcap;
	h->next = pd->held;
	pd->held = h;
	return 0;
}

/* A kcap a client may have core map into its PD: not 0, inside the cap
 * space, and not one of the fixed selectors other than the parent and
 * the thread area. */
int pd_kcap_ok(uint64_t kcap)
{
	uint64_t idx = KCAP_INDEX(kcap);

	if (!kcap || kcap % KCAP(1) || idx >= CAP_SLOTS)
		return 0;
	return idx >= FIXED_USER_BASE || idx == FIXED_PARENT || idx >= FIXED_THREAD_AREA;
}

/* Is a capability at kcap of the PD's task? */
int pd_cap_valid(struct pd_session *pd, uint64_t kcap)
{
	uint64_t w[2] = {TASK_CAP_INFO, kcap}, out[1] = {KOBJ_NONE};

	return !kobj_invoke(cap_kcap(pd->task), PROTO_TASK, w, 2, out, 1) &&
	       out[0] != KOBJ_NONE;
}

int pd_session_map_cap(struct pd_session *pd, cap_t c, uint64_t kcap)
{
	int err;

	if (!cap_valid(c) || !pd_kcap_ok(kcap))
		return -EINVAL;
	err = kobj_map(pd->task, c, kcap, RIGHT_R | RIGHT_W);
	if (err)
		return err;
	return pd_hold(pd, c, kcap);
}

/* PD_MAP_CAPS: caps[i] at the kcap in word i.  All are checked first, so
 * a refused cap or kcap maps none; kobj_map itself fails only when core
 * is out of memory, and the restore that asks then fails as a whole. */
int pd_session_map_caps(struct pd_session *pd, const struct msg *m)
{
	unsigned k = m->ncaps;
	int err = 0;

	if (k < 1 || k > MSG_MAX_ITEMS || m->nwords != k)
		return -EINVAL;
	for (unsigned i = 0; i < k; i++) {
		if (!cap_valid(m->caps[i]) || !pd_kcap_ok(m->w[i]))
			return -EINVAL;
		for (unsigned j = 0; j < i; j++)
			if (m->w[j] == m->w[i])
				return -EINVAL;
	}
	for (unsigned i = 0; i < k && !err; i++)
		err = pd_session_map_cap(pd, m->caps[i], m->w[i]);
	return err;
}

/* The gates at kcaps w[3i+1] of pd mapped at w[3i+2] of the task of
 * to[w[3i]], n of them, in one kernel call that checks all first
 * (TASK_MAP_OUT; flags TASK_MAP_OUT_*): a refused one maps none. */
static int pd_map_gates_out(struct pd_session *pd, struct pd_session *const *to,
			    const uint64_t *w, unsigned n, uint64_t flags)
{
	uint64_t k[2 + 3 * TASK_MAP_OUT_MAX] = {TASK_MAP_OUT, flags | TASK_MAP_OUT_GATES};

	if (!n || n > TASK_MAP_OUT_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		k[2 + 3 * i] = cap_kcap(to[w[3 * i]]->task);
		k[3 + 3 * i] = w[3 * i + 1] | RIGHT_R | RIGHT_W;
		k[4 + 3 * i] = w[3 * i + 2];
	}
	return kobj_invoke(cap_kcap(pd->task), PROTO_TASK, k, 2 + 3 * n, NULL, 0)
		   ? -EINVAL
		   : 0;
}

/* PD_DERIVE_CAPS: the caller (PD `to`) gets, at each of its kcaps that
 * it emptied for this, a copy of the gate at a kcap of this PD, derived
 * from the PD's own: revoking the PD's copies takes the caller's too (as
 * Fiasco.OC's mapping database does).  Gates only, into empty slots: the
 * holder of a PD session takes copies of what the PD serves, as the
 * holder of a task cap on Fiasco.OC can map out of that task. */
int pd_session_derive_caps(struct pd_session *pd, struct pd_session *to,
			   const struct msg *m)
{
	unsigned k = m->nwords / 2;
	uint64_t w[3 * TASK_MAP_OUT_MAX];

	if (!to || m->nwords % 2 || !k || k > TASK_MAP_OUT_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < k; i++) {
		uint64_t mine = m->w[2 * i + 1];
		if (!pd_kcap_ok(m->w[2 * i]) || !mine || mine % KCAP(1) ||
		    KCAP_INDEX(mine) < FIXED_USER_BASE)
			return -EINVAL;
		w[3 * i] = 0;
		w[3 * i + 1] = m->w[2 * i];
		w[3 * i + 2] = mine;
	}
	return pd_map_gates_out(pd, &to, w, k, TASK_MAP_OUT_EMPTY);
}

/* The k PD sessions whose caps pd's task holds at kcaps w[2j] under
 * badges w[2j+1] (kcaps of the client's own, if pd is its PD) into to:
 * the sessions found by their badges, and the kernel's word, in one
 * call, that each slot holds its session's very gate (a badge named is
 * no authority, the cap in the slot is).  0 or -EINVAL. */
static int pd_held_sessions(struct pd_session *pd, const uint64_t *w, unsigned k,
			    struct pd_session **to)
{
	uint64_t eq[4 + 2 * PD_MAP_OUT_PDS] = {TASK_CAP_EQUAL, 0, 0, KCAP_INVALID};
	uint64_t same = 0;

	for (unsigned j = 0; j < k; j++) {
		struct core_session *s =
		    core_session_by_badge(pd->core, w[2 * j + 1], &pd_session_ops);
		uint64_t *pair = j ? &eq[2 + 2 * j] : &eq[1];
		if (!s || !pd_kcap_ok(w[2 * j]) ||
		    (to[j] = container_of(s, struct pd_session, s)) == pd)
			return -EINVAL;
		pair[0] = w[2 * j];
		pair[1] = cap_kcap(s->obj.cap);
	}
	if (kobj_invoke(cap_kcap(pd->task), PROTO_TASK, eq, 2 + 2 * k, &same, 1) ||
	    same != 1)
		return -EINVAL;
	return 0;
}

/* PD_MAP_OUT (sessions.h): pairs (gate kcap of this PD, kcap | j) mapped
 * into the PD session that this PD's client names as j by its own kcap
 * and badge, derived as an IPC map item is: into several children in one
 * call.  The destinations are named in place, not sent as map items
 * (four a message, each moved into core's receive window, looked up and
 * unmapped again: half of the call's cost).  Gates from the user slots
 * only, not into the parent's slot; an occupied slot is replaced (as
 * PD_MAP_CAP).  Core keeps no hold (a PD_MAP_CAP hold at a replaced kcap
 * stays until the kcap is mapped so again or the PD goes).  One
 * TASK_MAP_OUT. */
int pd_session_map_out(struct pd_session *pd, const struct msg *m)
{
	struct pd_session *to[PD_MAP_OUT_PDS];
	uint64_t w[3 * TASK_MAP_OUT_MAX];
	const uint64_t *pair;
	unsigned k, n;

	if (m->ncaps || m->nwords < 1 || !(k = (unsigned)m->w[0]) || k > PD_MAP_OUT_PDS ||
	    m->nwords < 1 + 2 * k || (m->nwords - 1 - 2 * k) % 2)
		return -EINVAL;
	n = (m->nwords - 1 - 2 * k) / 2;
	if (!n || n > TASK_MAP_OUT_MAX)
		return -EINVAL;
	if (pd_held_sessions(pd, &m->w[1], k, to))
		return -EINVAL;
	pair = &m->w[1 + 2 * k];
	for (unsigned i = 0; i < n; i++) {
		uint64_t from = pair[2 * i], j = pair[2 * i + 1] % KCAP(1);
		uint64_t kcap = pair[2 * i + 1] - j;
		if (j >= k || !pd_kcap_ok(from) || KCAP_INDEX(from) < FIXED_USER_BASE ||
		    !pd_kcap_ok(kcap) || kcap == KCAP(FIXED_PARENT))
			return -EINVAL;
		w[3 * i] = j;
		w[3 * i + 1] = from;
		w[3 * i + 2] = kcap;
	}
	return pd_map_gates_out(pd, to, w, n, 0);
}
