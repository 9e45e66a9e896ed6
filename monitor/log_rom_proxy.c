/*
 * The target's LOG and ROM sessions, intercepted.  LOG has no state
 * worth recording (lines already written are the past); ROM dataspaces
 * are recorded so a restore can fetch them again.
 */
#include "monitor/monitor.h"

const struct proxy_type log_proxy_type = {"LOG", NULL, NULL, NULL};

static void rom_after(struct proxy *p, const struct mon_req *req, struct msg *r)
{
	if (req->code == ROM_DATASPACE && r->ncaps >= 1 && cap_valid(r->caps[0]))
		record_add(p->mon, MON_CLASS_ROM_DS, r->caps[0], r->nwords ? r->w[0] : 0);
}

const struct proxy_type rom_proxy_type = {"ROM", NULL, rom_after, NULL};
