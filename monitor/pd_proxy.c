/*
 * The target's PD session, intercepted: RAM dataspaces, attachments,
 * RPC gates (with the entrypoint thread they are bound to), the cap map
 * report (seed 000, approach 2), signal sources and contexts, region maps.
 * Requests that would hand the target the monitor's power over its PD
 * (mapping caps, assigning a parent) are refused.
 */
#include <errno.h>

#include "monitor/monitor.h"

static int pd_before(struct proxy *p, struct msg *m)
{
	struct monitor *mon = p->mon;

	switch (m->code) {
	case PD_MAP_CAP:
	case PD_MAP_CAPS:
	case PD_ASSIGN_PARENT:
	case PD_ALLOC_RPC_CAPS: /* gates mapped by core: not recorded here */
	case PD_DERIVE_CAPS:
	case PD_MAP_OUT:
	case PD_ALLOC_GATES_MAPPED: /* as PD_ALLOC_RPC_CAPS */
		return -EPERM;
	case PD_CAP_MAP_REPORT:
		/* w0 = cap map, w1 = entries, w2 = checkpoint report, w3 =
		 * its ABI version; forwarded, so core knows them too */
		if (m->nwords < 4)
			return -EINVAL;
		mon->cap_map_addr = m->w[0];
		mon->cap_map_entries = m->w[1];
		mon->cr_report_addr = m->w[2];
		mon->cr_abi_version = m->w[3];
		return 0;
	}
	return 0;
}

static void pd_after(struct proxy *p, const struct mon_req *req, struct msg *r)
{
	struct monitor *mon = p->mon;
	cap_t c0 = r->ncaps ? r->caps[0] : CAP_INVALID;

	switch (req->code) {
	case PD_ALLOC_RAM: /* core rounds the size up to pages */
		if (cap_valid(c0))
			record_add(mon, MON_CLASS_DATASPACE, c0,
				   (req->w[0] + 0xfff) & ~0xfffULL);
		break;
	case PD_FREE_RAM:
		for (int i = 0; i < MON_MAX_REGIONS; i++)
			if (mon->region[i].used &&
			    mon->region[i].ds_badge == req->badge[0])
				region_drop(mon, mon->region[i].rm, mon->region[i].at);
		record_dead(mon, req->badge[0]);
		break;
	case PD_ATTACH:
		if (r->nwords >= 1 && req->ncaps >= 1)
			region_attached(mon, 0, req, r->w[0]);
		break;
	case PD_DETACH:
		region_drop(mon, 0, req->w[0]);
		break;
	case PD_ALLOC_RPC_CAP:
		if (cap_valid(c0))
			if (record_add(mon, MON_CLASS_RPC_GATE, c0, req->badge[0]))
				served_gate_made(mon, p->ep, c0);
		break;
	case PD_FREE_RPC_CAP:
		served_gate_freed(mon, req->badge[0]);
		record_dead(mon, req->badge[0]);
		break;
	case PD_ALLOC_SIGNAL_SOURCE:
		/* wrap the source: its semaphore is fetched through it */
		if (cap_valid(c0)) {
			cap_t w = proxy_new(mon, &signal_proxy_type, c0, NULL);
			r->caps[0] = w;
			if (!cap_valid(w))
				r->ncaps = 0;
		}
		break;
	case PD_ALLOC_CONTEXT:
		if (cap_valid(c0))
			record_add(mon, MON_CLASS_SIGNAL_CONTEXT, c0, req->w[0]);
		break;
	case PD_FREE_CONTEXT:
		record_dead(mon, req->badge[0]);
		break;
	case PD_ADDRESS_SPACE:
	case PD_STACK_AREA: /* served too: attachments through it are recorded */
		if (cap_valid(c0)) {
			r->caps[0] = region_map_wrap(mon, c0, req->code, 0, 0, NULL);
			if (!cap_valid(r->caps[0]))
				r->ncaps = 0;
		}
		break;
	}
}

const struct proxy_type pd_proxy_type = {
    .name = "PD", .before = pd_before, .after = pd_after};
