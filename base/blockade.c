/*
 * Blockade: one thread blocks until another wakes it (base/thread.h).
 *
 * The waiter publishes itself in b->waiter, then sleeps in a closed wait
 * on its own irq (KCAP_THREAD(nr, THREAD_SLOT_IRQ), bound to it by core)
 * until it finds b->woken set; the waker sets woken, then triggers the
 * irq of whoever it finds in b->waiter.  Both steps are sequentially
 * consistent atomics, so either the waiter sees woken or the waker sees
 * the waiter: no wakeup is lost.  A trigger that arrives after the waiter
 * already saw woken stays counted on its irq and ends a later closed wait
 * early; the loop re-checks woken, so such a wakeup is only spurious.
 *
 * A thread without a struct thread or whose irq cannot be waited on (a
 * thread core did not make, a native thread of core) polls woken with
 * short sleeps instead.  The blockade must stay valid until
 * blockade_wakeup has returned.
 */
#include <stddef.h>
#include "platform.h"

#define BLOCKADE_POLL_US 1000

/* Closed wait on the calling thread's own irq; enum kerr. */
static unsigned blockade_wait_irq(const struct thread *self)
{
	uint64_t label;
	uint64_t tag = sys_invoke(KCAP_THREAD(self->nr, THREAD_SLOT_IRQ),
				  TAG(SYS_OP_WAIT, 0, 0, 0), SYS_TIMEOUT_NEVER, &label);

	return TAG_ERROR(tag);
}

static void blockade_sleep(uint64_t us)
{
	uint64_t label;

	sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), us, &label);
}

void blockade_block(struct blockade *b)
{
	struct thread *self = thread_self();
	int poll = !self;

	__atomic_store_n(&b->waiter, self, __ATOMIC_SEQ_CST);
	while (!__atomic_exchange_n(&b->woken, 0, __ATOMIC_SEQ_CST)) {
		if (!poll && blockade_wait_irq(self) == KERR_OK)
			continue;
		poll = 1;
		blockade_sleep(BLOCKADE_POLL_US);
	}
	__atomic_store_n(&b->waiter, NULL, __ATOMIC_SEQ_CST);
}

void blockade_wakeup(struct blockade *b)
{
	struct thread *w;
	struct utcb *u;
	uint64_t label, saved;

	__atomic_store_n(&b->woken, 1, __ATOMIC_SEQ_CST);
	w = __atomic_load_n(&b->waiter, __ATOMIC_SEQ_CST);
	if (!w)
		return;
	/* a wakeup may come from inside an RPC handler: keep mr[0] intact */
	u = sys_utcb();
	saved = u->mr[0];
	u->mr[0] = IRQ_TRIGGER;
	sys_invoke(KCAP_THREAD(w->nr, THREAD_SLOT_IRQ), TAG(SYS_OP_CALL, PROTO_IRQ, 1, 0),
		   SYS_TIMEOUT_NEVER, &label);
	u->mr[0] = saved;
}
