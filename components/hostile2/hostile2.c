/*
 * hostile2: a guest that attacks every interface a guest can reach, one
 * round per interface, all deterministic (fixed seed):
 *   (timer goes first, to overlap with the sibling's timer)
 *   pd      PD session: every op, huge and wrapping sizes, forged caps,
 *           storms (RAM, RPC caps, MAP_CAP onto one kcap 10000 times)
 *   signal  signal sources and contexts: garbage, double frees, huge counts
 *   cpu     CPU session: threads with garbage, wild starts, registers of
 *           running threads, garbage register sets, kills
 *   rm      RM session and region maps: huge, self-attached, cycles,
 *           fault handlers that are no contexts, touching a cycle
 *   timer   Timer sessions: periods 0/1/~0, oneshot ~0, garbage sighs,
 *           a freed context as sigh, close while running; one 1 µs
 *           periodic timer keeps firing until the end
 *   rom     ROM: path tricks, huge labels, writable attach of a ROM
 *   log     LOG: huge, binary, control characters, lying lengths
 *   parent  session storms, upgrade storms, garbage closes and announces
 *   kernel  TASK_MAP from/into its own task, UNMAP of fixed selectors,
 *           THREAD_* on its own threads, irq ops, closed waits
 *   exc_irq unbinding the exception irq its parent listens to
 *   ipc     receive windows at the end of the cap space, tags past the
 *           UTCB, calls to itself, replies to nobody
 *   uaf     RAM, region maps, UTCB pages and ROMs used after being freed
 *   cross_pd a second PD of its own: a thread in it, its RAM attached,
 *           both used after the PD is closed; its thread rebound
 *   quota   RAM attached to a region map, then freed or its PD closed:
 *           the quota comes back, so the memory must go
 *   self    (last) detaching its own text: only it may die of that
 * Each round logs "hostile2: ROUND: N requests, M refused"; a sibling must
 * run to completion untouched and the node must exit.
 */
#include <errno.h>
#include <string.h>
#include "hostile2.h"

static uint64_t rng_state = 0x243f6a8885a308d3ULL;

uint64_t h2_rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

int h2_vital(struct h2 *h, uint64_t kcap)
{
	uint64_t i = KCAP_INDEX(kcap);

	if (kcap & 0xfff)
		return 0;
	if (i == FIXED_TASK || i == FIXED_PARENT)
		return 1;
	/* any thread's area: this component's threads live there */
	if (i >= FIXED_THREAD_AREA && i < FIXED_USER_BASE)
		return 1;
	/* the caps libbase holds (sessions, windows) live from the base on */
	return i >= FIXED_USER_BASE && i < FIXED_USER_BASE + 0x100;
}

uint64_t h2_kcap(struct h2 *h)
{
	static const uint64_t fixed[] = {0,
					 ~0ULL,
					 KCAP(FIXED_FACTORY),
					 KCAP(3),
					 KCAP(FIXED_USER_BASE - 1),
					 KCAP(CAP_SLOTS),
					 KCAP(CAP_SLOTS - 1),
					 KCAP(CAP_SLOTS) - 1,
					 KCAP(FIXED_USER_BASE) + 0x123,
					 0x8000000000000000ULL};
	for (;;) {
		uint64_t r = h2_rnd(), k;

		switch (r & 3) {
		case 0:
			k = h2_rnd();
			break;
		case 1:
			k = fixed[(r >> 8) % (sizeof fixed / sizeof fixed[0])];
			break;
		default:
			k = KCAP((r >> 8) % CAP_SLOTS);
		}
		if (!h2_vital(h, k))
			return k;
	}
}

static int h2_reply(struct h2 *h, int err, struct msg *m)
{
	h->req++;
	if (!err && m->code != RPC_OK)
		err = m->code == RPC_ERROR && m->nwords && (int64_t)m->w[0] < 0
			  ? (int)(int64_t)m->w[0]
			  : -EIO;
	h->refused += err != 0;
	return err;
}

int h2_call_r(struct h2 *h, cap_t dst, uint64_t op, const cap_t *caps, unsigned nc,
	      const uint64_t *w, unsigned nw, struct msg *r)
{
	int err;

	msg_reset(r, op);
	for (unsigned i = 0; i < nc; i++)
		msg_put_cap(r, caps[i]);
	for (unsigned i = 0; i < nw; i++)
		msg_put(r, w[i]);
	err = h2_reply(h, rpc_call_timeout(dst, r, H2_TIMEOUT), r);
	for (unsigned i = 0; i < r->ncaps; i++)
		cap_release(r->caps[i]);
	r->ncaps = 0;
	return err;
}

int h2_call(struct h2 *h, cap_t dst, uint64_t op, const cap_t *caps, unsigned nc,
	    const uint64_t *w, unsigned nw, cap_t *out)
{
	struct msg m;
	int err;

	msg_reset(&m, op);
	for (unsigned i = 0; i < nc; i++)
		msg_put_cap(&m, caps[i]);
	for (unsigned i = 0; i < nw; i++)
		msg_put(&m, w[i]);
	err = h2_reply(h, rpc_call_timeout(dst, &m, H2_TIMEOUT), &m);
	for (unsigned i = 0; i < m.ncaps; i++) {
		if (!err && out && i == 0 && cap_valid(m.caps[0])) {
			*out = m.caps[0];
			continue;
		}
		cap_release(m.caps[i]);
	}
	if (!err && out && !m.ncaps)
		*out = CAP_INVALID;
	return err;
}

uint64_t h2_forge(struct h2 *h, uint64_t dst, uint64_t op, const uint64_t *kcaps,
		  unsigned nk, const uint64_t *w, unsigned nw)
{
	struct utcb *u = h->u;
	unsigned words, items = 0;
	uint64_t tag, label;

	if (nk > MSG_MAX_ITEMS)
		nk = MSG_MAX_ITEMS;
	if (3 + nk + nw + nk > UTCB_MRS)
		nw = UTCB_MRS - 3 - 2 * nk;
	words = 3 + nk + nw;
	u->mr[0] = h2_rnd() & ~3ULL; /* a lying destination badge */
	u->mr[1] = nk;
	for (unsigned i = 0; i < nk; i++) {
		u->mr[2 + i] = h2_rnd();
		u->mr[words + items++] = kcaps[i] | (h2_rnd() & RIGHTS_ALL);
	}
	u->mr[2 + nk] = op;
	memcpy(&u->mr[3 + nk], w, nw * sizeof(uint64_t));
	u->br[0] = KCAP_INVALID;
	tag = sys_invoke(dst, TAG(SYS_OP_CALL, 0, words, items), H2_TIMEOUT, &label);
	h->req++;
	h->refused += TAG_ERROR(tag) != 0 || (TAG_WORDS(tag) > 2 && u->mr[2] != RPC_OK);
	return tag;
}

uint64_t h2_kobj(struct h2 *h, uint64_t kcap, unsigned proto, const uint64_t *mr,
		 unsigned n)
{
	uint64_t tag, label;

	memcpy(h->u->mr, mr, n * sizeof(uint64_t));
	h->u->br[0] = KCAP_INVALID;
	tag = sys_invoke(kcap, TAG(SYS_OP_CALL, proto, n, 0), H2_TIMEOUT, &label);
	h->req++;
	h->refused += TAG_ERROR(tag) != 0;
	return tag;
}

void h2_sleep(uint64_t us)
{
	uint64_t label;

	sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), us, &label);
}

#define TOUCH_STACK 16384

static uint8_t touch_stack[TOUCH_STACK] __attribute__((aligned(16)));
static volatile uint64_t touch_addr, touch_write;

/* Reads or writes touch_addr, then sleeps forever (if it gets there). */
static void toucher(void)
{
	if (touch_write)
		*(volatile uint64_t *)(uintptr_t)touch_addr = 0x686f7374696c6532ULL;
	else
		(void)*(volatile uint64_t *)(uintptr_t)touch_addr;
	for (;;)
		h2_sleep(1000);
}

uint64_t h2_touch(struct h2 *h, uint64_t addr, int write)
{
	uint64_t sp = (uint64_t)(uintptr_t)(touch_stack + TOUCH_STACK) - 8, state = ~0ULL;
	struct msg m;
	cap_t t;

	touch_addr = addr;
	touch_write = write;
	if (h2_call(h, h->env->cpu, CPU_CREATE_THREAD, &h->env->pd, 1, NULL, 0, &t))
		return state;
	h2_call(h, h->env->cpu, CPU_START, &t, 1,
		(uint64_t[]){(uint64_t)(uintptr_t)toucher, sp}, 2, NULL);
	/* until it has done its access: faulted, or asleep after it (a loaded
	 * machine may take long to run it at all) */
	for (int i = 0; i < 200 && (state == ~0ULL || state == TS_READY); i++) {
		h2_sleep(10000);
		if (!h2_call_r(h, h->env->cpu, CPU_STATE, &t, 1, NULL, 0, &m) && m.nwords)
			state = m.w[0];
	}
	h2_call(h, h->env->cpu, CPU_KILL, &t, 1, NULL, 0, NULL);
	cap_release(t);
	return state;
}

void h2_round_end(struct h2 *h, const char *name)
{
	env_log(h->env, "hostile2: %s: %u requests, %u refused", name, h->req,
		h->refused);
	h->req = h->refused = 0;
}

static const struct {
	const char *name;
	void (*fn)(struct h2 *h);
} rounds[] = {
    {"timer", round_timer},
    {"pd", round_pd},
    {"signal", round_signal},
    {"cpu", round_cpu},
    {"rm", round_rm},
    {"rom", round_rom},
    {"log", round_log},
    {"parent", round_parent},
    {"kernel", round_kernel},
    {"exc_irq", round_exc_irq},
    {"ipc", round_ipc},
    {"uaf", round_uaf},
    {"cross_pd", round_cross_pd},
    {"quota", round_quota_evasion},
};

void component_construct(struct env *env)
{
	struct h2 h = {env, sys_utcb(), 0, 0, 0};

	h.nr = h.u->tcr[TCR_THREAD_NR];
	env_log(env, "hostile2: starting");
	for (unsigned i = 0; i < sizeof rounds / sizeof rounds[0]; i++) {
		rounds[i].fn(&h);
		h2_round_end(&h, rounds[i].name);
	}
	env_log(env, "hostile2: all rounds survived");
	round_self(&h);
	env_log(env, "hostile2: still alive after detaching its text");
	env_exit(env, 3);
}
