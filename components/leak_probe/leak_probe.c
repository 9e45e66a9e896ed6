/*
 * leak_probe: the bad input of issue 3, done LEAK_ROUNDS times with a
 * pause after each round, for a leak check from outside (tests/cli/run.sh
 * takes `capsule ps` during the pauses and compares core's "kernel:" line
 * between rounds).  Each round:
 *
 *   - a session of a service nobody provides ("Nobody"): -ENOENT
 *   - a Counter session beyond its RAM quota, beyond its cap quota: -EDQUOT
 *   - a Counter session upgraded beyond its quota: -EDQUOT, then closed
 *   - the consumer's signal context (a "Sig" session), which it does not
 *     own, passed to FREE_CONTEXT, ALLOC_CONTEXT and SIGNAL_WAIT: -EINVAL
 *   - threads until the cap quota refuses one (-EDQUOT), all joined
 *
 * After round r it logs "leak_probe: round r done, paused", sleeps
 * PAUSE_US and logs "leak_probe: round r resumed" (so the test knows its
 * snapshot fell into the pause); its own PD quota and cap map must also be unchanged
 * between rounds.  Exits 0 if every request got the expected error, else 1.
 */
#include <base/env.h>
#include <base/thread.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define LEAK_ROUNDS  4
#define PAUSE_US     1500000
#define MAX_THREADS  64
#define COUNTER_ARGS "label=\"probe\", ram_quota=8192, cap_quota=4"

static struct env *lp_env;
static int failures;
static struct blockade parked_gate[MAX_THREADS];
static struct thread *threads[MAX_THREADS];
static volatile unsigned running;

static void expect(const char *what, int rc, int want)
{
	if (rc == want)
		return;
	env_log(lp_env, "leak_probe: %s: got %d, want %d", what, rc, want);
	failures++;
}

static void sleep_us(uint64_t us)
{
	uint64_t label;

	sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), us, &label);
}

/* One RPC with an optional cap and word: 0 or -errno. */
static int call(cap_t dst, uint64_t op, cap_t c, int nwords, uint64_t w)
{
	struct msg m;
	int rc;

	msg_reset(&m, op);
	if (cap_valid(c))
		msg_put_cap(&m, c);
	if (nwords)
		msg_put(&m, w);
	rc = rpc_call(dst, &m);
	if (rc)
		return rc;
	if (m.code == RPC_OK)
		return 0;
	if (m.code == RPC_ERROR && m.nwords)
		return (int)(int64_t)m.w[0];
	return m.code == RPC_INVALID_OBJECT ? -EBADF : -EPROTO;
}

static void bad_sessions(void)
{
	struct pd_quota q;
	char args[128];
	cap_t s = CAP_INVALID;
	int rc;

	expect("service nobody provides", env_session(lp_env, "Nobody", "", &s), -ENOENT);
	if ((rc = pd_quota_get(lp_env->pd, &q))) {
		expect("PD_QUOTA", rc, 0);
		return;
	}
	snprintf(args, sizeof args, "label=\"greedy\", ram_quota=%llu",
		 (unsigned long long)(q.ram_quota - q.ram_used + 4096));
	expect("session beyond the RAM quota", env_session(lp_env, "Counter", args, &s),
	       -EDQUOT);
	snprintf(args, sizeof args, "label=\"greedy\", cap_quota=%llu",
		 (unsigned long long)(q.cap_quota - q.cap_used + 1));
	expect("session beyond the cap quota", env_session(lp_env, "Counter", args, &s),
	       -EDQUOT);
}

static void bad_upgrade(void)
{
	struct pd_quota q;
	char args[96];
	cap_t s;
	int rc;

	if ((rc = env_session(lp_env, "Counter", COUNTER_ARGS, &s))) {
		expect("Counter session", rc, 0);
		return;
	}
	rc = pd_quota_get(lp_env->pd, &q);
	snprintf(args, sizeof args, "ram_quota=%llu",
		 (unsigned long long)(q.ram_quota - q.ram_used + 4096));
	expect("upgrade beyond the quota",
	       rc ? rc : parent_upgrade(lp_env->parent, s, args), -EDQUOT);
	expect("close", parent_close(lp_env->parent, s), 0);
	cap_release(s);
}

static void foreign_context(cap_t ctx)
{
	expect("FREE_CONTEXT of a foreign context",
	       call(lp_env->pd, PD_FREE_CONTEXT, ctx, 0, 0), -EINVAL);
	expect("ALLOC_CONTEXT on a foreign context",
	       call(lp_env->pd, PD_ALLOC_CONTEXT, ctx, 1, 0x1000), -EINVAL);
	expect("SIGNAL_WAIT on a foreign context",
	       call(ctx, SIGNAL_WAIT, CAP_INVALID, 0, 0), -EINVAL);
}

static void parked(void *arg)
{
	__atomic_add_fetch(&running, 1, __ATOMIC_SEQ_CST);
	blockade_block(arg);
}

static void threads_beyond_quota(void)
{
	int n = 0, err = 0;

	running = 0;
	while (n < MAX_THREADS) {
		parked_gate[n] = (struct blockade){0};
		err = thread_create(lp_env, "parked", parked, &parked_gate[n], 16 * 1024,
				    &threads[n]);
		if (err)
			break;
		n++;
	}
	expect("thread beyond the cap quota", err, -EDQUOT);
	if (!n)
		expect("threads before the quota ran out", 0, 1);
	while (running < (unsigned)n)
		sleep_us(100);
	for (int i = 0; i < n; i++)
		blockade_wakeup(&parked_gate[i]);
	for (int i = 0; i < n; i++)
		expect("thread_join", thread_join(threads[i]), 0);
}

static unsigned cap_map_used(void)
{
	struct cap_map *m = cap_map();
	unsigned n = 0;

	for (unsigned i = 0; i < CAP_SLOTS; i++)
		n += m->slot[i].id != 0;
	return n;
}

void component_construct(struct env *env)
{
	struct pd_quota q0, q;
	unsigned used0 = 0;
	cap_t ctx;
	int rc;

	lp_env = env;
	if ((rc = env_session(env, "Sig", "", &ctx))) {
		env_log(env, "leak_probe: Sig session failed (%d)", rc);
		env_exit(env, 1);
	}
	for (int r = 1; r <= LEAK_ROUNDS; r++) {
		bad_sessions();
		bad_upgrade();
		foreign_context(ctx);
		threads_beyond_quota();
		if ((rc = pd_quota_get(env->pd, &q)))
			expect("PD_QUOTA", rc, 0);
		if (r == 1) {
			q0 = q;
			used0 = cap_map_used();
		} else if (memcmp(&q, &q0, sizeof q) || cap_map_used() != used0) {
			env_log(env, "leak_probe: round %d: own quota or cap map changed",
				r);
			failures++;
		}
		env_log(env, "leak_probe: round %d done, paused", r);
		sleep_us(PAUSE_US);
		env_log(env, "leak_probe: round %d resumed", r);
	}
	env_log(env, "leak_probe: %s",
		failures ? "FAILED" : "every bad request refused, own quota unchanged");
	env_exit(env, failures ? 1 : 0);
}
