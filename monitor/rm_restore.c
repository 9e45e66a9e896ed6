/*
 * Region maps in a restore: a new region map for every one the target
 * held -- its PD's address space and stack area from the new PD, each
 * managed map made again at its RM session with its recorded size --
 * each behind a new proxy (a new badge for the target), a managed map's
 * dataspace fetched again (and the address space's or stack area's, if
 * the target held it).  restore.c attaches the regions into them;
 * the fault handlers are set once the contexts exist (region_map_proxy's
 * restored hook).  Until commit everything here can be taken back.
 */
#include <errno.h>
#include <string.h>

#include <base/region_map.h>

#include "monitor/restore.h"
#include "monitor/restore_state.h"

/* The new real map for model map mr: *session is the RM session's real
 * cap it was made at (managed maps; borrowed). */
static int make_real(struct monitor *mon, cap_t pd, const struct mon_model_rmap *mr,
		     const struct badge_map *bm, cap_t *session, cap_t *real)
{
	struct proxy *s;
	struct msg m;

	*session = CAP_INVALID;
	if (mr->kind == PD_ADDRESS_SPACE || mr->kind == PD_STACK_AREA) {
		msg_reset(&m, mr->kind);
		return restore_call_cap(pd, &m, real);
	}
	if (mr->kind != RM_CREATE || !mr->size)
		return -EINVAL;
	s = proxy_find(mon, badge_map_new(bm, mr->session));
	if (!s || s->type != &rm_proxy_type)
		return -ESRCH;
	*session = s->real;
	msg_reset(&m, RM_CREATE);
	msg_put(&m, mr->size);
	return restore_call_cap(s->real, &m, real);
}

static void destroy_at(cap_t session, cap_t real)
{
	struct msg m;

	if (!cap_valid(session))
		return;
	msg_reset(&m, RM_DESTROY);
	msg_put_cap(&m, real);
	rpc_call(session, &m);
}

static int make_one(struct monitor *mon, cap_t pd, const struct mon_model_rmap *mr,
		    struct badge_map *bm, struct rm_restore *rr)
{
	struct rm_made *made = &rr->map[rr->n];
	struct proxy *p;
	cap_t real;
	int rc;

	memset(made, 0, sizeof *made);
	if ((rc = make_real(mon, pd, mr, bm, &made->session, &real)))
		return rc;
	made->real = real;
	if (!cap_valid(proxy_new(mon, &region_map_proxy_type, cap_ref(real), &p))) {
		destroy_at(made->session, real); /* not in rr: undone here */
		cap_release(real);
		return -ENOSPC;
	}
	made->p = p;
	made->old_badge = mr->badge;
	rr->n++;
	p->state[RMAP_KIND] = mr->kind;
	p->state[RMAP_SIZE] = mr->size;
	p->state[RMAP_SESSION] = badge_map_new(bm, mr->session);
	p->state[RMAP_SIGH] = mr->sigh; /* the old context until restored() */
	/* a map the target holds no cap of is keyed by its dataspace's id,
	 * which is no badge of the map */
	if (!mr->nocap && (rc = badge_map_add(bm, mr->badge, p->obj.badge)))
		return rc;
	/* the PD's own map: its dataspace only if the target held it */
	if (mr->kind != RM_CREATE && !mr->ds_badge)
		return 0;
	if ((rc = region_map_dataspace(real, &made->ds)))
		return rc;
	p->state[RMAP_DS] = cap_badge(made->ds);
	made->old_ds = mr->ds_badge;
	return badge_map_add(bm, mr->ds_badge, cap_badge(made->ds));
}

int rm_restore_make(struct monitor *mon, cap_t pd, const struct mon_model *m,
		    struct badge_map *bm, struct rm_restore *rr)
{
	int rc;

	for (unsigned i = 0; i < m->nrmaps; i++) {
		if (rr->n == MON_MAX_RMAPS)
			return -E2BIG;
		if ((rc = make_one(mon, pd, &m->rmap[i], bm, rr)))
			return rc;
	}
	return 0;
}

const struct rm_made *rm_restore_find(const struct rm_restore *rr, uint64_t old_badge)
{
	for (unsigned i = 0; i < rr->n; i++)
		if (rr->map[i].old_badge == old_badge)
			return &rr->map[i];
	return NULL;
}

cap_t rm_restore_ds(const struct rm_restore *rr, uint64_t old_ds_badge)
{
	for (unsigned i = 0; old_ds_badge && i < rr->n; i++)
		if (rr->map[i].old_ds == old_ds_badge && cap_valid(rr->map[i].ds))
			return rr->map[i].ds;
	return CAP_INVALID;
}

void rm_restore_rollback(struct monitor *mon, struct rm_restore *rr)
{
	for (unsigned i = 0; i < rr->n; i++) {
		struct rm_made *made = &rr->map[i];
		destroy_at(made->session, made->real);
		if (cap_valid(made->ds))
			cap_release(made->ds);
		if (made->p)
			proxy_destroy(mon, made->p);
		if (cap_valid(made->real))
			cap_release(made->real);
	}
	rr->n = 0;
}

static int is_made(const struct rm_restore *rr, const struct proxy *p)
{
	for (unsigned i = 0; i < rr->n; i++)
		if (rr->map[i].p == p)
			return 1;
	return 0;
}

void rm_restore_commit(struct monitor *mon, struct rm_restore *rr)
{
	/* the old target's maps (same node): destroyed at their sessions */
	for (int i = 0; i < MON_MAX_PROXIES; i++) {
		struct proxy *p = &mon->proxy[i];
		struct proxy *s;
		if (!p->used || p->type != &region_map_proxy_type || is_made(rr, p))
			continue;
		s = proxy_find(
		    mon, p->state[RMAP_KIND] == RM_CREATE ? p->state[RMAP_SESSION] : 0);
		if (s)
			destroy_at(s->real, p->real);
		region_map_forget(mon, p);
	}
	for (unsigned i = 0; i < rr->n; i++) {
		struct rm_made *made = &rr->map[i];
		if (cap_valid(made->ds)) {
			record_add(mon, MON_CLASS_MANAGED_DS, made->ds,
				   made->p->obj.badge);
			record_hold(mon, made->ds, "region map");
		}
		cap_release(made->real);
	}
	/* rr stays readable: the commit looks its maps up afterwards */
}

/* Region r of the holder's model at its place, of dataspace ds. */
static int attach_member(struct rs *rs, const struct mon_model_region *r, cap_t ds)
{
	const struct rm_made *map = r->rm ? rm_restore_find(&rs->rm, r->rm) : NULL;
	uint64_t at;
	int rc;

	if (r->rm && !map)
		return -ESRCH;
	if ((rc = restore_point(rs->mon, "member attach")))
		return rc;
	rc = r->rm ? region_attach(map->real, ds, r->at, r->off, r->size, r->perm, &at)
		   : pd_attach(rs->pd, ds, r->at, r->off, r->size, r->perm, &at);
	if (rc)
		return rc;
	if (at != r->at)
		return -EFAULT;
	/* a cap of it the holder holds is mapped with the same pair */
	if (badge_map_new(&rs->bm, r->ds_badge) == r->ds_badge)
		return badge_map_add(&rs->bm, r->ds_badge, cap_badge(ds));
	return 0;
}

int restore_member_regions(struct rs *holder,
			   int (*object)(void *arg, int owner, uint64_t old, cap_t *ds),
			   void *arg)
{
	/* (most members have none: their model is not read again) */
	for (unsigned i = 0; holder->nmember_regions && i < holder->m->nregions; i++) {
		const struct mon_model_region *r = &holder->m->region[i];
		cap_t ds;
		int rc;

		if (!r->owner)
			continue;
		if ((rc = object(arg, r->owner - 1, r->ds_badge, &ds)) ||
		    (rc = attach_member(holder, r, ds))) {
			monitor_why(holder->mon,
				    "restore: region 0x%llx (%llu bytes) of another "
				    "member's dataspace 0x%llx: %s",
				    (unsigned long long)r->at,
				    (unsigned long long)r->size,
				    (unsigned long long)r->ds_badge, strerror(-rc));
			return rc;
		}
	}
	return 0;
}
