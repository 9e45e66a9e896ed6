/*
 * Signals in libbase (docs/design.md "Signals", seed 002).
 *
 * signal_start asks the PD session for the component's signal source,
 * fetches its semaphore irq (SIGNAL_SEMAPHORE) and creates the signal
 * handler thread.  That thread binds the semaphore to itself, then loops:
 * wait on the semaphore (a closed wait on the irq), then SIGNAL_WAIT at
 * core until the imprint is 0, handing each (imprint, count) to the
 * entrypoint's signal-proxy object, so the handler runs on the entrypoint
 * thread.  The handler thread touches no cap map entry in its loop (its
 * messages carry no caps), so it needs no lock against the entrypoint.
 *
 * A handler's imprint is the address of its struct signal_handler; it is
 * only used if it is on the component's list and carries the magic.
 */
#include <errno.h>
#include <base/signal.h>
#include <base/thread.h>
#include "platform.h"

#define SIGNAL_THREAD_STACK (16 * 1024)

/* The signal handler thread (see above).  It ends only if its semaphore
 * or source is gone. */
static void signal_thread(void *arg)
{
	struct base_state *bs = arg;
	struct base_signal *sig = &bs->signal;
	struct utcb *u = sys_utcb();
	uint64_t sem = cap_kcap(sig->semaphore), label, tag;
	cap_t proxy = ep_signal_proxy_cap(&bs->ep);
	struct msg m;

	u->mr[0] = IRQ_BIND;
	u->mr[1] = u->tcr[TCR_THREAD_KCAP];
	u->mr[2] = SIGNAL_SEMAPHORE_LABEL;
	tag =
	    sys_invoke(sem, TAG(SYS_OP_CALL, PROTO_IRQ, 3, 0), SYS_TIMEOUT_NEVER, &label);
	if (TAG_ERROR(tag))
		return;
	for (;;) {
		tag =
		    sys_invoke(sem, TAG(SYS_OP_WAIT, 0, 0, 0), SYS_TIMEOUT_NEVER, &label);
		if (TAG_ERROR(tag) == KERR_INVAL_CAP)
			return;
		if (TAG_ERROR(tag) || label != SIGNAL_SEMAPHORE_LABEL)
			continue;
		for (;;) {
			if (base_request(sig->source, SIGNAL_WAIT, CAP_INVALID, NULL, 0,
					 &m))
				return; /* source freed */
			if (m.nwords < 2 || !m.w[0])
				break;
			uint64_t got[2] = {m.w[0], m.w[1]};
			base_request(proxy, EP_SIGNAL_PROXY_DELIVER, CAP_INVALID, got, 2,
				     &m);
		}
	}
}

int signal_start(struct env *env)
{
	struct base_state *bs = base_state();
	struct base_signal *sig = &bs->signal;
	struct msg m;
	int err;

	if (sig->ready)
		return 0;
	if (!cap_valid(env->pd) || !cap_valid(env->cpu))
		return -ENOSYS;
	err = base_request(env->pd, PD_ALLOC_SIGNAL_SOURCE, CAP_INVALID, NULL, 0, &m);
	if (!err)
		err = base_take_cap(&m, &sig->source);
	if (err)
		return err;
	err = base_request(sig->source, SIGNAL_SEMAPHORE, CAP_INVALID, NULL, 0, &m);
	if (!err)
		err = base_take_cap(&m, &sig->semaphore);
	if (err)
		goto err_source;
	err = thread_create(env, "signal", signal_thread, bs, SIGNAL_THREAD_STACK,
			    &sig->handler_thread);
	if (err)
		goto err_sem;
	cr_report_signal_handler(bs, sig->handler_thread->nr);
	sig->ready = 1;
	return 0;
err_sem:
	cap_release(sig->semaphore);
	sig->semaphore = CAP_INVALID;
err_source:
	base_request(env->pd, PD_FREE_SIGNAL_SOURCE, sig->source, NULL, 0, &m);
	cap_release(sig->source);
	sig->source = CAP_INVALID;
	return err;
}

int signal_deliver(uint64_t imprint, uint64_t count)
{
	struct signal_handler *h = base_state()->signal.handlers;

	while (h && (uint64_t)(uintptr_t)h != imprint)
		h = h->next;
	if (!h || h->magic != SIGNAL_HANDLER_MAGIC || !h->fn)
		return -ENOENT;
	h->fn(h->arg, count > 0xffffffffu ? 0xffffffffu : (unsigned)count);
	return 0;
}

int signal_handler_init(struct env *env, struct signal_handler *h,
			void (*fn)(void *arg, unsigned count), void *arg)
{
	struct base_signal *sig = &base_state()->signal;
	uint64_t imprint = (uint64_t)(uintptr_t)h;
	struct msg m;
	int err;

	if (!env || !h || !fn)
		return -EINVAL;
	err = signal_start(env);
	if (err)
		return err;
	err = base_request(env->pd, PD_ALLOC_CONTEXT, sig->source, &imprint, 1, &m);
	if (!err)
		err = base_take_cap(&m, &h->context);
	if (err)
		return err;
	h->fn = fn;
	h->arg = arg;
	h->magic = SIGNAL_HANDLER_MAGIC;
	h->next = sig->handlers;
	sig->handlers = h;
	return 0;
}

void signal_handler_dissolve(struct env *env, struct signal_handler *h)
{
	struct base_signal *sig = &base_state()->signal;
	struct msg m;

	if (!h || h->magic != SIGNAL_HANDLER_MAGIC)
		return;
	for (struct signal_handler **pp = &sig->handlers; *pp; pp = &(*pp)->next) {
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	}
	base_request(env->pd, PD_FREE_CONTEXT, h->context, NULL, 0, &m);
	cap_release(h->context);
	h->context = CAP_INVALID;
	h->magic = 0;
	h->next = NULL;
}

int signal_submit(struct env *env, cap_t context, unsigned count)
{
	uint64_t w = count;
	struct msg m;

	if (!env || !count)
		return -EINVAL;
	return base_request(env->pd, PD_SUBMIT, context, &w, 1, &m);
}

cap_t signal_semaphore(struct env *env)
{
	return base_state()->signal.semaphore;
}
