/*
 * Benchmark guest: the driving side of the signal ping-pong.  Reads N
 * from the ROM "bench.count", registers its context with "SigPong", then
 * submits one signal to pong; each answer that arrives in its handler
 * sends the next, until N have come back.
 */
#include <base/env.h>
#include <base/signal.h>

#include "../bench_ping/bench_count.h"
#include "../bench_sigpong/sigpong.h"

static struct env *ping_env;
static struct signal_handler handler;
static cap_t session, pong;
static uint64_t rounds, answered;

static void fail(const char *what, int rc)
{
	env_log(ping_env, "sigping: %s failed (%d)", what, rc);
	env_exit(ping_env, 1);
}

static void on_signal(void *arg, unsigned count)
{
	struct msg m;
	int rc;

	answered += count;
	if (answered < rounds) {
		if ((rc = signal_submit(ping_env, pong, 1)))
			fail("submit", rc);
		return;
	}
	msg_reset(&m, SIGPONG_QUIT);
	rpc_call(session, &m);
	env_log(ping_env, "sigping: %llu signals answered", (unsigned long long)answered);
	env_exit(ping_env, 0);
}

void component_construct(struct env *env)
{
	struct msg m;
	int rc;

	ping_env = env;
	rounds = bench_count(env);
	if ((rc = signal_handler_init(env, &handler, on_signal, NULL)))
		fail("signal handler", rc);
	if ((rc = env_session(env, "SigPong", "", &session)))
		fail("SigPong session", rc);
	msg_reset(&m, SIGPONG_REGISTER);
	msg_put_cap(&m, handler.context);
	if ((rc = rpc_call(session, &m)) || m.code != RPC_OK || m.ncaps < 1 ||
	    !cap_valid(m.caps[0]))
		fail("register", rc ? rc : -1);
	pong = m.caps[0];
	if ((rc = signal_submit(env, pong, 1)))
		fail("first submit", rc);
}
