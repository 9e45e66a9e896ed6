/*
 * The target's region maps, intercepted: its RM sessions (routed through
 * the monitor's parent, like a Timer) and every region map it holds --
 * the managed ones it made there and its PD's address space and stack
 * area.  What a restore needs is recorded as it happens: each managed
 * map's size, session, dataspace and fault-handler context, and every
 * attachment (in the address space at its absolute address, inside a
 * managed map at its offset there; see struct mon_region).
 *
 * Region-map proxy state: see RMAP_* in monitor.h.
 */
#include <errno.h>
#include <string.h>

#include "monitor/restore.h"

int region_map_dataspace(cap_t real, cap_t *ds)
{
	struct msg m;

	msg_reset(&m, REGION_DATASPACE);
	return restore_call_cap(real, &m, ds);
}

struct proxy *region_map_find(struct monitor *mon, uint64_t badge)
{
	struct proxy *p = proxy_find(mon, badge);

	return p && p->type == &region_map_proxy_type ? p : NULL;
}

cap_t region_map_wrap(struct monitor *mon, cap_t real, uint64_t kind, uint64_t size,
		      uint64_t session, struct proxy **out)
{
	struct proxy *p;
	cap_t c, ds = CAP_INVALID;

	/* the PD's address space and stack area are one map each: served by
	 * one proxy however often the target asks */
	if (kind != RM_CREATE &&
	    (p = proxy_with(mon, &region_map_proxy_type, RMAP_KIND, kind)) != NULL) {
		cap_release(real);
		if (out)
			*out = p;
		return p->obj.cap;
	}
	/* a managed map's dataspace names it in the records and the image,
	 * whether or not the target ever asks for it */
	if (kind == RM_CREATE && region_map_dataspace(real, &ds)) {
		cap_release(real);
		return CAP_INVALID;
	}
	c = proxy_new(mon, &region_map_proxy_type, real, &p);
	if (!cap_valid(c)) {
		if (cap_valid(ds))
			cap_release(ds);
		return CAP_INVALID;
	}
	p->state[RMAP_KIND] = kind;
	p->state[RMAP_SIZE] = size;
	p->state[RMAP_SESSION] = session;
	if (cap_valid(ds)) {
		p->state[RMAP_DS] = cap_badge(ds);
		record_add(mon, MON_CLASS_MANAGED_DS, ds, p->obj.badge);
		record_hold(mon, ds, "region map");
	}
	if (out)
		*out = p;
	return c;
}

void region_map_forget(struct monitor *mon, struct proxy *map)
{
	/* what is attached in it, and where its dataspace is attached */
	for (int i = 0; i < MON_MAX_REGIONS; i++)
		if (mon->region[i].used &&
		    (mon->region[i].rm == map->obj.badge ||
		     (map->state[RMAP_DS] &&
		      mon->region[i].ds_badge == map->state[RMAP_DS])))
			memset(&mon->region[i], 0, sizeof mon->region[i]);
	if (map->state[RMAP_DS])
		record_dead(mon, map->state[RMAP_DS]);
	proxy_destroy(mon, map);
}

/* Where an attachment at `at` of this map lies in the records. */
static void region_key(const struct proxy *p, uint64_t at, uint64_t *rm, uint64_t *addr)
{
	*rm = p->state[RMAP_KIND] == RM_CREATE ? p->obj.badge : 0;
	*addr = p->state[RMAP_KIND] == PD_STACK_AREA ? GUEST_STACK_AREA + at : at;
}

/* The dataspace of the PD's address space or stack area, handed to the
 * target (REGION_DATASPACE): recorded like a managed map's, so that a
 * checkpoint classifies the target's cap of it and a restore gives it
 * the new PD's (rm_restore.c); its size asked once. */
static void pd_map_dataspace(struct proxy *p, cap_t ds)
{
	struct msg m;

	if (!cap_valid(ds) || p->state[RMAP_KIND] == RM_CREATE || p->state[RMAP_DS])
		return;
	msg_reset(&m, DS_SIZE);
	if (rpc_call(ds, &m) || m.code != RPC_OK || m.nwords < 1 || !m.w[0])
		return; /* unrecorded: a checkpoint names the cap as of no class */
	p->state[RMAP_SIZE] = m.w[0];
	p->state[RMAP_DS] = cap_badge(ds);
	/* the proxy loop's record_hold takes over the reply's reference */
	record_add(p->mon, MON_CLASS_MANAGED_DS, ds, p->obj.badge);
}

static void region_map_after(struct proxy *p, const struct mon_req *req, struct msg *r)
{
	uint64_t rm, at;

	switch (req->code) {
	case REGION_DATASPACE:
		if (r->ncaps >= 1)
			pd_map_dataspace(p, r->caps[0]);
		break;
	case REGION_ATTACH:
		if (r->nwords >= 1 && req->ncaps >= 1) {
			region_key(p, r->w[0], &rm, &at);
			region_attached(p->mon, rm, req, at);
		}
		break;
	case REGION_DETACH:
		if (req->nwords >= 1) {
			region_key(p, req->w[0], &rm, &at);
			region_drop(p->mon, rm, at);
		}
		break;
	case REGION_FAULT_HANDLER:
		p->state[RMAP_SIGH] = req->ncaps >= 1 ? req->badge[0] : 0;
		break;
	}
}

/* A restore makes the map anew (rm_restore.c): its fault handler is set
 * to the recreated context right away, at the new map, which the old
 * target does not use (a rollback destroys the map). */
static int region_map_prepare(struct proxy *p, struct rs *rs)
{
	struct msg m;
	uint64_t nb;
	cap_t ctx;
	int rc;

	if (!p->state[RMAP_SIGH])
		return 0;
	nb = restore_new_badge(rs, p->state[RMAP_SIGH]);
	ctx = restore_new_cap(rs, nb);
	if (!cap_valid(ctx))
		return -ESRCH;
	p->next_state[RMAP_SIGH] = nb;
	msg_reset(&m, REGION_FAULT_HANDLER);
	msg_put_cap(&m, ctx);
	if ((rc = rpc_call(p->real, &m)))
		return rc;
	return m.code == RPC_OK ? 0 : -EPROTO;
}

static void region_map_apply(struct proxy *p)
{
	if (p->state[RMAP_SIGH])
		p->state[RMAP_SIGH] = p->next_state[RMAP_SIGH];
}

const struct proxy_type region_map_proxy_type = {
    "region map", NULL, region_map_after, region_map_prepare, NULL, region_map_apply};

/* ---- the RM session ------------------------------------------------------ */

static void rm_after(struct proxy *p, const struct mon_req *req, struct msg *r)
{
	struct proxy *map;

	switch (req->code) {
	case RM_CREATE:
		if (r->ncaps < 1 || !cap_valid(r->caps[0]) || req->nwords < 1)
			break;
		r->caps[0] = region_map_wrap(p->mon, r->caps[0], RM_CREATE, req->w[0],
					     p->obj.badge, NULL);
		if (!cap_valid(r->caps[0]))
			r->ncaps = 0;
		break;
	case RM_DESTROY: /* its attachments and dataspace go with it */
		map = NULL;
		for (int i = 0; i < MON_MAX_PROXIES && !map; i++)
			if (p->mon->proxy[i].used &&
			    p->mon->proxy[i].type == &region_map_proxy_type &&
			    req->ncaps >= 1 &&
			    cap_badge(p->mon->proxy[i].real) == req->badge[0])
				map = &p->mon->proxy[i];
		if (map) {
			record_dead(p->mon, map->obj.badge);
			region_map_forget(p->mon, map);
		}
		break;
	}
}

const struct proxy_type rm_proxy_type = {.name = "RM", .before = NULL, .after = rm_after};

int rmaps_record(struct monitor *mon, struct mon_model *model)
{
	model->nrmaps = 0;
	for (int i = 0; i < MON_MAX_PROXIES; i++) {
		const struct proxy *p = &mon->proxy[i];
		if (!p->used || p->type != &region_map_proxy_type)
			continue;
		if (model->nrmaps == MON_MAX_RMAPS) {
			env_log(mon->env, "monitor: checkpoint: more than %d region maps",
				MON_MAX_RMAPS);
			return -E2BIG;
		}
		model->rmap[model->nrmaps++] =
		    (struct mon_model_rmap){p->obj.badge,
					    p->state[RMAP_KIND],
					    p->state[RMAP_SIZE],
					    p->state[RMAP_SESSION],
					    p->state[RMAP_DS],
					    p->state[RMAP_SIGH],
					    0};
	}
	return 0;
}
