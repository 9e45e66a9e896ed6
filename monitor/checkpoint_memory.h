/*
 * The checkpoint's copy of the target's memory (checkpoint_memory.c):
 * pre-copied while the target runs, only what changed since copied in the
 * pause.
 */
#ifndef MONITOR_CHECKPOINT_MEMORY_H
#define MONITOR_CHECKPOINT_MEMORY_H

#include "monitor/model.h"
#include "monitor/monitor.h"

struct ckpt_mem;

/* Target running: buffers for every attached RAM region, dirty tracking
 * started where core allows it, the first copy on the host worker.  NULL
 * if out of memory (nothing started). */
struct ckpt_mem *ckpt_mem_prepare(struct monitor *mon);
/* Target paused: fill model's regions, their data copied from cm (what
 * changed since ckpt_mem_prepare, or all of a region whose dataspace is
 * not tracked).  0 or -errno (logged where it names a region). */
int ckpt_mem_copy(struct monitor *mon, struct ckpt_mem *cm, struct mon_model *model);
/* Bytes the last ckpt_mem_copy copied in the pause. */
uint64_t ckpt_mem_copied(const struct ckpt_mem *cm);
/* Stop the tracking it started, detach, free (NULL: nothing). */
void ckpt_mem_free(struct monitor *mon, struct ckpt_mem *cm);

#endif
