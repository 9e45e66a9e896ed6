/*
 * Mutex (base/thread.h): a lock word changed only with atomic
 * instructions (`lock cmpxchg`) plus a FIFO of blocked threads.
 *
 * m->locked bit 0: the mutex is held; bit 1: the waiter FIFO is being
 * changed (the guard, held for a few instructions, never across a system
 * call).  An uncontended lock is one cmpxchg 0 -> 1.  A contended lock
 * queues the thread under the guard and blocks it in its own blockade
 * (thread->wait); unlock hands the mutex straight to the first waiter
 * (bit 0 stays set), so waiters get it in FIFO order and a woken waiter
 * never has to compete again.  Guest threads are preempted by time
 * slice, so a thread that finds the guard taken sleeps 1 µs and retries;
 * native threads are never preempted and never find it taken.
 *
 * Invariants: owner is the thread holding the mutex (NULL if free or held
 * by a thread without a struct thread); every thread in waiters blocks,
 * or is about to block, in its `wait` blockade.
 */
#include <stddef.h>
#include "platform.h"

enum { MUTEX_HELD = 1, MUTEX_GUARD = 2 };

static void mutex_yield(void)
{
	uint64_t label;

	sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), 1, &label);
}

static int mutex_cas(struct mutex *m, uint32_t old, uint32_t new)
{
	return __atomic_compare_exchange_n(&m->locked, &old, new, 0, __ATOMIC_SEQ_CST,
					   __ATOMIC_SEQ_CST);
}

/* Take the guard; returns the lock word as it was (guard bit clear). */
static uint32_t mutex_guard(struct mutex *m)
{
	for (;;) {
		uint32_t old = __atomic_load_n(&m->locked, __ATOMIC_SEQ_CST);

		if (!(old & MUTEX_GUARD) && mutex_cas(m, old, old | MUTEX_GUARD))
			return old;
		mutex_yield();
	}
}

/* Drop the guard, leaving bit 0 as `held`. */
static void mutex_unguard(struct mutex *m, uint32_t held)
{
	__atomic_store_n(&m->locked, held, __ATOMIC_SEQ_CST);
}

void mutex_lock(struct mutex *m)
{
	struct thread *self = thread_self();

	for (;;) {
		if (mutex_cas(m, 0, MUTEX_HELD)) {
			m->owner = self;
			return;
		}
		if (!(mutex_guard(m) & MUTEX_HELD)) {
			/* released meanwhile: take it */
			m->owner = self;
			mutex_unguard(m, MUTEX_HELD);
			return;
		}
		if (!self) {
			/* no blockade to sleep in: retry after a short sleep */
			mutex_unguard(m, MUTEX_HELD);
			mutex_yield();
			continue;
		}
		self->next = NULL;
		struct thread **pp = &m->waiters;
		while (*pp)
			pp = &(*pp)->next;
		*pp = self;
		mutex_unguard(m, MUTEX_HELD);
		/* unlock hands the mutex over, then wakes us */
		blockade_block(&self->wait);
		return;
	}
}

void mutex_unlock(struct mutex *m)
{
	struct thread *w;

	mutex_guard(m);
	w = m->waiters;
	if (!w) {
		m->owner = NULL;
		mutex_unguard(m, 0);
		return;
	}
	m->waiters = w->next;
	w->next = NULL;
	m->owner = w;
	mutex_unguard(m, MUTEX_HELD);
	blockade_wakeup(&w->wait);
}
