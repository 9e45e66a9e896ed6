/*
 * Spinlock (base/platform.h): one word taken with an atomic exchange; a
 * thread that finds it taken sleeps 1 µs (which lets the holder run) and
 * tries again.
 *
 * For the short, hot critical sections of the cap map and the heap, where
 * struct mutex (base/mutex.c) would be wrong: its unlock hands the mutex
 * to the first waiter, so once a holder is preempted every later
 * cap_ref / cap_release of the component becomes a hand-off through the
 * scheduler (a lock convoy that never clears while the threads keep
 * using caps).  A spinlock has no queue: the holder, once it runs again,
 * finishes and the next taker wins.  It needs no struct thread and no
 * set-up (zero is unlocked), so it works from the first instruction of a
 * component, in threads libbase did not make, and for natives (whose
 * coroutines only meet a taken lock when the holder was switched out at a
 * system call).  Not recursive.
 */
#include "platform.h"

static void spin_yield(void)
{
	uint64_t label;

	sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), 1, &label);
}

void spinlock_lock(struct spinlock *l)
{
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
		spin_yield();
}

void spinlock_unlock(struct spinlock *l)
{
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}
