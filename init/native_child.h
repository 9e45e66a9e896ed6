/*
 * Native children of init (e.g. the monitor): host C components init
 * starts from its registry of native entries (init/native_registry.h)
 * instead of loading a guest binary.
 */
#ifndef INIT_NATIVE_CHILD_H
#define INIT_NATIVE_CHILD_H

#include <stddef.h>
#include <base/native_component.h>

#include "init/native_registry.h"

struct child;

/* Per native child: what its first thread starts with.  It lives in the
 * child's record of its node's init (it must outlive the thread; nothing
 * is shared between nodes of one process). */
struct native_slot {
	const struct child *owner;
	struct native_start start;
	_Alignas(max_align_t) unsigned char arg[NATIVE_ARG_MAX];
};

/*
 * Start child c if its binary is a registered native one: read its
 * <config> from init's config file, open its sessions (a native PD),
 * create its thread, start it at native_component_main.  1 if the binary
 * is not native (start it as a guest); 0 on success; -errno after logging
 * one line and destroying what was made (c->state CHILD_FAILED).
 */
int native_child_start(struct child *c);

#endif
