/*
 * badge_hold: a component that says, as libbase does while it keeps a
 * badge outside its cap map (cap_badges_hold: a call's badges before its
 * trap, an object not yet in its pool, a new thread's badge before its
 * cap map entry), that a checkpoint must not cut it now, and keeps saying
 * so while it computes for a while (HOLD_ROUNDS, a few ms); then it
 * counts to COUNT on a timer and exits.  A checkpoint asked for meanwhile
 * must let it run on until the span ends: tests/scenario/cr_badge_hold.xml
 * takes one right after the "held" line.  (It computes rather than
 * waiting for a timer: signals are held back while a checkpoint pauses
 * the target.)
 */
#include <base/capability.h>
#include <base/env.h>
#include <base/signal.h>
#include <base/timer.h>

/* short: a pause waits for a span 200 ms at most, on a loaded host too */
#define HOLD_ROUNDS 500000
#define TICK_US	    5000
#define COUNT	    3

static struct env *hold_env;
static struct signal_handler hold_handler;
static unsigned ticks;
static cap_t timer;

static void next(uint64_t us)
{
	int rc = timer_oneshot(timer, us);

	if (rc) {
		env_log(hold_env, "badge_hold: timer failed (%d)", rc);
		env_exit(hold_env, 1);
	}
}

static void on_timer(void *arg, unsigned count)
{
	env_log(hold_env, "badge_hold: count %u", ++ticks);
	if (ticks == COUNT)
		env_exit(hold_env, 0);
	else
		next(TICK_US);
}

/* The span is held while construct computes: the entrypoint thread is in
 * no call then, so only the span keeps a checkpoint waiting.  (The LOG
 * call inside it ends the mark for its trap and sets it again after, as
 * rpc_call does for every call.) */
void component_construct(struct env *env)
{
	uint64_t held;
	int rc;

	hold_env = env;
	if ((rc = timer_connect(env, &timer)) ||
	    (rc = signal_handler_init(env, &hold_handler, on_timer, NULL)) ||
	    (rc = timer_sigh(timer, hold_handler.context))) {
		env_log(env, "badge_hold: timer setup failed (%d)", rc);
		env_exit(env, 1);
		return;
	}
	held = cap_badges_hold();
	env_log(env, "badge_hold: held");
	for (volatile unsigned long i = 0; i < HOLD_ROUNDS; i++)
		;
	cap_badges_done(held);
	env_log(env, "badge_hold: released");
	next(TICK_US);
}
