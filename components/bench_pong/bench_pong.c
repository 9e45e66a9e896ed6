/*
 * Benchmark guest: the client side of the IPC round trip.  Opens a "Ping"
 * session and makes `count` calls, each a full call + reply between two
 * guest components, checking every answer.
 */
#include <base/env.h>

#include "../bench_ping/bench_count.h"

enum { PING_OP = 1, PING_QUIT = 2 };

void component_construct(struct env *env)
{
	uint64_t n = bench_count(env), bad = 0;
	struct msg m;
	cap_t ping;

	if (env_session(env, "Ping", "", &ping)) {
		env_log(env, "pong: no Ping session");
		env_exit(env, 1);
	}
	for (uint64_t i = 0; i < n; i++) {
		msg_reset(&m, PING_OP);
		msg_put(&m, i);
		if (rpc_call(ping, &m) || m.code != RPC_OK || m.w[0] != i + 1)
			bad++;
	}
	msg_reset(&m, PING_QUIT);
	rpc_call(ping, &m);
	env_log(env, "round trips: %llu, bad answers: %llu", (unsigned long long)n,
		(unsigned long long)bad);
	env_exit(env, bad ? 1 : 0);
}
