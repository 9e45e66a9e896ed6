/*
 * Native children of init (the monitor): host C components init starts
 * from a registry of native entries instead of loading a guest binary.
 */
#ifndef INIT_NATIVE_CHILD_H
#define INIT_NATIVE_CHILD_H

#include <stddef.h>

struct child;

/* One native binary: parse(xml <config> node or NULL, arg, err) fills arg
 * (arg_size bytes) from the child's <config>; construct(env, arg) runs on
 * the child's entrypoint thread. */
struct native_entry {
	const char *binary;
	size_t arg_size;
	int (*parse)(const void *xml_config, void *arg, char *err, size_t errlen);
	void (*construct)(struct env *env, void *arg);
};

/* The registered native binary of this name, or NULL. */
const struct native_entry *native_child_find(const char *binary);

/*
 * Start child c if its binary is a registered native one: read its
 * <config> from init's config file, open its sessions (a native PD),
 * create its thread, start it at native_component_main.  1 if the binary
 * is not native (start it as a guest); 0 on success; -errno after logging
 * one line and destroying what was made (c->state CHILD_FAILED).
 */
int native_child_start(struct child *c);

#endif
