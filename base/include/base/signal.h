/*
 * Signals, as on Fiasco.OC (docs/design.md "Signals", seed 002).
 *
 * Core keeps a signal source per component with a semaphore irq.  A
 * context is a gate to core whose imprint is the address of the
 * component's local struct signal_handler.  submit counts on the context
 * and, if it was not queued yet, queues it and triggers the semaphore.
 *
 * In libbase the semaphore is bound to the component's signal handler
 * thread (a thread of its own, created at start-up); that thread receives
 * on the irq, asks core for the signal (SIGNAL_WAIT) while the imprint is
 * not 0, and calls the entrypoint's signal-proxy object, so that every
 * handler runs on the entrypoint thread, between RPCs.
 *
 * The four capabilities of seed 002 thus exist in every component: the
 * entrypoint's exit cap, its signal-proxy cap, the source's semaphore irq
 * (in the cap map and bound to the handler thread), and, only while
 * component_construct runs, the constructor cap.
 */
#ifndef BASE_SIGNAL_H
#define BASE_SIGNAL_H

#include <base/capability.h>

struct env;

struct signal_handler {
	uint64_t magic; /* SIGNAL_HANDLER_MAGIC while managed */
	cap_t context;	/* the context cap at core (a gate) */
	void (*fn)(void *arg, unsigned count);
	void *arg;
	struct signal_handler *next; /* in the component's list of handlers */
};
#define SIGNAL_HANDLER_MAGIC 0x5169a1ULL

/* Allocate a context at core (imprint = h) whose signals run fn(arg, count)
 * on the entrypoint.  0 or -errno (-EDQUOT over cap quota). */
int signal_handler_init(struct env *env, struct signal_handler *h,
			void (*fn)(void *arg, unsigned count), void *arg);
/* Free the context at core; later submits to it fail. */
void signal_handler_dissolve(struct env *env, struct signal_handler *h);
/* Submit count signals to context (any context cap this component holds). */
int signal_submit(struct env *env, cap_t context, unsigned count);
/* The component's semaphore irq (CAP_INVALID before signals are set up). */
cap_t signal_semaphore(struct env *env);

#endif
