/*
 * Guest entry: crt0 calls base_start() with the startup_info its parent
 * wrote on the initial stack.  Kept apart from the shared start sequence
 * so that native links never pull in component_construct.
 *
 * A guest sets its signals up before component_construct runs (seed 002:
 * the signal source's semaphore and the handler thread exist in every
 * component); natives do it on their first signal handler.
 */
#include <stddef.h>
#include <base/signal.h>
#include "platform.h"

static void base_construct_guest(struct env *env, void *arg)
{
	int err = signal_start(env);

	(void)arg;
	if (err)
		env_log(env, "libbase: no signals (%d)", err);
	component_construct(env);
}

/* Start the component; returns only if it could not start or its
 * entrypoint ended without the parent stopping it. */
void base_start(const struct startup_info *si)
{
	if (!si || si->magic != STARTUP_MAGIC)
		return;
	base_component_run(si, "", NULL, base_construct_guest, NULL);
}
