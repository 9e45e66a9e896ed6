/* Verifying a restore (monitor/verify.c). */
#ifndef MONITOR_VERIFY_H
#define MONITOR_VERIFY_H

#include "monitor/checkpoint.h"

/* Compare the checkpoint `before` a restore with a fresh one `after` it:
 * 0 if every non-skipped cap is at its kcap in its class, every object the
 * restore recreates has a new badge, and the cap map and object pool in
 * `after` are consistent; -EINVAL (logged) otherwise. */
int monitor_verify_restore(struct monitor *mon, const struct mon_model *before,
			   struct mon_model *after);

#endif
