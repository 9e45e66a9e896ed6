/*
 * Native children of init (e.g. the monitor): host C components init
 * starts from its registry of native entries (init/native_registry.h)
 * instead of loading a guest binary.
 */
#ifndef INIT_NATIVE_CHILD_H
#define INIT_NATIVE_CHILD_H

struct child;

/*
 * Start child c if its binary is a registered native one: read its
 * <config> from init's config file, open its sessions (a native PD),
 * create its thread, start it at native_component_main.  1 if the binary
 * is not native (start it as a guest); 0 on success; -errno after logging
 * one line and destroying what was made (c->state CHILD_FAILED).
 */
int native_child_start(struct child *c);

#endif
