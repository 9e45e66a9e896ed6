/*
 * Lazy RAM dataspaces: memory whose pages arrive after the component
 * runs (a lazy restore, post-copy migration; docs/cr.md "Lazy restore").
 *
 * DS_LAZY_START marks every page of a fresh RAM dataspace absent and
 * names a fill handler (a signal context).  Absent pages are not mapped
 * into any task: region mapping (rm_mapping.c) maps only runs of present
 * pages, so a guest's access to an absent page is an unmapped access, the
 * kernel halts that thread and sends its fault to core's fault thread,
 * and rm_fault hands it here (lazy_fault): the thread waits on the
 * dataspace, the handler is signalled.  The handler (the monitor) asks
 * which pages are waited for (DS_LAZY_WANTED), writes them through its own
 * attachment, and reports them (DS_LAZY_FILLED): they are mapped in every
 * task the dataspace appears in, merged with their present neighbours
 * into one mapping (so a dataspace filled in order ends as one mapping,
 * as if it had never been lazy), and the threads waiting for them resume
 * and run the faulting instruction again.  Only the faulting thread
 * stops; the rest of the node runs on.  When the last page is filled the
 * dataspace is an ordinary one.
 *
 * Who writes a page before it is reported owns its contents: core maps
 * a page only on DS_LAZY_FILLED, so the guest cannot see a half-written
 * page, and a page is reported once (later reports of it are ignored).
 */
#include <errno.h>
#include <stdlib.h>
#include "core/core_internal.h"

struct lazy_waiter {
	struct lazy_waiter *next;
	uint64_t pager; /* the halted thread's pager gate badge */
	uint64_t page;	/* the absent page it waits for */
};

/* Invariants: absent = pages - bits set in present; waiters wait for
 * absent pages only. */
struct ds_lazy {
	uint64_t pages, absent;
	uint64_t *present;
	uint64_t sigh;		  /* badge of the fill handler's context */
	struct pd_session *payer; /* charged for the bitmap */
	struct lazy_waiter *waiters;
};

static uint64_t lazy_charge(uint64_t pages)
{
	return PAGE_ROUND((pages + 63) / 64 * sizeof(uint64_t));
}

int lazy_present(const struct dataspace *ds, uint64_t page)
{
	const struct ds_lazy *l = ds->lazy;

	if (!l)
		return 1;
	return page < l->pages && (l->present[page / 64] >> (page % 64) & 1);
}

int lazy_next_run(const struct dataspace *ds, uint64_t from, uint64_t to, uint64_t *first,
		  uint64_t *end)
{
	uint64_t p = from;

	while (p < to && !lazy_present(ds, p))
		p++;
	if (p >= to)
		return 0;
	*first = p;
	while (p < to && lazy_present(ds, p))
		p++;
	*end = p;
	return 1;
}

static void lazy_free(struct dataspace *ds)
{
	struct ds_lazy *l = ds->lazy;

	while (l->waiters) {
		struct lazy_waiter *w = l->waiters;
		l->waiters = w->next;
		free(w);
	}
	free(l->present);
	free(l);
	ds->lazy = NULL;
}

struct pd_session *lazy_payer(const struct dataspace *ds)
{
	return ds->lazy ? ds->lazy->payer : NULL;
}

void lazy_drop(struct dataspace *ds, int uncharge)
{
	struct ds_lazy *l = ds->lazy;

	if (!l)
		return;
	if (uncharge && l->payer)
		pd_uncharge_ram(l->payer, lazy_charge(l->pages));
	/* freed while threads wait for its pages (the node runs on): they
	 * go on and touch whatever is there now, a fault if nothing is */
	for (struct lazy_waiter *w = uncharge ? l->waiters : NULL; w; w = w->next) {
		struct cpu_thread *t = rm_thread_of_pager(ds->core, w->pager);
		if (t)
			rm_thread_resume(t);
	}
	lazy_free(ds);
}

int lazy_start(struct dataspace *ds, struct pd_session *owner, uint64_t sigh)
{
	uint64_t pages = ds->size / PAGE_SIZE;
	struct ds_lazy *l;
	int err;

	if (!owner)
		return -EPERM;
	if (ds->lazy || ds->uses || ds->dirty_payer)
		return -EBUSY; /* only a fresh, unattached, untracked dataspace */
	if (!sigh)
		return -EINVAL;
	if ((err = pd_charge_ram(owner, lazy_charge(pages))))
		return err;
	l = calloc(1, sizeof(*l));
	if (l)
		l->present = calloc((pages + 63) / 64, sizeof(uint64_t));
	if (!l || !l->present) {
		free(l);
		pd_uncharge_ram(owner, lazy_charge(pages));
		return -ENOMEM;
	}
	l->pages = l->absent = pages;
	l->sigh = sigh;
	l->payer = owner;
	ds->lazy = l;
	return 0;
}

int lazy_fault(struct core *c, struct dataspace *ds, uint64_t page, uint64_t pager)
{
	struct ds_lazy *l = ds->lazy;
	struct lazy_waiter *w;

	if (!l || page >= l->pages || lazy_present(ds, page))
		return 0;
	for (w = l->waiters; w && w->pager != pager; w = w->next)
		;
	if (!w) {
		w = calloc(1, sizeof(*w));
		if (!w)
			return 0;
		w->pager = pager;
		w->next = l->waiters;
		l->waiters = w;
	}
	w->page = page;
	signal_submit_badge(c, l->sigh, 1);
	return 1;
}

uint64_t lazy_wanted(const struct dataspace *ds, uint64_t *pages, unsigned max,
		     unsigned *n)
{
	const struct ds_lazy *l = ds->lazy;

	*n = 0;
	if (!l)
		return 0;
	for (const struct lazy_waiter *w = l->waiters; w && *n < max; w = w->next) {
		unsigned k = 0;
		while (k < *n && pages[k] != w->page)
			k++;
		if (k == *n)
			pages[(*n)++] = w->page;
	}
	return l->absent;
}

/* The waiters whose page is present now go on (a thread that touches
 * another absent page faults again and waits again). */
static void lazy_wake(struct core *c, struct dataspace *ds)
{
	struct lazy_waiter **pp = &ds->lazy->waiters;

	while (*pp) {
		struct lazy_waiter *w = *pp;
		struct cpu_thread *t;

		if (!lazy_present(ds, w->page)) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		if ((t = rm_thread_of_pager(c, w->pager)))
			rm_thread_resume(t);
		free(w);
	}
}

int lazy_filled(struct core *c, struct dataspace *ds, uint64_t first, uint64_t count,
		uint64_t *absent)
{
	struct ds_lazy *l = ds->lazy;
	uint64_t a, b;
	int err;

	if (!l)
		return -ENOENT;
	if (!count || first >= l->pages || count > l->pages - first)
		return -EINVAL;
	for (uint64_t p = first; p < first + count; p++) {
		if (lazy_present(ds, p))
			continue;
		l->present[p / 64] |= 1ULL << (p % 64);
		l->absent--;
	}
	/* the run of present pages the range now belongs to */
	for (a = first; a && lazy_present(ds, a - 1); a--)
		;
	for (b = first + count; b < l->pages && lazy_present(ds, b); b++)
		;
	err = rm_ds_remap(ds, a, b);
	lazy_wake(c, ds);
	*absent = l->absent;
	if (!l->absent)
		lazy_drop(ds, 1);
	return err;
}
