/*
 * hostile: a guest that does everything a guest should not be able to
 * hurt anyone with.  Three rounds, all deterministic (fixed seed):
 *   1. raw system calls on random kcaps with random tags and message
 *      registers (never blocking: timeout 0);
 *   2. well-formed RPCs to its parent and its core sessions with forged
 *      destination badges, forged capability badges and garbage payload
 *      (never PARENT_EXIT: the component must live to round 3);
 *   3. rebinding the gates of caps it was given (its parent, its core
 *      sessions) to its own thread, which needs a right nobody hands out;
 *   4. a write to a wild address.
 * The node must survive all of it; init reports the fault.
 */
#include <base/env.h>

#define RAW_CALLS    3000
#define FORGED_CALLS 400
#define WILD_ADDR    0xdead0000UL
#define CALL_TIMEOUT 200000 /* µs: a reply that never comes must not hang us */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* Slots whose invocation could legitimately stop this component before
 * round 3: its own task and its initial thread's selectors. */
static int own_vital(uint64_t kcap, uint64_t thread_nr)
{
	uint64_t i = KCAP_INDEX(kcap);

	return i == FIXED_TASK || (kcap >= KCAP_THREAD(thread_nr, 0) &&
				   kcap < KCAP_THREAD(thread_nr, THREAD_AREA_SLOTS));
}

static uint64_t random_kcap(uint64_t thread_nr)
{
	for (;;) {
		uint64_t r = rnd(), kcap;
		switch (r & 3) {
		case 0:
			kcap = r; /* anything, mostly garbage */
			break;
		case 1:
			kcap = KCAP(FIXED_PARENT);
			break;
		default:
			kcap = KCAP((r >> 8) % (FIXED_USER_BASE + 64));
		}
		if (!own_vital(kcap, thread_nr))
			return kcap;
	}
}

static void raw_round(struct utcb *u, uint64_t thread_nr)
{
	static const unsigned ops[] = {
	    SYS_OP_SEND, SYS_OP_WAIT, SYS_OP_CALL, SYS_OP_REPLY_WAIT, SYS_OP_REPLY, 0, 9};
	uint64_t label;

	for (int i = 0; i < RAW_CALLS; i++) {
		uint64_t kcap = random_kcap(thread_nr), r = rnd();
		uint64_t tag =
		    TAG(ops[r % 7], (r >> 8) % 8, (r >> 16) % 80, (r >> 24) % 8);
		for (unsigned j = 0; j < 8; j++)
			u->mr[j] = rnd();
		/* map items naming our own vital caps could give them away;
		 * let them name only garbage or harmless slots */
		for (unsigned j = 0; j < MSG_MAX_ITEMS + 2; j++)
			if (own_vital(u->mr[j] & ~0xfffULL, thread_nr))
				u->mr[j] = 0;
		sys_invoke(kcap, tag, 0, &label);
	}
}

/* Round 0: every request must be refused or made harmless by init. */
static void abuse_round(struct env *env)
{
	static const char *const sessions[][2] = {
	    {"PD", "native=1"},
	    {"PD", "ram_quota=200000000, cap_quota=100000"},
	    {"ROM", "label=\"../../../etc/passwd\""},
	    {"ROM", "label=\"counter\", label=\"x\""},
	    {"LOG", "label=\"init\""},
	    {"Nonexistent", ""},
	    {"PD", "label=\"unterminated"},
	};
	struct msg m;
	cap_t s;
	int refused = 0, rc;

	for (unsigned i = 0; i < sizeof sessions / sizeof sessions[0]; i++) {
		rc = parent_session(env->parent, sessions[i][0], sessions[i][1], &s);
		env_log(env, "hostile: session %s '%s': %s", sessions[i][0],
			sessions[i][1], rc ? "refused" : "granted");
		refused += rc != 0;
	}
	/* a LOG session asked for as "init" is labeled as ours by init */
	if (!parent_session(env->parent, "LOG", "label=\"init\"", &s))
		log_write(s, "init: all children exited (forged)", 34);
	refused += parent_announce(env->parent, "Undeclared", env->log) != 0;
	msg_reset(&m, PARENT_CLOSE);
	msg_put_cap(&m, env->pd);
	refused += rpc_call(env->parent, &m) != 0 || m.code != RPC_OK;
	env_log(env, "hostile: %d abusive requests refused", refused);
}

static void forged_round(struct env *env, struct utcb *u)
{
	cap_t targets[] = {env->parent, env->pd, env->cpu, env->parent};
	cap_t gifts[] = {env->log, env->pd, env->parent, CAP_INVALID};
	uint64_t label;

	for (int i = 0; i < FORGED_CALLS; i++) {
		uint64_t r = rnd();
		cap_t dst = targets[r % 4];
		struct msg m;
		uint64_t tag;
		int parent = dst.idx == env->parent.idx;

		/* parent: anything but EXIT; core: anything but LOG_WRITE-like
		 * printing (the LOG session is not a target) */
		msg_reset(&m, parent ? 2 + (r >> 4) % 6 : 1 + (r >> 4) % 16);
		for (unsigned n = (r >> 8) % 12; n; n--)
			msg_put(&m, rnd());
		for (unsigned n = (r >> 12) % 3; n; n--)
			msg_put_cap(&m, gifts[rnd() % 4]);
		tag = msg_to_utcb(u, &m, cap_badge(dst));
		if (r & (1ULL << 20))
			u->mr[0] = rnd() & ~3ULL; /* forged destination badge */
		if ((r & (1ULL << 21)) && m.ncaps)
			u->mr[2] = rnd(); /* forged badge of a passed capability */
		if (r & (1ULL << 22))
			u->mr[1] = rnd() % 9; /* lying capability count */
		tag = TAG(SYS_OP_CALL, 0, TAG_WORDS(tag), TAG_ITEMS(tag));
		sys_invoke(cap_kcap(dst), tag, CALL_TIMEOUT, &label);
	}
}

static void rebind_round(struct env *env, struct utcb *u)
{
	cap_t given[] = {env->parent, env->pd, env->cpu, env->log};
	unsigned refused = 0;
	uint64_t label;

	for (unsigned i = 0; i < sizeof given / sizeof given[0]; i++) {
		u->mr[0] = GATE_BIND;
		u->mr[1] = u->tcr[TCR_THREAD_KCAP];
		u->mr[2] = 0x1000;
		uint64_t tag = sys_invoke(cap_kcap(given[i]),
					  TAG(SYS_OP_CALL, PROTO_GATE, 3, 0), 0, &label);
		refused += TAG_ERROR(tag) == KERR_PERM;
	}
	env_log(env, "hostile: gate rebinds refused for lack of the right: %u of %u",
		refused, (unsigned)(sizeof given / sizeof given[0]));
}

void component_construct(struct env *env)
{
	struct utcb *u = sys_utcb();
	uint64_t nr = u->tcr[TCR_THREAD_NR];

	env_log(env, "hostile: starting");
	rebind_round(env, u);
	abuse_round(env);
	raw_round(u, nr);
	forged_round(env, u);
	volatile uint64_t *wild = (volatile uint64_t *)WILD_ADDR;

	__asm__ volatile("" : "+r"(wild));
	env_log(env, "hostile: wild write");
	*wild = 1;
	env_log(env, "hostile: still alive after the wild write");
	env_exit(env, 3);
}
