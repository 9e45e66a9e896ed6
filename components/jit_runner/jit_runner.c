/*
 * jit_runner: attaches jit_writer's dataspace executable (read-only),
 * then JIT_PASSES times asks the writer to write the chain for k = pass
 * and runs it: the sum must be k for every block, whatever its engine
 * translated from the pass before (kernel/guest/code_shared.c).
 */
#include <base/env.h>

#include "../jit_writer/jit.h"

#define RUN_AT 0x300000000000ULL

static struct env *run_env;

static void fail(const char *what, int rc)
{
	env_log(run_env, "jit_runner: %s failed (%d)", what, rc);
	env_exit(run_env, 1);
}

void component_construct(struct env *env)
{
	uint64_t got;
	cap_t jit, ds;
	struct msg m;
	int rc;

	run_env = env;
	if ((rc = env_session(env, "Jit", "", &jit)))
		fail("Jit session", rc);
	msg_reset(&m, JIT_DS);
	if ((rc = rpc_call(jit, &m)) || m.code != RPC_OK || m.ncaps < 1 ||
	    !cap_valid(m.caps[0]))
		fail("JIT_DS", rc ? rc : -1);
	ds = m.caps[0];
	if ((rc = pd_attach(env->pd, ds, RUN_AT, 0, JIT_SIZE, MEM_R | MEM_X, &got)) ||
	    got != RUN_AT)
		fail("attach", rc ? rc : -1);
	for (uint32_t pass = 1; pass <= JIT_PASSES; pass++) {
		uint32_t sum;

		msg_reset(&m, JIT_WRITE);
		msg_put(&m, pass);
		if ((rc = rpc_call(jit, &m)) || m.code != RPC_OK)
			fail("JIT_WRITE", rc ? rc : -1);
		sum = ((uint32_t(*)(void))(uintptr_t)RUN_AT)();
		if (sum != pass * JIT_BLOCKS) {
			env_log(env, "jit_runner: pass %u summed %u, want %u", pass, sum,
				pass * JIT_BLOCKS);
			env_exit(env, 1);
		}
	}
	env_log(env, "jit_runner: %u passes ran as written", JIT_PASSES);
	msg_reset(&m, JIT_DONE);
	rpc_call(jit, &m);
	env_exit(env, 0);
}
