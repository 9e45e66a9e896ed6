/*
 * A restore's memory (restore.c's regions and memory phases): the new
 * target's RAM dataspaces made (or taken from a migration's prebuilt
 * copy, or left unmapped for a lazy restore), attached at their old
 * addresses in the PD or in their region maps, and written once each
 * from the model, off the entrypoint on the monitor's host worker where
 * that pays.
 */
#include <errno.h>
#include <stdlib.h>

#include <base/host_worker.h>
#include <base/region_map.h>
#include "monitor/lazy_fill.h"
#include "monitor/restore_prebuild.h"
#include "monitor/restore_state.h"

struct rs_ds *rs_ds_get(struct rs *rs, uint64_t old_badge, uint64_t size)
{
	struct rs_ds *d;

	for (unsigned i = 0; i < rs->nds; i++)
		if (rs->ds[i].old_badge == old_badge)
			return &rs->ds[i];
	if (rs->nds == MON_MAX_REGIONS || !size)
		return NULL;
	d = &rs->ds[rs->nds];
	/* a migration's prebuilt copy has it written already */
	if (restore_point(rs->mon, "dataspace") ||
	    (prebuild_take_ds(rs->mon, old_badge, size, &d->cap, &d->host) &&
	     pd_alloc_ram(rs->pd, size, &d->cap)))
		return NULL;
	/* a lazy restore: no page of it is mapped until it is filled */
	if (rs->mon->lazy && lazy_fill_add(rs->mon, d->cap, size)) {
		cap_release(d->cap);
		return NULL;
	}
	d->old_badge = old_badge;
	d->size = size;
	rs->nds++;
	if (badge_map_add(&rs->bm, old_badge, cap_badge(d->cap)))
		return NULL;
	return d;
}

int rs_make_regions(struct rs *rs)
{
	uint64_t at;
	int rc;

	rs->what = "cannot recreate its region maps";
	if ((rc = restore_point(rs->mon, "region maps")) ||
	    (rc = rm_restore_make(rs->mon, rs->pd, rs->m, &rs->bm, &rs->rm)))
		return rc;
	rs->what = "cannot recreate its memory";
	for (unsigned i = 0; i < rs->m->nregions; i++) {
		const struct mon_model_region *r = &rs->m->region[i];
		cap_t ds = rm_restore_ds(&rs->rm, r->ds_badge);
		const struct rm_made *map =
		    r->rm ? rm_restore_find(&rs->rm, r->rm) : NULL;
		struct rs_ds *d;

		if (r->owner) { /* another member's: attached by the group's restore */
			rs->nmember_regions++;
			continue;
		}
		if (!cap_valid(ds)) { /* RAM: a new dataspace */
			if (!(d = rs_ds_get(rs, r->ds_badge, r->ds_size)))
				return -ENOMEM;
			ds = d->cap;
		}
		if (r->rm && !map)
			return -ESRCH;
		if ((rc = restore_point(rs->mon, "attach")))
			return rc;
		/* a migration's prebuilt copy attached it while rounds came */
		if (!r->rm && prebuild_attached(rs->mon, r->ds_badge, r->at, r->off,
						r->size, r->perm))
			continue;
		rc = r->rm ? region_attach(map->real, ds, r->at, r->off, r->size, r->perm,
					   &at)
			   : pd_attach(rs->pd, ds, r->at, r->off, r->size, r->perm, &at);
		if (rc)
			return rc;
		if (at != r->at)
			return -EFAULT;
	}
	return 0;
}

/* The parts of region i not covered by an earlier region of the same
 * dataspace, copied from the region's data into the dataspace mapped at
 * host (moved, if the caller gave the copies up): aliasing regions are
 * written once.  0 or -errno. */
static int fill_region(const struct mon_model *m, unsigned i, uint8_t *host)
{
	const struct mon_model_region *r = &m->region[i];
	uint64_t at = r->off, end = r->off + r->size, written;
	int rc = 0;

	while (at < end) {
		uint64_t stop = end;
		int covered = 0;
		for (unsigned k = 0; k < i; k++) {
			const struct mon_model_region *o = &m->region[k];
			if (o->ds_badge != r->ds_badge || !o->data)
				continue;
			if (o->off <= at && at < o->off + o->size) {
				stop = o->off + o->size < end ? o->off + o->size : end;
				covered = 1;
				break;
			}
			if (o->off > at && o->off < stop)
				stop = o->off;
		}
		if (!covered && m->data_given && !m->page_in)
			rc = restore_fill_move(host + at, r->data + (at - r->off),
					       stop - at, &written);
		else if (!covered)
			restore_fill(host + at, r->data + (at - r->off), stop - at);
		if (rc)
			return rc;
		at = stop;
	}
	return 0;
}

/* One dataspace's bytes written (fill_ds): host work only, no kernel
 * call, so that it runs on the monitor's host worker. */
struct fill_job {
	struct rs *rs;
	struct rs_ds *d;
	uint8_t *host;
	int from_src;
	char err[300];
};

static int fill_job(void *arg)
{
	struct fill_job *j = arg;
	struct mon_model *m = j->rs->m;
	int rc;

	if (j->from_src)
		return m->fill ? m->fill(m->fill_src, j->d->old_badge, j->host,
					 j->d->size, j->err, sizeof j->err)
			       : 0;
	for (unsigned i = 0; i < m->nregions; i++)
		if (m->region[i].ds_badge == j->d->old_badge && m->region[i].data) {
			if ((rc = fill_region(m, i, j->host)))
				return rc;
			monitor_meter_add(j->rs->mon, m->region[i].size);
		}
	return 0;
}

/* Each dataspace with bytes is attached in the monitor once and written
 * once: from the image straight into it (a model with a fill), or from
 * the regions' copies, each part once however many regions alias it.
 * The writing (decompressing, copying, the first touch of the new
 * memory: seconds for 256 MiB on a loaded host) runs on the host worker
 * while the entrypoint waits for it, so that the node's other components
 * go on meanwhile (in place without a worker, or while it is busy, for
 * less than a MiB, or when the pages of a given copy are moved).  The regions' data then
 * point there, so the fix-ups below rewrite the new target's memory in place. */
static int fill_ds(struct rs *rs, struct rs_ds *d)
{
	struct mon_model *m = rs->m;
	struct host_worker *w = rs->mon->worker;
	struct fill_job *j;
	int rc;

	if ((rc = restore_point(rs->mon, "memory")) ||
	    (!d->host && (rc = pd_attach(rs->mon->env->pd, d->cap, 0, 0, d->size,
					 MEM_R | MEM_W, &d->host))))
		return rc;
	if (!(j = calloc(1, sizeof *j)))
		return -ENOMEM;
	*j = (struct fill_job){rs, d, (uint8_t *)(uintptr_t)d->host, 0, ""};
	for (unsigned i = 0; i < m->nregions; i++)
		j->from_src |=
		    m->region[i].ds_badge == d->old_badge && m->region[i].from_src;
	/* moving a given copy's pages is quick (256 MiB: 10-40 ms with
	 * finding the zero chunks), quicker than the hand-over to the worker
	 * and back on a loaded host (two waits for a CPU): in place */
	if (w && (d->size < (1ULL << 20) || host_worker_busy(w) ||
		  (m->data_given && !m->page_in && !j->from_src)))
		w = NULL;
	/* a prebuilt copy's final image carries only the last dirty pages:
	 * a few MB copied in place take less than the hand-over to the
	 * worker and back on a loaded host (7-36 ms of the stop) */
	if (w && j->from_src && prebuild_fill_in_place(rs->mon, d->old_badge))
		w = NULL;
	host_worker_set_nice(w, 0); /* the restore waits for it */
	rc = host_worker_run(w, fill_job, j);
	if (rc && j->err[0])
		env_log(rs->mon->env, "monitor: restore: %s", j->err);
	free(j);
	if (rc)
		return rc;
	for (unsigned i = 0; i < m->nregions; i++) {
		struct mon_model_region *r = &m->region[i];
		if (r->ds_badge == d->old_badge && (r->data || r->from_src)) {
			r->data = (uint8_t *)(uintptr_t)d->host + r->off;
			r->from_src = 0;
		}
	}
	return 0;
}

int rs_fill_memory(struct rs *rs)
{
	int rc;

	rs->what = "cannot write its memory";
	if (rs->mon->lazy)
		return 0; /* filled after the commit (lazy_fill.c); fixed in the model */
	for (unsigned k = 0; k < rs->nds; k++) {
		int used = 0;
		for (unsigned i = 0; i < rs->m->nregions && !used; i++)
			used = rs->m->region[i].ds_badge == rs->ds[k].old_badge &&
			       (rs->m->region[i].data || rs->m->region[i].from_src);
		if (used && (rc = fill_ds(rs, &rs->ds[k])))
			return rc;
	}
	return 0;
}

void rs_unmap_memory(struct rs *rs)
{
	for (unsigned i = 0; i < rs->nds; i++)
		if (rs->ds[i].host) {
			pd_detach(rs->mon->env->pd, rs->ds[i].host);
			rs->ds[i].host = 0;
		}
}
