/*
 * The native components init can start: a registry of name -> config
 * parser and construct function, filled by the code that assembles a
 * node (tools/node.c registers the monitor) and handed to init with its
 * config.  init itself knows no native component.
 */
#ifndef INIT_NATIVE_REGISTRY_H
#define INIT_NATIVE_REGISTRY_H

#include <stddef.h>

struct env;

#define NATIVE_MAX_ENTRIES 8
#define NATIVE_ARG_MAX	   2048 /* largest parsed config (arg_size) */

/* One native binary: parse(xml <config> node or NULL, arg, err) fills arg
 * (arg_size bytes, zeroed before) from the child's <config>, 0 or -errno
 * with a one-line message in err; construct(env, arg) runs on the child's
 * entrypoint thread, arg outliving the child. */
struct native_entry {
	const char *binary;
	size_t arg_size;
	int (*parse)(const void *xml_config, void *arg, char *err, size_t errlen);
	void (*construct)(struct env *env, void *arg);
};

/* Invariant: entry[0, n) have distinct non-empty names, a parser, a
 * construct function and arg_size <= NATIVE_ARG_MAX. */
struct native_registry {
	int n;
	struct native_entry entry[NATIVE_MAX_ENTRIES];
};

/* Add e (copied; e->binary must outlive the registry).  0, or -EINVAL
 * (no name, parser or construct function), -E2BIG (arg_size above
 * NATIVE_ARG_MAX), -EEXIST (name taken), -ENOSPC (registry full). */
int native_registry_add(struct native_registry *r, const struct native_entry *e);

/* The entry named binary, or NULL (also for r == NULL). */
const struct native_entry *native_registry_find(const struct native_registry *r,
						const char *binary);

#endif
