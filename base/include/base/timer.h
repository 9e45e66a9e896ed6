/* Timer session client: timeouts delivered as signals, elapsed time. */
#ifndef BASE_TIMER_H
#define BASE_TIMER_H

#include <base/signal.h>

struct env;

/* Open a "Timer" session through the parent. */
int timer_connect(struct env *env, cap_t *timer);
/* Signals of this timer go to context (a signal_handler's context). */
int timer_sigh(cap_t timer, cap_t context);
int timer_oneshot(cap_t timer, uint64_t us);
int timer_periodic(cap_t timer, uint64_t us);
int timer_elapsed_us(cap_t timer, uint64_t *us);

#endif
