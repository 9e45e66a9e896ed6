/*
 * The pages of a lazy restore (lazy_fill.c), filled on the monitor's
 * entrypoint: on demand around the page a halted thread waits for, and
 * in bounded background steps in address order; from the model, or for
 * a post-copy from the page channel as the pages arrive.  A page is
 * written once (done[]) and before core maps it.
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
int lazy_attach_some(struct lazy_fill *lf)
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
	int rc = lazy_attach_some(lf);

	if (rc)
		lazy_fail(lf, "cannot attach its memory", rc);
	return rc ? -1 : 0;
}

/* fault_h: a target thread waits for a page. */
void lazy_on_fault(void *arg, unsigned count)
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
void lazy_on_step(void *arg, unsigned count)
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
