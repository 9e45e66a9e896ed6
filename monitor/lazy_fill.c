/*
 * Lazy restore: filling a restored target's memory after it runs.
 *
 * Every RAM dataspace the restore makes is lazy at core (DS_LAZY_START,
 * core/ds_lazy.c) before it is attached: none of its pages is mapped in
 * the target.  The restore fixes the cap map and the object pools in the
 * model's copy of the memory instead of the new dataspaces (restore.c),
 * verifies it there and commits; from then on this file owns the model
 * and fills the dataspaces from it, through the monitor's own attachment:
 *
 *  - on demand: a target thread that touches an absent page is halted by
 *    the kernel, core signals fault_h, and the handler fills the
 *    LAZY_BLOCK-page block around each page a thread waits for and
 *    reports it (DS_LAZY_FILLED): core maps it and the thread runs the
 *    instruction again.  Only that thread waited; the rest of the node
 *    (and of the target) ran on.
 *  - in the background: step_h fills pages in address order for at most
 *    LAZY_STEP_US, then gives the node's CPU away (a sleep in the
 *    kernel) and signals itself for the next step, so the target runs
 *    between steps, and its faults and every other request of the
 *    monitor's entrypoint are served before the next step.
 *
 * Both run on the monitor's entrypoint, so a page is written at most once
 * (done[]), and before core maps it: a page the target has written is
 * never overwritten by its old contents.  When every page is there the
 * model is freed and the dataspaces are ordinary ones.
 *
 * A post-copy restore (lazy_fill_channel) takes the pages from a page
 * channel instead, as they arrive from the migration's source: a page is
 * filled only once it arrived; a page a thread waits for that has not
 * arrived is wanted (the source sends it before the rest); the
 * background steps fill what arrived, in address order, and look at the
 * waiting threads again; a step that found nothing to fill waits for the
 * next pages on the monitor's host worker (page_channel_wait), not on
 * the node, and the next step follows their arrival.  If the source is
 * lost the target is stopped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <base/host_worker.h>
#include <base/region_map.h>
#include <base/signal.h>
#include "config/test_env.h"
#include "monitor/badge_map.h"
#include "monitor/lazy_fill.h"
#include "monitor/model.h"
#include "monitor/page_channel.h"
#include "monitor/checkpoint.h"
#include "monitor/restore.h"

#include "monitor/lazy_fill_state.h"

void lazy_fill_channel(struct monitor *mon, struct page_channel *ch)
{
	mon->lazy->ch = ch;
}

int lazy_fill_new(struct monitor *mon)
{
	struct lazy_fill *lf = calloc(1, sizeof *lf);
	int rc;

	if (!lf)
		return -ENOMEM;
	lf->mon = mon;
	if ((rc = signal_handler_init(mon->env, &lf->fault_h, lazy_on_fault, lf))) {
		free(lf);
		return rc;
	}
	if ((rc = signal_handler_init(mon->env, &lf->step_h, lazy_on_step, lf))) {
		signal_handler_dissolve(mon->env, &lf->fault_h);
		free(lf);
		return rc;
	}
	mon->lazy = lf;
	return 0;
}

int lazy_fill_add(struct monitor *mon, cap_t ds, uint64_t size)
{
	struct lazy_fill *lf = mon->lazy;
	struct lazy_ds *d;
	int rc;

	if (!lf)
		return -ENOSPC;
	for (unsigned i = 0; i < lf->nds; i++)
		if (lf->ds[i].badge == cap_badge(ds))
			return 0; /* a prebuilt copy's: lazy already */
	if (lf->nds == MON_MAX_REGIONS)
		return -ENOSPC;
	d = &lf->ds[lf->nds];
	memset(d, 0, sizeof *d);
	d->pages = size / LAZY_PAGE;
	d->done = calloc((d->pages + 63) / 64, sizeof *d->done);
	if (!d->done)
		return -ENOMEM;
	if ((rc = ds_lazy_start_paid(ds, lf->fault_h.context, mon->env->pd, NULL))) {
		free(d->done);
		return rc;
	}
	d->cap = cap_ref(ds);
	d->badge = cap_badge(ds);
	d->chan = -1;
	d->left = d->pages;
	lf->total += d->pages;
	lf->nds++;
	return 0;
}

int lazy_fill_attach(struct monitor *mon)
{
	int rc = mon->lazy ? lazy_attach_some(mon->lazy) : -EINVAL;

	if (mon->lazy)
		mon->lazy->attached = 0; /* dataspaces may follow */
	return rc;
}

void lazy_fill_drop(struct monitor *mon, cap_t ds)
{
	struct lazy_fill *lf = mon->lazy;

	for (unsigned i = 0; lf && !lf->running && i < lf->nds; i++) {
		struct lazy_ds *d = &lf->ds[i];
		if (d->badge != cap_badge(ds))
			continue;
		if (d->host)
			pd_detach(mon->env->pd, (uint64_t)(uintptr_t)d->host);
		cap_release(d->cap);
		free(d->done);
		free(d->seg);
		lf->total -= d->pages;
		*d = lf->ds[--lf->nds];
		return;
	}
}

static struct lazy_ds *ds_of(struct lazy_fill *lf, uint64_t badge)
{
	for (unsigned i = 0; i < lf->nds; i++)
		if (lf->ds[i].badge == badge)
			return &lf->ds[i];
	return NULL;
}

/* Each region's bytes become a segment of its (new) dataspace. */
static int add_segments(struct lazy_fill *lf, const struct badge_map *bm)
{
	const struct mon_model *m = lf->model;

	for (unsigned i = 0; i < m->nregions; i++) {
		const struct mon_model_region *r = &m->region[i];
		struct lazy_ds *d;
		struct lazy_seg *s;

		if (!r->data)
			continue; /* managed: its bytes are in the regions inside */
		if (!(d = ds_of(lf, badge_map_new(bm, r->ds_badge))))
			return -ENOENT;
		if (lf->ch) { /* post-copy: the channel holds the whole dataspace */
			d->chan = page_channel_index(lf->ch, r->ds_badge);
			continue;
		}
		s = realloc(d->seg, (d->nseg + 1) * sizeof *s);
		if (!s)
			return -ENOMEM;
		d->seg = s;
		d->seg[d->nseg++] = (struct lazy_seg){r->off, r->size, r->data};
	}
	return 0;
}

int lazy_fill_run(struct monitor *mon, struct mon_model *model,
		  const struct badge_map *bm, int start)
{
	struct lazy_fill *lf = mon->lazy;
	int rc;

	if (!lf)
		return -EINVAL;
	lf->model = model;
	lf->t0_us = mon_now_us();
	lf->left = lf->total;
	/* test hook (tests/cr/lazy_restore.sh): pages only on demand */
	lf->no_steps = test_env("CAPSULE_TEST_LAZY_DEMAND_ONLY") != NULL;
	if ((rc = add_segments(lf, bm)))
		goto fail;
	lf->running = 1;
	if (start && (rc = lazy_fill_start(mon)))
		goto fail;
	env_log(mon->env, "monitor: lazy restore: %s, %llu pages to fill (%u dataspaces)",
		start ? "the target runs" : "held until the commit",
		(unsigned long long)lf->total, lf->nds);
	return 0;
fail:
	lf->running = 0;
	env_log(mon->env, "monitor: lazy restore failed: cannot start filling: %s",
		strerror(-rc));
	return rc;
}

int lazy_fill_start(struct monitor *mon)
{
	struct lazy_fill *lf = mon->lazy;

	if (!lf || !lf->running)
		return 0;
	lf->t0_us = mon_now_us(); /* the first fault's time counts from here */
	return lf->no_steps ? 0 : signal_submit(mon->env, lf->step_h.context, 1);
}

int lazy_fill_busy(const struct monitor *mon)
{
	return mon->lazy != NULL;
}

void lazy_fill_progress(const struct monitor *mon, uint64_t *done, uint64_t *total)
{
	const struct lazy_fill *lf = mon->lazy;

	*total = lf ? lf->total : 0;
	*done = lf ? lf->total - lf->left : 0;
}

void lazy_fill_free(struct monitor *mon)
{
	struct lazy_fill *lf = mon->lazy;

	if (!lf)
		return;
	if (lf->running && lf->left)
		env_log(mon->env,
			"monitor: lazy restore ended with the target: %llu of %llu pages "
			"filled, %llu on demand (%llu faults)",
			(unsigned long long)(lf->total - lf->left),
			(unsigned long long)lf->total, (unsigned long long)lf->demand,
			(unsigned long long)lf->faults);
	if (lf->waiting && mon->worker) { /* the job reads lf: it ends first */
		page_channel_wake(lf->ch);
		host_worker_wait(mon->worker);
	}
	mon->lazy = NULL;
	for (unsigned i = 0; i < lf->nds; i++) {
		struct lazy_ds *d = &lf->ds[i];
		if (d->host)
			pd_detach(mon->env->pd, (uint64_t)(uintptr_t)d->host);
		cap_release(d->cap);
		free(d->done);
		free(d->seg);
	}
	signal_handler_dissolve(mon->env, &lf->fault_h);
	signal_handler_dissolve(mon->env, &lf->step_h);
	if (lf->model) {
		model_free(lf->model);
		free(lf->model);
	}
	page_channel_free(lf->ch);
	free(lf);
}
