/*
 * A group's consistent cut (group.h): every member paused together, with
 * no call between them half done.
 *
 * The members are paused callers first (the order of the route graph,
 * which has no cycles: group configs with one are refused), and each one
 * is given up to GROUP_CUT_SETTLE_MS to settle while the members it calls
 * still run: a thread that is in the reply wait of a call its server has
 * taken (TS_BLOCKED; a call between members is taken first by the
 * serving member's proxy on the monitor's serve entrypoint) gets its
 * reply and is then paused with it in its UTCB; a call not yet taken is
 * rewound by the kernel and sent again on resume or after a restore
 * (checkpoint.c).  So a call one member has sent and another has taken
 * is completed on both sides before the cut, one not taken is in
 * neither: nothing is lost or done twice.  A member paused with a
 * reply's caps still in a receive window, or while it sets itself up,
 * is run on in steps of GROUP_CUT_RUN_US until it is not (settle); the
 * members run a priority level below the monitor (target.c), so such a
 * step ends on time.  A call against the order (a
 * server calling its client's callback object while the client is
 * already paused) cannot settle: then every member is resumed, runs for
 * 1 ms, and the cut is tried again, up to GROUP_CUT_TRIES times.
 *
 * A member that has ended (before the cut or while the others ran
 * between two tries) is left out: the cut is of the members that run,
 * and the group image records the ended one with its exit code.
 *
 * Signals between members need nothing here: a member's signal context
 * is a core object whose queue the member's checkpoint drains into its
 * pending list (checkpoint.c), whoever submitted them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capsule/checkpoint_abi.h>

#include "monitor/checkpoint.h"
#include "monitor/cr_tree.h"
#include "monitor/group.h"

#define GROUP_CUT_SETTLE_MS 20
#define GROUP_CUT_TRIES	    100
#define GROUP_CUT_RUN_US    100 /* a member run on to finish what it does */

/* The members callers first: a member that may open a session at
 * another comes before it (Kahn's order over config_route_edge). */
static void cut_order(const struct mon_group *g, int *order)
{
	int placed[MON_GROUP_MAX] = {0}, n = 0;

	while (n < g->n) {
		int k, found = 0;
		for (k = 0; k < g->n && !found; k++) {
			int callers = 0;
			if (placed[k])
				continue;
			for (int j = 0; j < g->n; j++)
				callers +=
				    !placed[j] && config_route_edge(g->cfg.group, j, k);
			found = !callers;
		}
		k = found ? k - 1 : 0;
		while (placed[k]) /* a cycle (refused at start): any order */
			k++;
		placed[k] = 1;
		order[n++] = k;
	}
}

int group_pause_member(struct monitor *mon)
{
	int rc;

	mon->paused_since_us = mon_now_us(); /* until monitor_resume */
	for (int i = 0; i < MON_MAX_THREADS; i++)
		if (mon->thread[i].used && (rc = cpu_pause(mon->cpu, mon->thread[i].cap)))
			return rc;
	return 0;
}

/* Is a thread of the paused member in the reply wait of a taken call
 * (scratch: monitor_threads_blocked's states)?  If not, what keeps it
 * unsettled is a reply's caps in a receive window. */
static int in_call(const struct mon_model *scratch)
{
	for (unsigned i = 0; i < scratch->nthreads; i++)
		if (scratch->thread[i].state == TS_BLOCKED)
			return 1;
	return 0;
}

/* Wait up to GROUP_CUT_SETTLE_MS for the paused member to have no thread
 * in a taken call and none with a reply's caps in its receive window.
 * The first needs its server, which still runs (or, a thread of the
 * member itself, the member run on as below); the second needs the
 * member itself: a thread paused in the reply wait of a call gets its
 * reply (a session's cap, a dataspace) and becomes ready, still paused,
 * with the caps in its window until it has moved them into its cap map
 * (checkpoint.c).  So then the member runs again for a while, as the
 * members after it in the cut's order still do, and is paused again:
 * whatever it sends meanwhile goes to a member that still runs.  0
 * settled, 1 not, -errno. */
static int settle(struct monitor *mon, struct mon_model *scratch)
{
	uint64_t end = mon_now_us() + GROUP_CUT_SETTLE_MS * 1000, run = GROUP_CUT_RUN_US;
	int self = 0;

	for (;;) {
		int rc = monitor_threads_blocked(mon, scratch);
		if (!rc)
			rc = monitor_setting_up(mon, 1);
		if (rc <= 0 || mon_now_us() >= end)
			return rc;
		/* a call another member serves: wait; one its own thread
		 * serves (libbase's signal thread hands a signal to its
		 * entrypoint by a call) needs it to run, as below, every
		 * other step */
		if (in_call(scratch) && !(self ^= 1)) {
			mon_sleep_us(GROUP_CUT_RUN_US);
			continue;
		}
		monitor_resume(mon);
		mon_sleep_us(run);
		if (mon->state != MON_RUNNING)
			return 0; /* it ended meanwhile: nothing to settle */
		if ((rc = group_pause_member(mon)))
			return rc;
		if (run < 4 * GROUP_CUT_RUN_US) /* starting takes a few ms */
			run *= 2;
	}
}

void group_resume(struct mon_group *g)
{
	for (int k = 0; k < g->n; k++)
		if (g->member[k].mon && !g->member[k].ended &&
		    g->member[k].mon->state == MON_RUNNING &&
		    g->member[k].mon->paused_since_us)
			monitor_resume(g->member[k].mon);
}

/* One try: pause in order; 0 with all paused and settled, 1 if a member
 * did not settle (*who), -errno. */
static int cut_once(struct mon_group *g, const int *order, struct mon_model *scratch,
		    int *who)
{
	int rc;

	for (int i = 0; i < g->n; i++) {
		struct monitor *mon = g->member[order[i]].mon;
		*who = order[i];
		if (!group_member_runs(g, order[i]))
			continue; /* it ended (while the others ran) */
		if ((rc = group_pause_member(mon)) || (rc = settle(mon, scratch)))
			return rc;
	}
	/* all paused: none can have become blocked since it settled */
	for (int i = 0; i < g->n; i++) {
		*who = order[i];
		if (!group_member_runs(g, order[i]))
			continue;
		if ((rc = monitor_threads_blocked(g->member[order[i]].mon, scratch)))
			return rc;
	}
	return 0;
}

/* Every member paused at once, at one point (the group's <test>).  0 or
 * -errno (those paused resumed). */
int group_pause_all(struct mon_group *g)
{
	int rc;

	for (int k = 0; k < g->n; k++)
		if (group_member_runs(g, k) &&
		    (rc = group_pause_member(g->member[k].mon))) {
			group_resume(g);
			return rc;
		}
	return 0;
}

/* After group_pause_all: the members that another member may call run
 * again, to answer what was sent to them before; the callers stay where
 * they were paused.  The cut then pauses the others in its order. */
static void resume_callees(struct mon_group *g)
{
	for (int k = 0; k < g->n; k++) {
		struct monitor *mon = g->member[k].mon;
		int called = 0;
		for (int j = 0; j < g->n && !called; j++)
			called = j != k && config_route_edge(g->cfg.group, j, k);
		if (called && mon && !g->member[k].ended && mon->paused_since_us)
			monitor_resume(mon);
	}
}

int group_cut(struct mon_group *g, int prepaused, char *why, size_t size)
{
	struct mon_model *scratch = calloc(1, sizeof *scratch);
	int order[MON_GROUP_MAX], who = 0, rc = -ENOMEM;

	if (!scratch) {
		snprintf(why, size, "out of memory for the cut");
		if (prepaused)
			group_resume(g);
		return rc;
	}
	cut_order(g, order);
	if (prepaused)
		resume_callees(g);
	for (int tries = 1;; tries++) {
		rc = cut_once(g, order, scratch, &who);
		if (!rc) {
			if (tries > 1)
				env_log(g->env, "monitor: group cut: settled at try %d",
					tries);
			break;
		}
		group_resume(g);
		if (rc < 0) {
			snprintf(why, size, "cannot pause member '%s': %s",
				 g->member[who].start->name, strerror(-rc));
			break;
		}
		if (tries == GROUP_CUT_TRIES) {
			snprintf(
			    why, size,
			    "member '%s' is still in a call being served after %d tries "
			    "of %d ms",
			    g->member[who].start->name, GROUP_CUT_TRIES,
			    GROUP_CUT_SETTLE_MS);
			rc = -EBUSY;
			break;
		}
		mon_sleep_us(1000);
	}
	free(scratch);
	return rc;
}
