/*
 * core: the roottask.  This header is the one interface core exposes to
 * the node launcher (tools/node.c) and to tests; everything else in
 * core/ is private (core/core_internal.h).
 *
 * Use:
 *     struct core_config cfg = { .rom_dirs = dirs, .nrom = n,
 *                                .init_construct = init_construct,
 *                                .init_arg = &my_init_state };
 *     int code = kernel_boot(core_main, &cfg);
 *
 * core_main runs as the root task's first thread.  It sets core up as a
 * native component (its own RPC cap factory, no parent), then creates
 * init: a native PD session (ram_quota / cap_quota below), one thread in
 * it, the parent cap at FIXED_PARENT, and starts that thread at
 * init_entry(struct native_start *) with label "init", the startup_info
 * (parent badge, thread nr, thread badge, utcb) and construct/arg =
 * init_construct/init_arg.  init ends the node with PARENT_EXIT, which
 * core turns into kernel_stop(code): kernel_boot then returns code.
 *
 * core's state belongs to its node: core_main allocates it and it is
 * freed before kernel_boot returns.  Several nodes may run in one process
 * at the same time, each booted by kernel_boot on its own host thread.
 */
#ifndef CORE_CORE_H
#define CORE_CORE_H

#include <stdint.h>
#include <capsule/native.h>
#include <base/env.h>

struct core_config {
	const char **rom_dirs; /* where ROM session names are looked up, in order */
	int nrom;
	uint64_t ram_total; /* RAM quota given to init, bytes; 0: CORE_DEFAULT_RAM */
	uint64_t cap_total; /* cap quota given to init; 0: CORE_DEFAULT_CAPS */
	/* entry of init's first thread; NULL: native_component_main */
	native_entry_t init_entry;
	/* init's construct function and its argument, passed in the
	 * struct native_start that init_entry receives */
	void (*init_construct)(struct env *env, void *arg);
	void *init_arg;
	/* capsule node: init's exit does not end the node (it waits for
	 * control requests) and core registers control endpoint "core"
	 * (include/capsule/control.h; ps, stop); 2: the same, but init's
	 * exit ends the node (capsule node --exit-when-done) */
	int serve;
	/* out: 0 once init started, else the -errno of the failed step */
	int status;
};

/* Defaults: the node may hand out as much RAM as the host has (RAM
 * dataspaces are lazily backed host memory, so quota is a bound, not a
 * reservation; 1 GiB if the host does not say), and as many caps as
 * that RAM and core's cap space can hold: one per CORE_CAP_BYTES of the
 * node's RAM budget, at most CORE_CAPS_MAX.  A node's config sets either
 * (<config ram= caps=>); caps= wins over the derived default. */
uint64_t core_default_ram(void);
#define CORE_DEFAULT_RAM core_default_ram()
/* What a cap costs the host, rounded up to a page: a thread, the
 * costliest kind (2 caps), holds 2.7 KB of core's and the kernel's heap
 * beside the UTCB page its RAM quota pays for, a gate 112 bytes (275
 * with the cap-space pages it touches), and core holds about 3 uncharged
 * caps (task, sessions, parent object) beside every charged one. */
#define CORE_CAP_BYTES 4096ULL
/* Every cap a component is charged for is a slot of core's cap space,
 * and core holds more beside them: 30 slots for a sleeper charged 8
 * (and 1 of init's; `capsule ps --raw` of 1 and 11 sleepers), so a
 * quarter of core's slots keeps its space from filling before the
 * node's cap quota does. */
#define CORE_CAPS_MAX ((uint64_t)CAP_SLOTS_NATIVE / 4)
/* The node's cap budget when its config sets none: ram_budget (bytes the
 * node may hand out) / CORE_CAP_BYTES, at most CORE_CAPS_MAX, at least 1. */
uint64_t core_default_caps(uint64_t ram_budget);

/* The root task's first thread: arg is a struct core_config * that must
 * stay valid until kernel_boot returns.  If core or init cannot be set
 * up, core prints one line on stderr, sets cfg->status and calls
 * kernel_stop(-1). */
void core_main(void *core_config);

#endif
