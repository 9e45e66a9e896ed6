/*
 * Is the paused target still setting itself up?  A component's libbase
 * reports its cap map, then its checkpoint report with the main
 * entrypoint, then makes its signal source's semaphore irq and the
 * signal handler thread bound to it; an entrypoint's object pool changes
 * while an object is managed or dissolved.  A target paused in between
 * would be refused by the checkpoint ("the target reported no cap map",
 * no thread for the semaphore) or by the restore ("cannot rebuild its
 * object pool"), so the pause lets it run on until it is done, as for a
 * call being served (checkpoint_pause.c, group_cut.c).
 */
#include <capsule/checkpoint_abi.h>

#include "monitor/checkpoint.h"
#include "monitor/cr_tree.h"
#include "monitor/monitor.h"

/* Does the member hold its signal source's semaphore irq (recorded when
 * the signal proxy handed it out)? */
static int has_semaphore(struct monitor *mon)
{
	for (int i = 0; i < MON_MAX_RECORDS; i++)
		if (mon->rec[i].used && mon->rec[i].cls == MON_CLASS_SEMAPHORE)
			return 1;
	return 0;
}

/* A walk over one of the member's object pools in its memory. */
struct live_pool {
	struct monitor *mon;
	int bad; /* an object whose badge is not its cap's id */
};

static int read_pool_obj(void *ctx, uint64_t addr, struct cr_tree_node *out)
{
	struct live_pool *w = ctx;
	struct cr_object o;
	int rc = monitor_read_target(w->mon, addr, &o, sizeof o);

	if (rc)
		return rc;
	*out = (struct cr_tree_node){addr, o.badge, o.left, o.right, o.parent, o.depth};
	return 0;
}

static void check_pool_obj(void *ctx, const struct cr_tree_node *n)
{
	struct live_pool *w = ctx;
	struct cr_object o;
	struct cr_cap_entry e;

	if (monitor_read_target(w->mon, n->addr, &o, sizeof o) ||
	    monitor_read_target(w->mon, o.cap, &e, sizeof e) || !e.id ||
	    e.id == CR_ID_INVALID || e.id != o.badge)
		w->bad = 1;
}

/* Is an object pool of the member in the middle of a change (an object
 * being managed or dissolved): a tree that breaks the rule, or an object
 * whose badge is not its cap's?  A restore rebuilds the pools from the
 * image and refuses such a one.  1, 0 (or 1 when unreadable). */
static int pools_changing(struct monitor *mon, const struct cr_report *r)
{
	struct live_pool w = {mon, 0};
	uint64_t at = r->entrypoints;
	unsigned count;

	for (int n = 0; at && n < CR_MAX_EPS; n++) {
		struct cr_entrypoint e;
		if (monitor_read_target(mon, at, &e, sizeof e) ||
		    e.magic != CR_EP_MAGIC ||
		    cr_tree_check(e.pool, read_pool_obj, &w, CAP_SLOTS, &count,
				  check_pool_obj) ||
		    w.bad)
			return 1;
		at = e.next;
	}
	return 0;
}

int monitor_setting_up(struct monitor *mon, int pools)
{
	struct cr_report r;
	int rc;

	if (!mon->cap_map_addr || !mon->cr_report_addr)
		return 1;
	if ((rc = monitor_read_target(mon, mon->cr_report_addr, &r, sizeof r)))
		return rc;
	return r.magic != CR_REPORT_MAGIC || !r.entrypoints ||
	       (r.signal_handler_nr == CR_NO_THREAD && has_semaphore(mon)) ||
	       (pools && pools_changing(mon, &r));
}
