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

#define LAZY_PAGE  4096ULL
#define LAZY_BLOCK 16ULL /* pages filled for one fault: 64 KiB */
#define LAZY_RUN   64ULL /* pages filled at a time in a step: 256 KiB */
/* A background step's bound.  Between steps the fill sleeps in the
 * kernel so that the target (of the monitor's priority) runs: without
 * that the monitor's entrypoint never left the CPU, since each reply
 * from core (DS_LAZY_FILLED, the next step's submit; core runs above
 * it) put it first of its priority again on a slice of its own
 * (kernel/sched.c), and the target stood still until every page was
 * there (0 faults in every post-copy and lazy restore); an idle
 * post-copy step's host sleep (usleep) stopped the whole node. */
#define LAZY_STEP_US  2000
#define LAZY_YIELD_US 1	  /* after a step that filled: the others' turn */
#define LAZY_IDLE_US  200 /* post-copy, nothing arrived, no host worker */
/* post-copy, nothing arrived: the host worker waits this long at most
 * for pages (then the step looks again: its end is bounded, and a target
 * that ends meanwhile waits no longer for the worker) */
#define LAZY_WAIT_MS 20

/* Bytes of the model that belong in [off, off + size) of the dataspace. */
struct lazy_seg {
	uint64_t off, size;
	const uint8_t *data;
};

struct lazy_ds {
	cap_t cap;
	uint64_t badge, pages, left, cursor;
	uint8_t *host; /* the monitor's attachment */
	uint64_t *done;
	unsigned nseg;
	struct lazy_seg *seg;
	int chan; /* post-copy: its index in the page channel, -1: all zero */
};

struct lazy_fill {
	struct monitor *mon;
	struct signal_handler fault_h, step_h;
	unsigned nds;
	struct lazy_ds ds[MON_MAX_REGIONS];
	struct mon_model *model; /* owned from lazy_fill_run on */
	struct page_channel *ch; /* post-copy: where the pages arrive (owned) */
	int running, no_steps;
	int attached;	  /* every dataspace attached in the monitor (host) */
	int waiting;	  /* the host worker waits for pages (wait_job) */
	uint64_t arrived; /* the channel's arrived count at the step's start */
	uint64_t t0_us, total, left, demand, faults;
	uint64_t first_us; /* the first fault, from t0_us: the target ran */
};

static int done_bit(const struct lazy_ds *d, uint64_t p)
{
	return d->done[p / 64] >> (p % 64) & 1;
}

/* The first run [*p, *q) of pages not yet filled within [from, to). */
static int next_absent(const struct lazy_ds *d, uint64_t from, uint64_t to, uint64_t *p,
		       uint64_t *q)
{
	while (from < to && done_bit(d, from))
		from++;
	if (from >= to)
		return 0;
	*p = from;
	while (from < to && !done_bit(d, from))
		from++;
	*q = from;
	return 1;
}

static void lazy_fail(struct lazy_fill *lf, const char *what, int rc)
{
	struct monitor *mon = lf->mon;

	env_log(mon->env,
		"monitor: lazy restore failed: %s: %s: %llu of %llu pages never "
		"arrived; the target is stopped",
		what, strerror(-rc), (unsigned long long)lf->left,
		(unsigned long long)lf->total);
	lf->running = 0;
	monitor_target_ends(mon, 1);
}

/* Post-copy: the source is lost; what never arrived exists nowhere else.
 * The channel's count, not lf->left: pages that arrived since the last
 * step are not filled yet, but they did arrive (the node's line says the
 * same). */
static void source_lost(struct lazy_fill *lf)
{
	struct monitor *mon = lf->mon;
	struct page_channel_stats st;
	char why[256];

	page_channel_failed(lf->ch, why, sizeof why);
	page_channel_stats(lf->ch, &st);
	env_log(mon->env,
		"monitor: post-copy failed: the source was lost (%s): %llu of %llu "
		"pages never arrived; the target is stopped",
		why, (unsigned long long)(st.total - st.arrived),
		(unsigned long long)st.total);
	lf->running = 0;
	monitor_target_ends(mon, 1);
}

/* Page p of d can be filled now (post-copy: it arrived). */
static int ready(const struct lazy_fill *lf, const struct lazy_ds *d, uint64_t p)
{
	return !lf->ch || d->chan < 0 ||
	       page_channel_arrived(lf->ch, (unsigned)d->chan, p);
}

/* Write pages [p, q) (none filled yet) from the model and report them. */
static int fill_run(struct lazy_fill *lf, struct lazy_ds *d, uint64_t p, uint64_t q)
{
	uint64_t lo = p * LAZY_PAGE, hi = q * LAZY_PAGE;
	int rc;

	if (lf->ch && d->chan >= 0) /* post-copy: every page of it arrived */
		restore_fill(d->host + lo,
			     page_channel_buf(lf->ch, (unsigned)d->chan) + lo, hi - lo);
	for (unsigned i = 0; !lf->ch && i < d->nseg; i++) {
		const struct lazy_seg *s = &d->seg[i];
		uint64_t o = lo > s->off ? lo : s->off;
		uint64_t e = hi < s->off + s->size ? hi : s->off + s->size;
		if (o < e) /* fresh memory reads as zeros: zero pages are skipped */
			restore_fill(d->host + o, s->data + (o - s->off), e - o);
	}
	if ((rc = ds_lazy_filled(d->cap, p, q - p, NULL)))
		return rc;
	for (uint64_t k = p; k < q; k++)
		d->done[k / 64] |= 1ULL << (k % 64);
	d->left -= q - p;
	lf->left -= q - p;
	return 0;
}

static void lazy_finish(struct lazy_fill *lf)
{
	char first[48] = "";

	if (lf->faults)
		snprintf(first, sizeof first, ", the first after %.1f ms",
			 lf->first_us / 1000.0);
	env_log(lf->mon->env,
		"monitor: lazy restore complete: %llu pages, %llu of them on demand "
		"(%llu faults), in %llu ms%s",
		(unsigned long long)lf->total, (unsigned long long)lf->demand,
		(unsigned long long)lf->faults,
		(unsigned long long)((mon_now_us() - lf->t0_us) / 1000), first);
	lazy_fill_free(lf->mon);
}

/* Fill the runs of [b, e) of d that are not filled yet and can be
 * filled now; *n += pages filled.  0 or -errno. */
static int fill_ready(struct lazy_fill *lf, struct lazy_ds *d, uint64_t b, uint64_t e,
		      uint64_t *n)
{
	uint64_t p, q;
	int rc;

	for (; next_absent(d, b, e, &p, &q); b = q) {
		uint64_t r = p;
		while (r < q && ready(lf, d, r))
			r++;
		if (r > p && (rc = fill_run(lf, d, p, r)))
			return rc;
		*n += r - p;
		if (r < q)
			q = r + 1; /* not there yet: go on after it */
	}
	return 0;
}

/* The pages target threads wait for: the block around each, as far as it
 * can be filled (post-copy: a page not there is wanted).  0, or -1 if the
 * fill failed (and the target is stopped). */
static int serve_waiters(struct lazy_fill *lf, uint64_t *filled)
{
	uint64_t pages[DS_LAZY_WANTED_MAX];
	unsigned n;
	int rc;

	for (unsigned i = 0; lf->running && i < lf->nds; i++) {
		struct lazy_ds *d = &lf->ds[i];
		if (!d->left)
			continue;
		if ((rc = ds_lazy_wanted(d->cap, pages, DS_LAZY_WANTED_MAX, &n, NULL))) {
			lazy_fail(lf, "cannot ask core which pages are wanted", rc);
			return -1;
		}
		for (unsigned k = 0; k < n && pages[k] < d->pages; k++) {
			uint64_t b = pages[k] - pages[k] % LAZY_BLOCK, got = 0;
			uint64_t e =
			    b + LAZY_BLOCK < d->pages ? b + LAZY_BLOCK : d->pages;
			if (!ready(lf, d, pages[k]))
				page_channel_want(lf->ch, (unsigned)d->chan, pages[k]);
			if (!lf->faults++)
				lf->first_us = mon_now_us() - lf->t0_us;
			if ((rc = fill_ready(lf, d, b, e, &got))) {
				lazy_fail(lf, "cannot map a filled page", rc);
				return -1;
			}
			lf->demand += got;
			*filled += got;
		}
	}
	return 0;
}

/* The monitor's attachment of each dataspace not attached yet.  0 or
 * -errno. */
static int attach_some(struct lazy_fill *lf)
{
	uint64_t at;
	int rc;

	for (unsigned i = 0; !lf->attached && i < lf->nds; i++) {
		struct lazy_ds *d = &lf->ds[i];
		if (d->host)
			continue;
		if ((rc = pd_attach(lf->mon->env->pd, d->cap, 0, 0, 0, MEM_R | MEM_W,
				    &at)))
			return rc;
		d->host = (uint8_t *)(uintptr_t)at;
	}
	lf->attached = 1;
	return 0;
}

/* The attachments, made on the first fault or step if not before
 * (lazy_fill_attach): not in a post-copy's pause (one per dataspace, 64
 * for a 1 GiB bench_wset), where the target does not run yet.  0, or -1
 * if it failed (and the target is stopped). */
static int attach_all(struct lazy_fill *lf)
{
	int rc = attach_some(lf);

	if (rc)
		lazy_fail(lf, "cannot attach its memory", rc);
	return rc ? -1 : 0;
}

/* fault_h: a target thread waits for a page. */
static void on_fault(void *arg, unsigned count)
{
	struct lazy_fill *lf = arg;
	uint64_t filled = 0;

	if (!lf->running || attach_all(lf) || serve_waiters(lf, &filled))
		return;
	if (!lf->left)
		lazy_finish(lf);
}

/* Pages of d in address order from its cursor, LAZY_RUN at a time, until
 * the step's end (post-copy: up to one not arrived yet); *n += pages
 * filled.  0 or -errno. */
static int fill_cursor(struct lazy_fill *lf, struct lazy_ds *d, uint64_t end_us,
		       uint64_t *n)
{
	uint64_t p, q;
	int rc;

	while (next_absent(d, d->cursor, d->pages, &p, &q)) {
		uint64_t r = p;
		q = q - p > LAZY_RUN ? p + LAZY_RUN : q;
		while (r < q && ready(lf, d, r))
			r++;
		if (r == p)
			return 0; /* not arrived yet */
		if ((rc = fill_run(lf, d, p, r)))
			return rc;
		*n += r - p;
		d->cursor = r;
		if (mon_now_us() >= end_us)
			return 0;
	}
	return 0;
}

/* Host worker: wait for pages beyond those the last step saw. */
static int wait_job(void *arg)
{
	struct lazy_fill *lf = arg;

	page_channel_wait(lf->ch, lf->arrived, LAZY_WAIT_MS);
	return 0;
}

/* Entrypoint: pages arrived (or the wait ended): the next step. */
static void wait_done(void *arg, int rc)
{
	struct lazy_fill *lf = arg;

	lf->waiting = 0;
	if (lf->running && (rc = signal_submit(lf->mon->env, lf->step_h.context, 1)))
		lazy_fail(lf, "cannot schedule the next step", rc);
}

/* After a step: the target's turn, then the next step; a post-copy step
 * that filled nothing waits for pages on the host worker instead of
 * looking again every LAZY_IDLE_US. */
static void next_step(struct lazy_fill *lf, uint64_t filled)
{
	struct monitor *mon = lf->mon;
	int rc;

	if (!filled && lf->ch && mon->worker && !host_worker_busy(mon->worker)) {
		host_worker_set_nice(mon->worker, 0);
		lf->waiting = 1;
		if (!host_worker_start(mon->worker, wait_job, lf, wait_done, lf))
			return;
		lf->waiting = 0;
	}
	/* a fault meanwhile is queued before the next step, so it is served
	 * first (on_fault) */
	mon_sleep_us(filled ? LAZY_YIELD_US : LAZY_IDLE_US);
	if ((rc = signal_submit(mon->env, lf->step_h.context, 1)))
		lazy_fail(lf, "cannot schedule the next step", rc);
}

/* step_h: the waiting threads' pages first (post-copy: those not there
 * are wanted), then pages in address order (post-copy: of those that
 * arrived) for at most LAZY_STEP_US; then the target's turn, and the
 * next step. */
static void on_step(void *arg, unsigned count)
{
	struct lazy_fill *lf = arg;
	uint64_t filled = 0, end = mon_now_us() + LAZY_STEP_US;
	int rc;

	if (!lf->running || attach_all(lf))
		return;
	if (lf->ch && page_channel_failed(lf->ch, NULL, 0))
		return source_lost(lf);
	if (lf->ch) { /* what arrives from here on wakes an idle wait */
		struct page_channel_stats st;
		page_channel_stats(lf->ch, &st);
		lf->arrived = st.arrived;
	}
	if (serve_waiters(lf, &filled))
		return;
	for (unsigned i = 0; lf->running && i < lf->nds && mon_now_us() < end; i++)
		if ((rc = fill_cursor(lf, &lf->ds[i], end, &filled)))
			return lazy_fail(lf, "cannot map a filled page", rc);
	if (!lf->running)
		return;
	if (!lf->left)
		return lazy_finish(lf);
	next_step(lf, filled);
}

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
	if ((rc = signal_handler_init(mon->env, &lf->fault_h, on_fault, lf))) {
		free(lf);
		return rc;
	}
	if ((rc = signal_handler_init(mon->env, &lf->step_h, on_step, lf))) {
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
	int rc = mon->lazy ? attach_some(mon->lazy) : -EINVAL;

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
