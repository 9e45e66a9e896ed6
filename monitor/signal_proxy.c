/*
 * The target's signal source (a gate to core it got from PD
 * ALLOC_SIGNAL_SOURCE), intercepted so that its semaphore irq (seed 002,
 * CAP3) is known to the monitor.
 */
#include "monitor/monitor.h"

static void signal_after(struct proxy *p, const struct mon_req *req, struct msg *r)
{
	if (req->code == SIGNAL_SEMAPHORE && r->ncaps >= 1 && cap_valid(r->caps[0]))
		record_add(p->mon, MON_CLASS_SEMAPHORE, r->caps[0], 0);
}

const struct proxy_type signal_proxy_type = {
    .name = "signal source", .before = NULL, .after = signal_after};
