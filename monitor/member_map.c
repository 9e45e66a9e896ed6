/*
 * A group restore's caps between members, mapped at their kcaps in the
 * holders' new PDs.  Each holder has only a few (a client its session
 * and a signal context or two), so mapping them per holder (PD_MAP_CAPS,
 * MSG_MAX_ITEMS caps into one PD a call) cost one call per member.  The
 * caps are the monitor's own, so one PD_MAP_OUT on the monitor's PD maps
 * them into up to PD_MAP_OUT_PDS holders, as many as fit a message
 * beside the holders (PD_MAP_OUT_MAX: 23 with 8 holders), the holders'
 * PDs named by the monitor's kcaps of them, not sent as map items (four
 * a message, each received and dropped again by core: a group of 8 took
 * two calls, half of their time spent so).  The queue is sent when the
 * next cap does not fit.  Each holder's copy is derived from the
 * monitor's slot, as a cap the monitor passed on in a reply is.  A
 * refused batch maps none; it is then mapped one cap at a time
 * (PD_MAP_CAP), so the line says which cap core refused.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "monitor/restore_state.h"

static int send_one(struct member_mapq *q, unsigned i)
{
	struct rs *h = q->holder[i];
	int rc = pd_map_cap(h->pd, q->c[i], q->kcap[i]);

	if (rc)
		monitor_why(h->mon, "restore: kcap 0x%llx badge 0x%llx (%s): %s",
			    (unsigned long long)q->kcap[i],
			    (unsigned long long)q->badge[i],
			    mon_class_name(MON_CLASS_MEMBER), strerror(-rc));
	return rc;
}

int member_map_flush(struct member_mapq *q)
{
	uint64_t from[MEMBER_MAPQ_MAX];
	int rc = 0;

	if (!q->n)
		return 0;
	for (unsigned i = 0; i < q->n; i++)
		from[i] = cap_kcap(q->c[i]);
	if (pd_map_out(q->holder[0]->mon->env->pd, q->pd, q->npds, q->pd_of, from,
		       q->kcap, q->n))
		for (unsigned i = 0; i < q->n && !rc; i++)
			rc = send_one(q, i);
	member_map_drop(q);
	return rc;
}

void member_map_drop(struct member_mapq *q)
{
	for (unsigned i = 0; i < q->n; i++)
		cap_release(q->c[i]);
	q->n = q->npds = 0;
}

/* The index of holder h's PD in the batch, -1 if it has none yet. */
static int pd_index(const struct member_mapq *q, const struct rs *h)
{
	for (unsigned j = 0; j < q->npds; j++)
		if (q->pd[j].idx == h->pd.idx)
			return (int)j;
	return -1;
}

int member_map_queue(struct member_mapq *q, struct rs *holder, uint64_t kcap,
		     uint64_t old_badge, cap_t c)
{
	int j = pd_index(q, holder), rc;
	unsigned npds = q->npds + (j < 0);

	if ((npds > PD_MAP_OUT_PDS || q->n + 1 > PD_MAP_OUT_MAX(npds)) &&
	    (rc = member_map_flush(q)))
		return rc;
	if ((j = pd_index(q, holder)) < 0) {
		j = (int)q->npds;
		q->pd[q->npds++] = holder->pd;
	}
	q->holder[q->n] = holder;
	q->pd_of[q->n] = (unsigned)j;
	q->c[q->n] = cap_ref(c);
	q->kcap[q->n] = kcap;
	q->badge[q->n++] = old_badge;
	return 0;
}
