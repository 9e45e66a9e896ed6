/*
 * A checkpoint whose pause does not settle within a few tries goes back
 * to serving the target and is tried again (pause_retry.c).
 */
#ifndef MONITOR_PAUSE_RETRY_H
#define MONITOR_PAUSE_RETRY_H

struct monitor;

/* The signal context the retries come through (at construction).
 * 0 or -errno: without it a pause waits on the entrypoint as before. */
int pause_retry_init(struct monitor *mon);
/* Run fn(mon, arg) on the entrypoint again once what is queued there
 * (the call the pause waits for) has been served.  0, or -EBUSY if a
 * retry is pending already, or -errno. */
int pause_retry_later(struct monitor *mon, void (*fn)(struct monitor *, void *),
		      void *arg);
/* Run a pending retry now (the target ended: the request is answered,
 * not dropped with the control endpoint). */
void pause_retry_flush(struct monitor *mon);
/* A retry is pending: a new request for a checkpoint waits for it. */
int pause_retry_pending(const struct monitor *mon);

#endif
