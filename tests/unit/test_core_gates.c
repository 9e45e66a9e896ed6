/*
 * The batched PD calls a restore uses (core/pd_session.c):
 * PD_ALLOC_RPC_CAPS, n gates bound to one entrypoint thread, each mapped
 * at a kcap the caller names, PD_MAP_CAPS, n caps mapped at n kcaps, and
 * PD_DERIVE_CAPS, the caller's gates made copies derived from the PD's,
 * PD_MAP_OUT, the PD's gates mapped into several PDs, PD_ALLOC_RPC_CAPS
 * with kcap 0, gates handed to the caller only, and PD_ALLOC_GATES_MAPPED,
 * gates mapped at empty kcaps and answered as badges (ep_reserve).
 * Their decoders must refuse a bad count, a duplicate kcap, the parent's
 * slot and the fixed slots, and every refusal (quota included) must
 * leave nothing behind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <cmocka.h>
#include <base/env.h>

struct tcase {
	int (*run)(struct env *env, struct tcase *t);
	int fail_line;
	const char *fail_expr;
};

#define NODE_ALARM_S 60
#include "fixture_node.h"

/* A raw PD_ALLOC_RPC_CAPS of nwords kcaps (the client library refuses a
 * bad count before sending, so the decoder is reached directly). */
static int raw_alloc(cap_t pd, cap_t thread, const uint64_t *kcap, unsigned nwords)
{
	struct msg m;
	int rc;

	msg_reset(&m, PD_ALLOC_RPC_CAPS);
	if (cap_valid(thread))
		msg_put_cap(&m, thread);
	for (unsigned i = 0; i < nwords; i++)
		msg_put(&m, kcap[i]);
	rc = node_call(pd, &m);
	for (unsigned i = 0; i < m.ncaps; i++)
		cap_release(m.caps[i]);
	return rc;
}

/* The PD's cap quota in use (q[3]); ~0 if PD_QUOTA fails. */
static uint64_t caps_used(cap_t pd)
{
	uint64_t q[4];

	return node_pd_quota(pd, q) ? ~0ULL : q[3];
}

/* Count and slots: nothing is made for a refused request. */
static int case_bad_requests(struct env *env, struct tcase *t)
{
	uint64_t k[MSG_MAX_WORDS];
	cap_t pd, gates[MSG_MAX_ITEMS];

	CHECK(t, !parent_session(env->parent, "PD", "cap_quota=16", &pd));
	for (unsigned i = 0; i < MSG_MAX_WORDS; i++)
		k[i] = KCAP(0x400 + i);
	/* the count: none, and more gates than a reply can carry */
	CHECK(t, raw_alloc(pd, node_own_thread(), k, 0) == -EINVAL);
	CHECK(t, raw_alloc(pd, node_own_thread(), k, MSG_MAX_ITEMS + 1) == -EINVAL);
	CHECK(t, raw_alloc(pd, node_own_thread(), k, MSG_MAX_WORDS) == -EINVAL);
	CHECK(t, pd_alloc_rpc_caps(pd, node_own_thread(), k, 0, gates) == -EINVAL);
	/* no entrypoint thread */
	CHECK(t, raw_alloc(pd, CAP_INVALID, k, 1) == -EINVAL);
	/* a duplicate kcap, next to or apart from its twin */
	k[1] = k[0];
	CHECK(t, pd_alloc_rpc_caps(pd, node_own_thread(), k, 2, gates) == -EINVAL);
	k[1] = KCAP(0x401);
	k[3] = k[1];
	CHECK(t, pd_alloc_rpc_caps(pd, node_own_thread(), k, 4, gates) == -EINVAL);
	k[3] = KCAP(0x403);
	/* the parent's slot (PD_ASSIGN_PARENT's only), fixed slots, a kcap
	 * that is not a slot boundary, one past the cap space (kcap 0 is
	 * none: case_alloc_gates) */
	static const uint64_t bad[] = {KCAP(FIXED_PARENT), KCAP(FIXED_TASK),
				       KCAP(FIXED_FACTORY), KCAP(0x400) + 8,
				       KCAP(CAP_SLOTS)};
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		k[2] = bad[i];
		CHECK(t,
		      pd_alloc_rpc_caps(pd, node_own_thread(), k, 3, gates) == -EINVAL);
	}
	CHECK(t, caps_used(pd) == 0);
	return 0;
}

/* Quota: a batch that does not fit fails whole, and the gates made before
 * the quota ran out are freed; a batch that fits gives distinct gates. */
static int case_quota_all_or_nothing(struct env *env, struct tcase *t)
{
	uint64_t k[MSG_MAX_ITEMS];
	cap_t pd, gates[MSG_MAX_ITEMS];

	CHECK(t, !parent_session(env->parent, "PD", "cap_quota=3", &pd));
	for (unsigned i = 0; i < MSG_MAX_ITEMS; i++)
		k[i] = KCAP(0x500 + i);
	CHECK(t, pd_alloc_rpc_caps(pd, node_own_thread(), k, MSG_MAX_ITEMS, gates) ==
		     -EDQUOT);
	CHECK(t, caps_used(pd) == 0);
	CHECK(t, !pd_alloc_rpc_caps(pd, node_own_thread(), k, 3, gates));
	CHECK(t, caps_used(pd) == 3);
	CHECK(t, cap_badge(gates[0]) != cap_badge(gates[1]) &&
		     cap_badge(gates[1]) != cap_badge(gates[2]));
	/* each one is an ordinary gate of the PD: freeing it gives quota back */
	CHECK(t, !pd_free_rpc_cap(pd, gates[1]));
	CHECK(t, caps_used(pd) == 2);
	return 0;
}

/* PD_CAP_VALID of kcap in pd: 1, 0, or -1 if the call fails. */
static int mapped(cap_t pd, uint64_t kcap)
{
	struct msg m;

	msg_reset(&m, PD_CAP_VALID);
	msg_put(&m, kcap);
	return node_call(pd, &m) || m.nwords < 1 ? -1 : (int)m.w[0];
}

/* A raw PD_MAP_CAPS of ncaps caps and nwords kcaps. */
static int raw_map(cap_t pd, cap_t c, unsigned ncaps, const uint64_t *kcap,
		   unsigned nwords)
{
	struct msg m;

	msg_reset(&m, PD_MAP_CAPS);
	for (unsigned i = 0; i < ncaps; i++)
		msg_put_cap(&m, c);
	for (unsigned i = 0; i < nwords; i++)
		msg_put(&m, kcap[i]);
	return node_call(pd, &m);
}

/* PD_MAP_CAPS maps every cap at its kcap, or none when one is refused. */
static int case_map_caps(struct env *env, struct tcase *t)
{
	uint64_t k[MSG_MAX_WORDS];
	cap_t pd, c[MSG_MAX_ITEMS];

	CHECK(t, !parent_session(env->parent, "PD", "cap_quota=16", &pd));
	for (unsigned i = 0; i < MSG_MAX_WORDS; i++)
		k[i] = KCAP(0x600 + i);
	for (unsigned i = 0; i < MSG_MAX_ITEMS; i++)
		c[i] = env->log;
	/* the count: none, more than a message carries, words != caps */
	CHECK(t, pd_map_caps(pd, c, k, 0) == -EINVAL);
	CHECK(t, pd_map_caps(pd, c, k, MSG_MAX_ITEMS + 1) == -EINVAL);
	CHECK(t, raw_map(pd, env->log, 0, k, 1) == -EINVAL);
	CHECK(t, raw_map(pd, env->log, 2, k, 3) == -EINVAL);
	CHECK(t, raw_map(pd, env->log, 2, k, 1) == -EINVAL);
	/* a duplicate or a fixed slot among good kcaps: none is mapped */
	k[2] = k[0];
	CHECK(t, pd_map_caps(pd, c, k, 3) == -EINVAL);
	k[2] = KCAP(FIXED_TASK);
	CHECK(t, pd_map_caps(pd, c, k, 3) == -EINVAL);
	k[2] = KCAP(0x602);
	for (unsigned i = 0; i < MSG_MAX_ITEMS; i++)
		CHECK(t, mapped(pd, k[i]) == 0);
	/* a good batch: every kcap holds a cap, the next slot none */
	CHECK(t, !pd_map_caps(pd, c, k, MSG_MAX_ITEMS));
	for (unsigned i = 0; i < MSG_MAX_ITEMS; i++)
		CHECK(t, mapped(pd, k[i]) == 1);
	CHECK(t, mapped(pd, k[MSG_MAX_ITEMS]) == 0);
	return 0;
}

/* Is the own cap at kcap there (TASK_CAP_VALID on the own task)? */
static int own_valid(uint64_t kcap)
{
	struct utcb *u = sys_utcb();
	uint64_t label, tag;

	u->mr[0] = TASK_CAP_VALID;
	u->mr[1] = kcap;
	tag = sys_invoke(KCAP(FIXED_TASK), TAG(SYS_OP_CALL, PROTO_TASK, 2, 0),
			 SYS_TIMEOUT_NEVER, &label);
	return !TAG_ERROR(tag) && u->mr[0] == 1;
}

/* TASK_UNMAP of the own kcap with flags. */
static void own_unmap(uint64_t kcap, uint64_t flags)
{
	struct utcb *u = sys_utcb();
	uint64_t label;

	u->mr[0] = TASK_UNMAP;
	u->mr[1] = kcap;
	u->mr[2] = flags;
	sys_invoke(KCAP(FIXED_TASK), TAG(SYS_OP_CALL, PROTO_TASK, 3, 0),
		   SYS_TIMEOUT_NEVER, &label);
}

/* PD_DERIVE_CAPS: a copy of the PD's gate, derived from the PD's slot,
 * into an empty slot of the caller's, so that mapping over the PD's slot
 * (which revokes what was derived from it) takes the caller's copy too;
 * the copy core gave the caller is not so.  Bad pairs map nothing. */
static int case_derive_caps(struct env *env, struct tcase *t)
{
	uint64_t k[2] = {KCAP(0x700), KCAP(0x701)}, mine[2], w[3];
	cap_t pd, gates[2];
	struct msg m;

	CHECK(t, !parent_session(env->parent, "PD", "cap_quota=16", &pd));
	CHECK(t, !pd_alloc_rpc_caps(pd, node_own_thread(), k, 2, gates));
	mine[0] = cap_kcap(gates[0]);
	mine[1] = cap_kcap(gates[1]);
	/* core's copies: replacing the PD's slot leaves ours */
	CHECK(t, !pd_map_cap(pd, env->log, k[1]));
	CHECK(t, own_valid(mine[1]));
	own_unmap(mine[0], UNMAP_RELEASE); /* our entry stays, without a cap */
	CHECK(t, !own_valid(mine[0]));
	/* refused: no pairs, an odd word count, a slot of ours that holds a
	 * cap, a slot of the PD's without a gate, a fixed slot, one slot of
	 * ours twice, no PD of the caller's */
	CHECK(t, pd_derive_caps(pd, env->pd, k, mine, 0) == -EINVAL);
	msg_reset(&m, PD_DERIVE_CAPS);
	msg_put_cap(&m, env->pd);
	w[0] = k[0], w[1] = mine[0], w[2] = k[0];
	for (unsigned i = 0; i < 3; i++)
		msg_put(&m, w[i]);
	CHECK(t, node_call(pd, &m) == -EINVAL);
	CHECK(t, pd_derive_caps(pd, env->pd, k, mine + 1, 1) == -EINVAL);
	CHECK(t,
	      pd_derive_caps(pd, env->pd, (uint64_t[]){KCAP(0x702)}, mine, 1) == -EINVAL);
	CHECK(t, pd_derive_caps(pd, env->pd, (uint64_t[]){KCAP(FIXED_TASK)}, mine, 1) ==
		     -EINVAL);
	CHECK(t, pd_derive_caps(pd, env->pd, k, (uint64_t[]){mine[0], mine[0]}, 2) ==
		     -EINVAL);
	CHECK(t, pd_derive_caps(pd, env->log, k, mine, 1) == -EINVAL);
	CHECK(t, !own_valid(mine[0]));
	/* derived: the gate is ours again, and replacing the PD's slot takes
	 * it, as unmapping would */
	CHECK(t, !pd_derive_caps(pd, env->pd, k, mine, 1));
	CHECK(t, own_valid(mine[0]));
	CHECK(t, !pd_map_cap(pd, env->log, k[0]));
	CHECK(t, !own_valid(mine[0]));
	return 0;
}

/* A raw PD_MAP_OUT: words w, and a cap if one is valid. */
static int raw_map_out(cap_t pd, cap_t cap, const uint64_t *w, unsigned nwords)
{
	struct msg m;

	msg_reset(&m, PD_MAP_OUT);
	if (cap_valid(cap))
		msg_put_cap(&m, cap);
	for (unsigned i = 0; i < nwords; i++)
		msg_put(&m, w[i]);
	return node_call(pd, &m);
}

/* PD_MAP_OUT: gates of the invoked PD (here the caller's own) mapped into
 * several PDs in one call, each copy derived from the source slot (so
 * revoking the source takes it); the PDs named by the caller's kcaps and
 * badges, which core checks with the kernel; a bad pair maps none. */
static int case_map_out(struct env *env, struct tcase *t)
{
	uint64_t k[2] = {KCAP(0x800), KCAP(0x801)}, from[3], to[3], w[8];
	unsigned of[3] = {0, 1, 1};
	cap_t a, b, pds[2], gates[2];

	CHECK(t, !parent_session(env->parent, "PD", "cap_quota=16", &a));
	CHECK(t, !parent_session(env->parent, "PD", "cap_quota=16", &b));
	CHECK(t, !parent_session(env->parent, "PD", "cap_quota=16", &pds[0]));
	/* two gates of ours: core's copies in our cap space */
	CHECK(t, !pd_alloc_rpc_caps(pds[0], node_own_thread(), k, 2, gates));
	pds[0] = a, pds[1] = b;
	from[0] = from[1] = cap_kcap(gates[0]), from[2] = cap_kcap(gates[1]);
	to[0] = to[1] = KCAP(0x810), to[2] = KCAP(0x811);
	/* refused: the counts, an index past the PDs, a slot of ours without
	 * a gate or a fixed one, the parent's slot, a kcap twice in one PD,
	 * a cap that is no PD session, the invoked PD as a destination */
	CHECK(t, pd_map_out(env->pd, pds, 0, of, from, to, 1) == -EINVAL);
	CHECK(t, pd_map_out(env->pd, pds, 2, of, from, to, 0) == -EINVAL);
	CHECK(t,
	      pd_map_out(env->pd, pds, PD_MAP_OUT_PDS + 1, of, from, to, 1) == -EINVAL);
	CHECK(t, pd_map_out(env->pd, pds, 2, of, from, to, PD_MAP_OUT_MAX(2) + 1) ==
		     -EINVAL);
	CHECK(t, pd_map_out(env->pd, pds, 2, (unsigned[]){2}, from, to, 1) == -EINVAL);
	/* the decoder: no PD, more than PD_MAP_OUT_PDS, no pair, half a
	 * pair, a cap sent, an index past the PDs (low bits of the kcap) */
	w[0] = 1, w[1] = cap_kcap(a), w[2] = cap_badge(a), w[3] = from[0], w[4] = to[0];
	CHECK(t, raw_map_out(env->pd, CAP_INVALID, (uint64_t[]){0, from[0], to[0]}, 3) ==
		     -EINVAL);
	CHECK(t, raw_map_out(env->pd, CAP_INVALID,
			     (uint64_t[]){PD_MAP_OUT_PDS + 1, w[1], w[2], from[0], to[0]},
			     5) == -EINVAL);
	CHECK(t, raw_map_out(env->pd, CAP_INVALID, w, 3) == -EINVAL);
	CHECK(t, raw_map_out(env->pd, CAP_INVALID, w, 4) == -EINVAL);
	CHECK(t, raw_map_out(env->pd, a, w, 5) == -EINVAL);
	w[4] = to[0] | 1;
	CHECK(t, raw_map_out(env->pd, CAP_INVALID, w, 5) == -EINVAL);
	/* a PD named by a badge it is not held under at that kcap: another
	 * PD's badge, or a slot holding something else (the kernel says so) */
	w[4] = to[0], w[2] = cap_badge(b);
	CHECK(t, raw_map_out(env->pd, CAP_INVALID, w, 5) == -EINVAL);
	w[1] = cap_kcap(env->log), w[2] = cap_badge(a);
	CHECK(t, raw_map_out(env->pd, CAP_INVALID, w, 5) == -EINVAL);
	w[1] = KCAP(0x7fe);
	CHECK(t, raw_map_out(env->pd, CAP_INVALID, w, 5) == -EINVAL);
	CHECK(t, pd_map_out(env->pd, pds, 2, of, (uint64_t[]){KCAP(0x7ff)}, to, 1) ==
		     -EINVAL);
	CHECK(t, pd_map_out(env->pd, pds, 2, of, (uint64_t[]){KCAP(FIXED_TASK)}, to, 1) ==
		     -EINVAL);
	CHECK(t, pd_map_out(env->pd, pds, 2, of, from, (uint64_t[]){KCAP(FIXED_PARENT)},
			    1) == -EINVAL);
	CHECK(t, pd_map_out(env->pd, pds, 2, (unsigned[]){1, 1}, from, to, 2) == -EINVAL);
	CHECK(t, pd_map_out(env->pd, (cap_t[]){env->log}, 1, of, from, to, 1) == -EINVAL);
	CHECK(t, pd_map_out(env->pd, (cap_t[]){env->pd}, 1, of, from, to, 1) == -EINVAL);
	CHECK(t, mapped(a, to[0]) == 0 && mapped(b, to[1]) == 0 && mapped(b, to[2]) == 0);
	/* a good call: the same kcap in two PDs, two kcaps in one */
	CHECK(t, !pd_map_out(env->pd, pds, 2, of, from, to, 3));
	CHECK(t, mapped(a, to[0]) == 1 && mapped(b, to[1]) == 1 && mapped(b, to[2]) == 1);
	CHECK(t, mapped(a, to[2]) == 0);
	/* derived from our slot: revoking what was derived from it takes them */
	own_unmap(from[0], 0);
	CHECK(t, mapped(a, to[0]) == 0 && mapped(b, to[1]) == 0 && mapped(b, to[2]) == 1);
	return 0;
}

/* PD_ALLOC_RPC_CAPS with kcap 0: a gate handed to the caller only (an
 * entrypoint's gates made ahead), mixed with mapped ones; all or none. */
static int case_alloc_gates(struct env *env, struct tcase *t)
{
	uint64_t none[MSG_MAX_ITEMS] = {0}, mixed[3] = {0, KCAP(0x900), 0};
	cap_t pd, gates[MSG_MAX_ITEMS];

	CHECK(t, !parent_session(env->parent, "PD", "cap_quota=5", &pd));
	CHECK(t, pd_alloc_rpc_caps(pd, node_own_thread(), none, 0, gates) == -EINVAL);
	CHECK(t, pd_alloc_rpc_caps(pd, CAP_INVALID, none, 1, gates) == -EINVAL);
	/* more than the quota: none is left made */
	CHECK(t, !pd_alloc_rpc_caps(pd, node_own_thread(), none, 2, gates));
	CHECK(t, caps_used(pd) == 2);
	CHECK(t, pd_alloc_rpc_caps(pd, node_own_thread(), none, MSG_MAX_ITEMS, gates) ==
		     -EDQUOT);
	CHECK(t, caps_used(pd) == 2);
	/* two 0s and a kcap: only the kcap is mapped in the PD */
	CHECK(t, !pd_alloc_rpc_caps(pd, node_own_thread(), mixed, 3, gates));
	CHECK(t, caps_used(pd) == 5);
	CHECK(t, cap_badge(gates[0]) != cap_badge(gates[1]) &&
		     cap_badge(gates[1]) != cap_badge(gates[2]));
	CHECK(t, mapped(pd, KCAP(0x900)) == 1);
	CHECK(t, !pd_free_rpc_cap(pd, gates[0]));
	CHECK(t, caps_used(pd) == 4);
	return 0;
}

/* A raw PD_ALLOC_GATES_MAPPED: the thread ncaps times, nwords kcaps;
 * the reply in *m. */
static int raw_mapped(cap_t pd, unsigned ncaps, const uint64_t *kcap, unsigned nwords,
		      struct msg *m)
{
	msg_reset(m, PD_ALLOC_GATES_MAPPED);
	for (unsigned i = 0; i < ncaps; i++)
		msg_put_cap(m, node_own_thread());
	for (unsigned i = 0; i < nwords; i++)
		msg_put(m, kcap[i]);
	return node_call(pd, m);
}

/* PD_ALLOC_GATES_MAPPED: gates mapped at empty kcaps of the PD, their
 * badges answered (no cap); a bad request -- the counts, a duplicate, a
 * fixed, foreign or occupied slot, the quota -- makes and maps none. */
static int case_alloc_mapped(struct env *env, struct tcase *t)
{
	uint64_t k[TASK_MAP_OUT_MAX + 1];
	cap_t pd, g[3];
	struct msg m;

	CHECK(t, !parent_session(env->parent, "PD", "cap_quota=4", &pd));
	for (unsigned i = 0; i <= TASK_MAP_OUT_MAX; i++)
		k[i] = KCAP(0xa00 + i);
	CHECK(t, raw_mapped(pd, 1, k, 0, &m) == -EINVAL);
	CHECK(t, raw_mapped(pd, 1, k, TASK_MAP_OUT_MAX + 1, &m) == -EINVAL);
	CHECK(t, raw_mapped(pd, 0, k, 1, &m) == -EINVAL);
	CHECK(t, raw_mapped(pd, 2, k, 1, &m) == -EINVAL);
	CHECK(t, raw_mapped(pd, 1, (uint64_t[]){k[0], k[1], k[0]}, 3, &m) == -EINVAL);
	static const uint64_t bad[] = {KCAP(FIXED_PARENT), KCAP(FIXED_TASK),
				       KCAP(FIXED_FACTORY), KCAP(0xa00) + 8,
				       KCAP(CAP_SLOTS)};
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(t, raw_mapped(pd, 1, (uint64_t[]){k[0], bad[i]}, 2, &m) == -EINVAL);
	CHECK(t, raw_mapped(pd, 1, k, 5, &m) == -EDQUOT);
	/* an occupied slot: the kernel's check refuses all, core frees the
	 * gates it made */
	CHECK(t, !pd_map_cap(pd, env->log, k[2]));
	CHECK(t, raw_mapped(pd, 1, k, 3, &m) == -EINVAL);
	CHECK(t, caps_used(pd) == 0 && mapped(pd, k[0]) == 0 && mapped(pd, k[1]) == 0);
	/* a good call: three distinct badges, three gates mapped */
	CHECK(t, !raw_mapped(pd, 1, k + 3, 3, &m));
	CHECK(t, m.ncaps == 0 && m.nwords == 3 && m.w[0] && m.w[0] != m.w[1] &&
		     m.w[1] != m.w[2]);
	CHECK(t, caps_used(pd) == 3 && mapped(pd, k[3]) == 1 && mapped(pd, k[5]) == 1);
	/* the client: into our own cap map, each entry its gate's badge */
	CHECK(t, pd_alloc_gates_mapped(env->pd, node_own_thread(), 0, g) == -EINVAL);
	CHECK(t, !pd_alloc_gates_mapped(env->pd, node_own_thread(), 3, g));
	for (unsigned i = 0; i < 3; i++) {
		CHECK(t, cap_valid(g[i]) && own_valid(cap_kcap(g[i])));
		CHECK(t, cap_map_find(cap_map(), cap_badge(g[i])) == g[i].idx);
	}
	CHECK(t, !pd_free_rpc_cap(env->pd, g[0]));
	CHECK(t, !own_valid(cap_kcap(g[0])));
	for (unsigned i = 0; i < 3; i++)
		cap_release(g[i]);
	return 0;
}

/* A raw PD_ALLOC_GATES_MAPPED into two PDs: the thread and `to`, nwords
 * words (pairs: a kcap of pd, one of to's). */
static int raw_at(cap_t pd, cap_t to, const uint64_t *w, unsigned nwords, struct msg *m)
{
	msg_reset(m, PD_ALLOC_GATES_MAPPED);
	msg_put_cap(m, node_own_thread());
	msg_put_cap(m, to);
	for (unsigned i = 0; i < nwords; i++)
		msg_put(m, w[i]);
	return node_call(pd, m);
}

/* PD_ALLOC_GATES_MAPPED with the caller's PD (a monitor's restore): each
 * gate at its kcap of the PD and at a slot of the caller's, one object,
 * the caller's copy derived from the PD's; a bad pair, count or second
 * PD, or an occupied slot, makes none. */
static int case_alloc_at(struct env *env, struct tcase *t)
{
	uint64_t w[2 * TASK_MAP_OUT_MAX], k[3] = {KCAP(0xa00), KCAP(0xa01), KCAP(0xa02)};
	cap_t pd, g[3];
	struct msg m;

	CHECK(t, !parent_session(env->parent, "PD", "cap_quota=4", &pd));
	for (unsigned i = 0; i < TASK_MAP_OUT_MAX; i++) {
		w[2 * i] = KCAP(0xa00 + i);
		w[2 * i + 1] = KCAP(0xf00 + i);
	}
	CHECK(t, raw_at(pd, env->pd, w, 3, &m) == -EINVAL);  /* odd */
	CHECK(t, raw_at(pd, env->pd, w, 0, &m) == -EINVAL);  /* none */
	CHECK(t, raw_at(pd, env->log, w, 2, &m) == -EINVAL); /* no PD session */
	CHECK(t, raw_at(pd, pd, w, 2, &m) == -EINVAL);	     /* itself */
	CHECK(t, raw_at(pd, env->pd, (uint64_t[]){w[0], w[1], w[2], w[1]}, 4, &m) ==
		     -EINVAL); /* the caller's slot twice */
	CHECK(t, raw_at(pd, env->pd, (uint64_t[]){w[0], KCAP(FIXED_TASK)}, 2, &m) ==
		     -EINVAL);
	CHECK(t, raw_at(pd, env->pd, w, 10, &m) == -EDQUOT);
	CHECK(t, pd_alloc_gates_at(pd, env->pd, node_own_thread(), k,
				   TASK_MAP_OUT_MAX / 2 + 1, g) == -EINVAL);
	CHECK(t, caps_used(pd) == 0);
	CHECK(t, !pd_alloc_gates_at(pd, env->pd, node_own_thread(), k, 3, g));
	CHECK(t, caps_used(pd) == 3);
	/* the first-free hint past the slots taken: the next batch does not
	 * rescan them */
	for (unsigned i = 0; i < 3; i++)
		CHECK(t, cap_map()->first_free_hint > KCAP_INDEX(cap_kcap(g[i])));
	for (unsigned i = 0; i < 3; i++) {
		CHECK(t, mapped(pd, k[i]) == 1 && own_valid(cap_kcap(g[i])));
		CHECK(t, cap_map_find(cap_map(), cap_badge(g[i])) == g[i].idx);
	}
	/* an occupied slot, the caller's or the PD's: none made, none mapped */
	CHECK(t,
	      raw_at(pd, env->pd, (uint64_t[]){w[6], cap_kcap(g[1])}, 2, &m) == -EINVAL);
	CHECK(t, raw_at(pd, env->pd, (uint64_t[]){k[1], w[7]}, 2, &m) == -EINVAL);
	CHECK(t, caps_used(pd) == 3 && mapped(pd, w[6]) == 0 && !own_valid(w[7]));
	/* one object: freeing the PD's gate revokes the caller's copy */
	CHECK(t, !pd_free_rpc_cap(pd, g[0]));
	CHECK(t, !own_valid(cap_kcap(g[0])) && mapped(pd, k[0]) == 0);
	/* the caller's copy is derived from the PD's slot (as PD_DERIVE_CAPS
	 * makes it): replacing that slot takes it, as the PD's revocation */
	CHECK(t, own_valid(cap_kcap(g[1])));
	CHECK(t, !pd_map_cap(pd, env->log, k[1]));
	CHECK(t, !own_valid(cap_kcap(g[1])) && own_valid(cap_kcap(g[2])));
	for (unsigned i = 0; i < 3; i++)
		cap_release(g[i]);
	return 0;
}

static void nop_dispatch(struct rpc_object *obj, struct msg *m)
{
	(void)obj;
	msg_reset(m, RPC_OK);
}

/* ep_reserve: the gates for the next ep_manage calls made ahead in one
 * call (they count as the PD's from then on), taken by ep_manage, the
 * unused freed by ep_unreserve. */
static int case_reserve(struct env *env, struct tcase *t)
{
	struct entrypoint *ep = ep_main();
	struct rpc_object o[2];
	uint64_t before = caps_used(env->pd);

	CHECK(t, ep_reserve(ep, 17) == -EINVAL);
	CHECK(t, caps_used(env->pd) == before);
	CHECK(t, !ep_reserve(ep, 3));
	CHECK(t, caps_used(env->pd) == before + 3);
	CHECK(t, cap_valid(ep_manage(ep, &o[0], nop_dispatch)));
	CHECK(t, cap_valid(ep_manage(ep, &o[1], nop_dispatch)));
	CHECK(t, caps_used(env->pd) == before + 3);
	ep_unreserve(ep);
	CHECK(t, caps_used(env->pd) == before + 2);
	ep_dissolve(ep, &o[0]);
	ep_dissolve(ep, &o[1]);
	CHECK(t, caps_used(env->pd) == before);
	return 0;
}

NODE_CASE(alloc_gates)
NODE_CASE(alloc_mapped)
NODE_CASE(alloc_at)
NODE_CASE(reserve)
NODE_CASE(map_out)
NODE_CASE(bad_requests)
NODE_CASE(derive_caps)
NODE_CASE(map_caps)
NODE_CASE(quota_all_or_nothing)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(bad_requests),	    /* count, duplicates, slots */
	    cmocka_unit_test(quota_all_or_nothing), /* -EDQUOT frees the partial batch */
	    cmocka_unit_test(map_caps),		    /* PD_MAP_CAPS: all or none */
	    cmocka_unit_test(derive_caps),  /* PD_DERIVE_CAPS: revocation reaches it */
	    cmocka_unit_test(map_out),	    /* PD_MAP_OUT: several PDs, all or none */
	    cmocka_unit_test(alloc_gates),  /* kcap 0: the caller's only, quota */
	    cmocka_unit_test(alloc_mapped), /* badges answered, slots checked */
	    cmocka_unit_test(alloc_at),	    /* into the PD and the caller's */
	    cmocka_unit_test(reserve),	    /* ep_reserve: made ahead, unused freed */
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
