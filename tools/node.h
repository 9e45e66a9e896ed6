/* Booting a node: kernel, core, init with a config, in this process. */
#ifndef TOOLS_NODE_H
#define TOOLS_NODE_H

/*
 * Boot a node from the init config at path `config`, loading binaries and
 * ROM modules from the rom directories (default: the directory of the
 * config and "build/components").  Prints each component's output
 * prefixed by its label and, when every child of init has exited, one
 * summary line per component.  Returns 0 if every child exited with 0,
 * 1 if any exited non-zero or faulted, 2 on a config or boot error.
 */
int node_run(const char *config, const char **rom_dirs, int nrom);
/* The same; with serve 1, the node runs on after init's children exited
 * (core's control endpoint "core" ends it: `capsule node`); with serve 2
 * it serves the control plane too but ends with init (--exit-when-done). */
int node_boot(const char *config, const char **rom_dirs, int nrom, int serve);

#endif
