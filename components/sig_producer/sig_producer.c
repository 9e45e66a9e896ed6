/*
 * sig_producer: opens a "Sig" session, whose cap is the consumer's signal
 * context, and submits SIG_ROUNDS signals to it through its own PD
 * session, then exits.
 */
#include <base/env.h>
#include <base/signal.h>

#include "../sig_consumer/sig.h"

void component_construct(struct env *env)
{
	cap_t ctx;
	int rc;

	if ((rc = env_session(env, "Sig", "", &ctx))) {
		env_log(env, "producer: Sig session failed (%d)", rc);
		env_exit(env, 1);
	}
	for (unsigned i = 0; i < SIG_ROUNDS; i++) {
		if ((rc = signal_submit(env, ctx, 1))) {
			env_log(env, "producer: submit %u failed (%d)", i + 1, rc);
			env_exit(env, 1);
		}
	}
	env_log(env, "producer: submitted %u signals", SIG_ROUNDS);
	env_exit(env, 0);
}
