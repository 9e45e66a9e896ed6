/*
 * Native components (core, init, the monitor): host C code that the
 * kernel runs as coroutines and that uses the same libbase API as guests.
 */
#ifndef BASE_NATIVE_COMPONENT_H
#define BASE_NATIVE_COMPONENT_H

#include <base/env.h>

/* How an entrypoint gets gates for its objects.  The default asks the PD
 * session (PD_ALLOC_RPC_CAP); core, which implements that session, passes
 * its own. */
struct rpc_cap_factory {
	int (*alloc)(void *ctx, cap_t ep_thread, cap_t *gate);
	int (*free)(void *ctx, cap_t gate);
	void *ctx;
};

struct native_start {
	struct startup_info si; /* as for a guest: parent badge, thread nr, utcb */
	const char *label;
	/* construct this component; runs on its entrypoint thread */
	void (*construct)(struct env *env, void *arg);
	void *arg;
	/* NULL: use the PD session.  Core: its own factory, and no parent:
	 * env sessions are then left invalid for core to fill in. */
	const struct rpc_cap_factory *factory;
};

/* Entry for a native component's first thread (a native_entry_t taking a
 * struct native_start *): sets up the per-component cap map and env, calls
 * construct, then serves the entrypoint until the component exits. */
void native_component_main(void *native_start);

#endif
