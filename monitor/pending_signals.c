/*
 * Signals pending at a checkpoint.  Signals queued in the target's
 * signal sources but not yet taken by its handler thread are part of its
 * state: while its threads are paused the monitor takes them out of the
 * sources into the model (an image carries them), and submits them again
 * when the target resumes or is restored, each to its context by the
 * context's imprint.
 */
#include <errno.h>
#include <string.h>

#include "monitor/checkpoint.h"
#include "monitor/restore.h"

/* Every pending signal submitted again to its context (looked up by
 * imprint among the monitor's records); mon->pending emptied. */
void signals_resubmit(struct monitor *mon)
{
	for (unsigned i = 0; i < mon->npending; i++) {
		struct mon_record *ctx = NULL;
		struct msg m;

		for (int k = 0; k < MON_MAX_RECORDS && !ctx; k++)
			if (mon->rec[k].used &&
			    mon->rec[k].cls == MON_CLASS_SIGNAL_CONTEXT &&
			    mon->rec[k].aux == mon->pending[i].imprint)
				ctx = &mon->rec[k];
		if (!ctx) {
			env_log(mon->env, "monitor: a pending signal lost its context");
			continue;
		}
		msg_reset(&m, PD_SUBMIT);
		msg_put_cap(&m, ctx->cap);
		msg_put(&m, mon->pending[i].count);
		if (rpc_call(mon->pd, &m) || m.code != RPC_OK)
			env_log(mon->env, "monitor: cannot re-submit a pending signal");
	}
	mon->npending = 0;
}

/* Take every queued signal out of the target's signal sources (its
 * threads are paused, so its handler thread cannot race us) into
 * mon->pending and model: they are re-submitted on resume or restore. */
static int drain_sources(struct monitor *mon)
{
	for (int i = 0; i < MON_MAX_PROXIES; i++) {
		struct proxy *p = &mon->proxy[i];
		if (!p->used || p->type != &signal_proxy_type)
			continue;
		for (;;) {
			struct msg m;
			int rc;

			msg_reset(&m, SIGNAL_WAIT);
			if ((rc = rpc_call(p->real, &m)))
				return rc;
			if (m.code != RPC_OK || m.nwords < 2)
				return -EPROTO;
			if (!m.w[0])
				break;
			if (mon->npending == MON_MAX_PENDING)
				return -ENOSPC;
			mon->pending[mon->npending].imprint = m.w[0];
			mon->pending[mon->npending++].count = m.w[1];
		}
	}
	return 0;
}

/* Drain, note each timer's clock, drain again: a one-shot due up to the
 * noted time has fired into a source by the second pass (its signal is
 * kept), one due later has not and must fire after the checkpoint (the
 * target's threads are paused, but core's timer is not). */
int signals_drain(struct monitor *mon, struct mon_model *model)
{
	int rc;

	if ((rc = drain_sources(mon)))
		return rc;
	for (int i = 0; i < MON_MAX_PROXIES; i++)
		if (mon->proxy[i].used && mon->proxy[i].type == &timer_proxy_type)
			timer_note_drain(&mon->proxy[i]);
	if ((rc = drain_sources(mon)))
		return rc;
	model->npending = mon->npending;
	memcpy(model->pending, mon->pending, sizeof model->pending);
	return 0;
}
