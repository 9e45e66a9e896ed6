/*
 * What the target's libbase reports about itself (the checkpoint ABI,
 * <capsule/checkpoint_abi.h>), read from a checkpoint's copy of the
 * target's memory: the report, the cap map and the entrypoints.  This is
 * the only way the monitor learns the layout of the target's own data.
 */
#ifndef MONITOR_TARGET_REPORT_H
#define MONITOR_TARGET_REPORT_H

#include <stddef.h>
#include <capsule/checkpoint_abi.h>

#include "monitor/checkpoint.h"

/* The ABI versions this monitor knows (1 and 2). */
int report_version_known(uint64_t version);

/* The report the model names (model->report_addr), checked: magic,
 * known version, size, and that it names the cap map the target reported
 * to core.  0, or -EINVAL / -ENOENT with a one-line reason in err. */
int report_read(const struct mon_model *model, struct cr_report *out, char *err,
		size_t errlen);

/* The cap map in the copy (one region holds it whole), checked magic and
 * entries; NULL if it is not there. */
struct cr_cap_map *report_cap_map(const struct mon_model *model);

/* The addresses of every entrypoint on the report's list, main first:
 * 0 with n set, -ELOOP for a list that loops or is longer than
 * CR_MAX_EPS, -EFAULT / -EINVAL for one outside the copy or with a bad
 * magic. */
int report_entrypoints(const struct mon_model *model, const struct cr_report *r,
		       uint64_t ep[CR_MAX_EPS], unsigned *n);

/* The target address of cap map entry e of m (m at model->cap_map_addr)
 * and back: the slot index of an entry address, or -1. */
uint64_t report_entry_addr(const struct mon_model *model, unsigned slot);
long report_entry_slot(const struct mon_model *model, uint64_t addr);

#endif
