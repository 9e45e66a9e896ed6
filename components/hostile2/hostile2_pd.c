/*
 * hostile2 rounds on the PD session: RAM, attach/detach, RPC caps, cap
 * map report, MAP_CAP, quota transfer, and the signal ops.
 */
#include <errno.h>
#include "hostile2.h"

#define RAM_STORM   2000
#define RPC_STORM   300
#define MAP_REPEATS 10000
#define SRC_STORM   200

static const uint64_t sizes[] = {
    0,		1,	    0xfff,	 0x1001,	~0ULL,	       ~0xfffULL,
    1ULL << 63, 1ULL << 40, 64ULL << 20, 0x7fffffffULL, 0x100000000ULL};

static void quota(struct h2 *h, struct pd_quota *q)
{
	if (pd_quota_get(h->env->pd, q))
		*q = (struct pd_quota){0, 0, 0, 0};
}

static void log_quota(struct h2 *h, const char *what, const struct pd_quota *a)
{
	struct pd_quota b;

	quota(h, &b);
	if (a->ram_used == b.ram_used && a->cap_used == b.cap_used &&
	    a->ram_quota == b.ram_quota && a->cap_quota == b.cap_quota) {
		env_log(h->env, "hostile2: pd %s: quota restored", what);
		return;
	}
	env_log(h->env,
		"hostile2: pd %s: quota LEAKED: ram %llu/%llu -> %llu/%llu, caps "
		"%llu/%llu -> %llu/%llu",
		what, (unsigned long long)a->ram_used, (unsigned long long)a->ram_quota,
		(unsigned long long)b.ram_used, (unsigned long long)b.ram_quota,
		(unsigned long long)a->cap_used, (unsigned long long)a->cap_quota,
		(unsigned long long)b.cap_used, (unsigned long long)b.cap_quota);
}

static void pd_ram(struct h2 *h)
{
	cap_t bad[] = {h->env->log, h->env->parent, h->env->pd, h->env->cpu, CAP_INVALID};
	static cap_t storm[RAM_STORM];
	struct pd_quota q0;
	unsigned n = 0;
	cap_t ds;

	quota(h, &q0);
	for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		if (!h2_call(h, h->env->pd, PD_ALLOC_RAM, NULL, 0, &sizes[i], 1, &ds)) {
			h2_call(h, h->env->pd, PD_FREE_RAM, &ds, 1, NULL, 0, NULL);
			h2_call(h, h->env->pd, PD_FREE_RAM, &ds, 1, NULL, 0, NULL);
			cap_release(ds);
		}
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		h2_call(h, h->env->pd, PD_FREE_RAM, &bad[i], 1, NULL, 0, NULL);
		h2_call(h, h->env->pd, PD_DS_SIZE, &bad[i], 1, NULL, 0, NULL);
	}
	/* exhaust the quota with pages, then give them all back */
	for (uint64_t sz = 4096; n < RAM_STORM; n++)
		if (h2_call(h, h->env->pd, PD_ALLOC_RAM, NULL, 0, &sz, 1, &storm[n]))
			break;
	for (unsigned i = 0; i < n; i++) {
		h2_call(h, h->env->pd, PD_FREE_RAM, &storm[i], 1, NULL, 0, NULL);
		cap_release(storm[i]);
	}
	env_log(h->env, "hostile2: pd ram storm: %s",
		n < RAM_STORM ? "quota held" : "NO LIMIT");
	log_quota(h, "ram storm", &q0);
}

static void pd_attach_garbage(struct h2 *h)
{
	static const uint64_t addrs[] = {0,
					 1,
					 0xfff,
					 GUEST_RM_BASE - 0x1000,
					 GUEST_RM_BASE + 1,
					 GUEST_RM_BASE + GUEST_RM_SIZE - 0x1000,
					 GUEST_RM_BASE + GUEST_RM_SIZE,
					 ~0xfffULL,
					 0x7ffffffff000ULL,
					 0x800000000000ULL};
	static const uint64_t offs[] = {0, 1, 0x1000, 0x2000, ~0xfffULL, ~0ULL};
	cap_t bad[] = {h->env->log, h->env->parent, h->env->cpu, CAP_INVALID};
	struct pd_quota q0;
	cap_t ds;
	uint64_t sz = 0x2000, at;

	quota(h, &q0);
	if (h2_call(h, h->env->pd, PD_ALLOC_RAM, NULL, 0, &sz, 1, &ds))
		return;
	for (unsigned a = 0; a < sizeof addrs / sizeof addrs[0]; a++)
		for (unsigned o = 0; o < sizeof offs / sizeof offs[0]; o++)
			for (unsigned s = 0; s < 6; s++) {
				struct msg r;
				uint64_t w[4] = {addrs[a], offs[o], sizes[s],
						 h2_rnd() & 0xf};

				if (h2_call_r(h, h->env->pd, PD_ATTACH, &ds, 1, w, 4, &r))
					continue;
				at = r.nwords ? r.w[0] : 0;
				h2_call(h, h->env->pd, PD_DETACH, NULL, 0, &at, 1, NULL);
			}
	/* wrap-around: address + size past 2^64 */
	for (unsigned i = 0; i < 16; i++) {
		uint64_t w[4] = {~0ULL - (i << 12), 0, 0x2000 + (i << 12), MEM_R | MEM_W};
		struct msg r;

		if (!h2_call_r(h, h->env->pd, PD_ATTACH, &ds, 1, w, 4, &r) && r.nwords)
			h2_call(h, h->env->pd, PD_DETACH, NULL, 0, &r.w[0], 1, NULL);
	}
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint64_t w[4] = {0, 0, 0, MEM_R};
		struct msg r;

		if (!h2_call_r(h, h->env->pd, PD_ATTACH, &bad[i], 1, w, 4, &r) &&
		    r.nwords)
			h2_call(h, h->env->pd, PD_DETACH, NULL, 0, &r.w[0], 1, NULL);
	}
	for (unsigned i = 0; i < sizeof addrs / sizeof addrs[0]; i++)
		h2_call(h, h->env->pd, PD_DETACH, NULL, 0, &addrs[i], 1, NULL);
	/* forged dataspace caps */
	for (unsigned i = 0; i < 100; i++) {
		uint64_t k = h2_kcap(h), w[4] = {h2_rnd(), h2_rnd(), h2_rnd(), h2_rnd()};

		h2_forge(h, cap_kcap(h->env->pd), PD_ATTACH, &k, 1, w, 4);
	}
	h2_call(h, h->env->pd, PD_FREE_RAM, &ds, 1, NULL, 0, NULL);
	cap_release(ds);
	log_quota(h, "attach", &q0);
}

static void pd_caps(struct h2 *h)
{
	static const uint64_t kcaps[] = {0,
					 KCAP(FIXED_FACTORY),
					 KCAP(3),
					 KCAP(FIXED_USER_BASE - 1),
					 KCAP(CAP_SLOTS),
					 KCAP(CAP_SLOTS - 1),
					 KCAP(0x500) + 1,
					 ~0ULL,
					 ~0xfffULL,
					 1ULL << 63};
	cap_t bad[] = {h->env->log, h->env->parent, h->env->pd, CAP_INVALID};
	static cap_t storm[RPC_STORM];
	struct pd_quota q0;
	unsigned n = 0;
	uint64_t w[2];

	quota(h, &q0);
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cap_t g;

		if (!h2_call(h, h->env->pd, PD_ALLOC_RPC_CAP, &bad[i], 1, NULL, 0, &g)) {
			h2_call(h, h->env->pd, PD_FREE_RPC_CAP, &g, 1, NULL, 0, NULL);
			cap_release(g);
		}
		h2_call(h, h->env->pd, PD_FREE_RPC_CAP, &bad[i], 1, NULL, 0, NULL);
	}
	/* a thread kcap we do not own as a cap_t: forge it */
	for (unsigned i = 0; i < 50; i++) {
		uint64_t k = i & 1 ? KCAP_THREAD(h->nr, THREAD_SLOT_GATE) : h2_kcap(h);

		h2_forge(h, cap_kcap(h->env->pd), PD_ALLOC_RPC_CAP, &k, 1, NULL, 0);
	}
	/* a storm of gates bound to a thread that never runs */
	cap_t thr = CAP_INVALID, kt = CAP_INVALID;
	if (!h2_call(h, h->env->cpu, CPU_CREATE_THREAD, &h->env->pd, 1, NULL, 0, &thr) &&
	    !h2_call(h, h->env->cpu, CPU_KERNEL_THREAD, &thr, 1, NULL, 0, &kt))
		for (; n < RPC_STORM; n++)
			if (h2_call(h, h->env->pd, PD_ALLOC_RPC_CAP, &kt, 1, NULL, 0,
				    &storm[n]))
				break;
	for (unsigned i = 0; i < n; i++) {
		h2_call(h, h->env->pd, PD_FREE_RPC_CAP, &storm[i], 1, NULL, 0, NULL);
		cap_release(storm[i]);
	}
	if (thr.idx) {
		h2_call(h, h->env->cpu, CPU_KILL, &thr, 1, NULL, 0, NULL);
		cap_release(thr);
	}
	if (kt.idx)
		cap_release(kt);
	/* MAP_CAP onto fixed and garbage selectors */
	for (unsigned i = 0; i < sizeof kcaps / sizeof kcaps[0]; i++)
		h2_call(h, h->env->pd, PD_MAP_CAP, &h->env->log, 1, &kcaps[i], 1, NULL);
	/* MAP_CAP onto the same kcap over and over must not grow core */
	w[0] = KCAP(0xf00);
	for (unsigned i = 0; i < MAP_REPEATS; i++)
		h2_call(h, h->env->pd, PD_MAP_CAP, i & 1 ? &h->env->log : &h->env->cpu, 1,
			w, 1, NULL);
	h2_kobj(h, KCAP(FIXED_TASK), PROTO_TASK,
		(uint64_t[]){TASK_UNMAP, w[0], UNMAP_SELF}, 3);
	/* a cap map report pointing anywhere, then the true one again */
	for (unsigned i = 0; i < 8; i++) {
		uint64_t r[2] = {i & 1 ? h2_rnd() : ~0ULL - i, i & 2 ? ~0ULL : h2_rnd()};

		h2_call(h, h->env->pd, PD_CAP_MAP_REPORT, NULL, 0, r, 2, NULL);
		h2_call(h, h->env->pd, PD_CAP_MAP_INFO, NULL, 0, NULL, 0, NULL);
	}
	w[0] = (uint64_t)(uintptr_t)cap_map();
	w[1] = CAP_SLOTS;
	h2_call(h, h->env->pd, PD_CAP_MAP_REPORT, NULL, 0, w, 2, NULL);
	/* assigning our own parent again is harmless; another would cut us
	 * off from it, which only hurts us */
	h2_call(h, h->env->pd, PD_ASSIGN_PARENT, &h->env->parent, 1, NULL, 0, NULL);
	env_log(h->env, "hostile2: pd rpc-cap storm stopped after %u", n);
	log_quota(h, "caps", &q0);
}

static void pd_transfer(struct h2 *h)
{
	static const uint64_t amounts[][2] = {
	    {~0ULL, 0}, {0, ~0ULL}, {1ULL << 63, 1ULL << 63}, {0, 0}, {4096, 1}};
	cap_t to[] = {h->env->pd, h->env->log, h->env->parent, h->env->cpu, CAP_INVALID};
	struct pd_quota q0;
	cap_t other;

	quota(h, &q0);
	for (unsigned t = 0; t < sizeof to / sizeof to[0]; t++)
		for (unsigned a = 0; a < sizeof amounts / sizeof amounts[0]; a++)
			h2_call(h, h->env->pd, PD_TRANSFER_QUOTA, &to[t], 1, amounts[a],
				2, NULL);
	/* a second PD session of our own: move everything back and forth */
	if (!env_session(h->env, "PD", "ram_quota=65536, cap_quota=4", &other)) {
		h2_call(h, h->env->pd, PD_TRANSFER_QUOTA, &other, 1, amounts[0], 2, NULL);
		h2_call(h, other, PD_TRANSFER_QUOTA, &h->env->pd, 1, amounts[0], 2, NULL);
		h2_call(h, other, PD_TRANSFER_QUOTA, &h->env->pd, 1, amounts[1], 2, NULL);
		h2_call(h, other, PD_TRANSFER_QUOTA, &other, 1, amounts[4], 2, NULL);
		parent_close(h->env->parent, other);
	}
	log_quota(h, "transfer", &q0);
	/* every opcode without arguments (a signal source it allocates is
	 * ours to free: skip that one) */
	for (uint64_t op = 0; op < 40; op++)
		if (op != PD_ALLOC_SIGNAL_SOURCE)
			h2_call(h, h->env->pd, op < 25 ? op : h2_rnd(), NULL, 0, NULL, 0,
				NULL);
	log_quota(h, "opcodes", &q0);
}

void round_pd(struct h2 *h)
{
	pd_ram(h);
	pd_attach_garbage(h);
	pd_caps(h);
	pd_transfer(h);
}

void round_signal(struct h2 *h)
{
	static cap_t src[SRC_STORM];
	cap_t bad[] = {h->env->log, h->env->parent, h->env->cpu, CAP_INVALID};
	static const uint64_t counts[] = {0, 1, ~0ULL, 1ULL << 32, 0xffffffffULL};
	struct pd_quota q0;
	unsigned n = 0;
	cap_t ctx, ctx2;

	quota(h, &q0);
	for (; n < SRC_STORM; n++)
		if (h2_call(h, h->env->pd, PD_ALLOC_SIGNAL_SOURCE, NULL, 0, NULL, 0,
			    &src[n]))
			break;
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint64_t imprint = h2_rnd();

		h2_call(h, h->env->pd, PD_FREE_SIGNAL_SOURCE, &bad[i], 1, NULL, 0, NULL);
		h2_call(h, h->env->pd, PD_FREE_CONTEXT, &bad[i], 1, NULL, 0, NULL);
		h2_call(h, h->env->pd, PD_SUBMIT, &bad[i], 1, counts, 1, NULL);
		if (!h2_call(h, h->env->pd, PD_ALLOC_CONTEXT, &bad[i], 1, &imprint, 1,
			     &ctx))
			cap_release(ctx);
	}
	if (n) {
		uint64_t imprint = ~0ULL;

		if (!h2_call(h, h->env->pd, PD_ALLOC_CONTEXT, &src[0], 1, &imprint, 1,
			     &ctx)) {
			for (unsigned i = 0; i < sizeof counts / sizeof counts[0]; i++)
				for (unsigned j = 0; j < 100; j++)
					h2_call(h, h->env->pd, PD_SUBMIT, &ctx, 1,
						&counts[i], 1, NULL);
			/* signal source ops on a context and on the source */
			for (uint64_t op = 0; op < 5; op++) {
				h2_call(h, ctx, op, NULL, 0, NULL, 0, NULL);
				h2_call(h, src[0], op, &ctx, 1, NULL, 0, NULL);
			}
			h2_call(h, h->env->pd, PD_FREE_CONTEXT, &ctx, 1, NULL, 0, NULL);
			h2_call(h, h->env->pd, PD_FREE_CONTEXT, &ctx, 1, NULL, 0, NULL);
			h2_call(h, h->env->pd, PD_SUBMIT, &ctx, 1, counts, 1, NULL);
			cap_release(ctx);
		}
		/* a context whose source dies first */
		if (n > 1 && !h2_call(h, h->env->pd, PD_ALLOC_CONTEXT, &src[1], 1,
				      &imprint, 1, &ctx2)) {
			h2_call(h, h->env->pd, PD_FREE_SIGNAL_SOURCE, &src[1], 1, NULL, 0,
				NULL);
			h2_call(h, h->env->pd, PD_SUBMIT, &ctx2, 1, &counts[1], 1, NULL);
			h2_call(h, h->env->pd, PD_FREE_CONTEXT, &ctx2, 1, NULL, 0, NULL);
			cap_release(ctx2);
		}
	}
	for (unsigned i = 0; i < n; i++) {
		h2_call(h, h->env->pd, PD_FREE_SIGNAL_SOURCE, &src[i], 1, NULL, 0, NULL);
		h2_call(h, h->env->pd, PD_FREE_SIGNAL_SOURCE, &src[i], 1, NULL, 0, NULL);
		cap_release(src[i]);
	}
	for (unsigned i = 0; i < 100; i++) {
		uint64_t k = h2_kcap(h), w[2] = {h2_rnd(), h2_rnd()};

		h2_forge(h, cap_kcap(h->env->pd), PD_ALLOC_SIGNAL_SOURCE + i % 5, &k, 1,
			 w, 2);
	}
	env_log(h->env, "hostile2: signal source storm stopped after %u", n);
	log_quota(h, "signal", &q0);
}
