/* Booting a node: kernel, core, init with a config, in this process. */
#ifndef TOOLS_NODE_H
#define TOOLS_NODE_H

#include <stddef.h>

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

/* --realtime (tools/node_realtime.c): the nodes booted from now on run
 * their thread SCHED_RR at NODE_RT_PRIO and their watchdog SCHED_FIFO
 * one above. */
#define NODE_RT_PRIO 10
void node_set_realtime(int on);
/* 0, or -EPERM and a one-line reason in err: the process may not use
 * real-time scheduling (neither CAP_SYS_NICE nor RLIMIT_RTPRIO). */
int node_realtime_check(char *err, size_t errlen);
/* The calling thread to SCHED_RR NODE_RT_PRIO; 0 or -errno and err. */
int node_realtime_enter(char *err, size_t errlen);
/* Back to ordinary scheduling. */
void node_realtime_leave(void);

#endif
