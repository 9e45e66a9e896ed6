/*
 * Retrying a checkpoint whose pause did not settle.
 *
 * The pause (checkpoint_pause.c) waits until no thread of the target is
 * in a call another thread has taken.  Such a call's server may itself
 * be waiting for the monitor: the target's entrypoint, running a signal
 * handler its own signal thread called, writes a LOG line, and the
 * monitor's LOG service runs on the very entrypoint that is waiting in
 * the pause.  Waiting there can never succeed, so after a few tries the
 * pause gives up with -EAGAIN (only for a request that can be retried:
 * mon->pause_retry) and the request is run again from this signal
 * context: its signal reaches the entrypoint behind the calls already
 * queued there, so the target's LOG call is served first.  The bound on
 * the whole wait (CKPT_REPLY_WAIT_MS) counts across the retries.
 *
 * The monitor's entrypoint cannot instead serve calls inside the pause:
 * a call received there would overwrite the reply the entrypoint owes
 * the request being served (one implicit reply capability per thread).
 */
#include <errno.h>
#include <stdlib.h>
#include <base/signal.h>

#include "monitor/monitor.h"
#include "monitor/pause_retry.h"

struct mon_retry {
	struct signal_handler sig;
	void (*fn)(struct monitor *, void *);
	void *arg;
};

void pause_retry_flush(struct monitor *mon)
{
	struct mon_retry *r = mon->retry;
	void (*fn)(struct monitor *, void *) = r ? r->fn : NULL;

	if (!fn)
		return;
	r->fn = NULL;
	fn(mon, r->arg);
}

/* The retry runs as soon as the signal arrives.  (It once waited 1 ms
 * more: tried at once, worker_restore.sh failed a restored thread_join
 * with -EINVAL in half its runs.  The cause was a cut while a thread
 * kept badges in registers, which any cut could hit; the pause now
 * waits for that span to end, checkpoint_pause.c.) */
static void retry_signal(void *arg, unsigned count)
{
	pause_retry_flush(arg);
}

int pause_retry_init(struct monitor *mon)
{
	struct mon_retry *r = calloc(1, sizeof *r);
	int rc;

	if (!r)
		return -ENOMEM;
	if ((rc = signal_handler_init(mon->env, &r->sig, retry_signal, mon))) {
		free(r);
		return rc;
	}
	mon->retry = r;
	return 0;
}

int pause_retry_later(struct monitor *mon, void (*fn)(struct monitor *, void *),
		      void *arg)
{
	struct mon_retry *r = mon->retry;
	int rc;

	if (!r)
		return -ENOSYS;
	if (r->fn)
		return -EBUSY;
	r->fn = fn;
	r->arg = arg;
	if ((rc = signal_submit(mon->env, r->sig.context, 1)))
		r->fn = NULL;
	return rc;
}

int pause_retry_pending(const struct monitor *mon)
{
	return mon->retry && mon->retry->fn;
}
