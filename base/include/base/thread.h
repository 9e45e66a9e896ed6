/*
 * Threads of a component and the primitives they synchronise with.
 *
 * thread_create asks the CPU session for a thread (core gives it a kernel
 * thread, its UTCB page and its slot group in the thread area), attaches
 * a stack in the stack area, and starts it at a libbase trampoline that
 * sets up the thread's receive window and runs fn(arg).
 *
 * A blockade blocks its thread on the thread's own irq (thread-area slot
 * THREAD_SLOT_IRQ) in a closed wait, so an entrypoint thread that blocks
 * does not receive RPCs meanwhile; blockade_wakeup triggers that irq.
 * A mutex is a lock word updated with atomic instructions plus a FIFO of
 * blocked threads.
 */
#ifndef BASE_THREAD_H
#define BASE_THREAD_H

#include <base/capability.h>

struct env;
struct thread;

int thread_create(struct env *env, const char *name, void (*fn)(void *), void *arg,
		  uint64_t stack_size, struct thread **out);
/* Block until fn has returned, then free the thread (CPU session kill,
 * stack detached).  0 or -errno. */
int thread_join(struct thread *t);
struct thread *thread_self(void);

struct blockade {
	struct thread *waiter; /* the thread blocked in it, or NULL */
	volatile uint32_t woken;
};
void blockade_block(struct blockade *b);
void blockade_wakeup(struct blockade *b);

struct mutex {
	volatile uint32_t locked;
	struct thread *owner;
	struct thread *waiters; /* FIFO */
};
#define MUTEX_INIT                                                                       \
	{                                                                                \
		0, 0, 0                                                                  \
	}
void mutex_lock(struct mutex *m);
void mutex_unlock(struct mutex *m);

#endif
