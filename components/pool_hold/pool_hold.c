/*
 * pool_hold: a component that reports, through the checkpoint ABI, that
 * its entrypoint is changing its object pool (cr_entrypoint.pool_changing,
 * as libbase's ep_manage does between taking a gate and having the object
 * in the pool) while it computes for a while (HOLD_ROUNDS, a few ms),
 * then counts to COUNT on a timer and exits.  A checkpoint asked for
 * meanwhile must let it run on until the pool is whole again:
 * tests/scenario/cr_pool_hold.xml takes one right after the "held" line.
 * (Not waiting for a timer: signals are held back while a checkpoint
 * pauses the target.)
 */
#include <capsule/checkpoint_abi.h>

#include <base/env.h>
#include <base/signal.h>
#include <base/timer.h>

#define HOLD_ROUNDS 4000000
#define TICK_US 5000
#define COUNT	3

static struct env *hold_env;
static struct signal_handler hold_handler;
static unsigned ticks;
static cap_t timer;

static void next(uint64_t us)
{
	int rc = timer_oneshot(timer, us);

	if (rc) {
		env_log(hold_env, "pool_hold: timer failed (%d)", rc);
		env_exit(hold_env, 1);
	}
}

static void on_timer(void *arg, unsigned count)
{
	env_log(hold_env, "pool_hold: count %u", ++ticks);
	if (ticks == COUNT)
		env_exit(hold_env, 0);
	else
		next(TICK_US);
}

/* The pool is held while construct computes: the entrypoint thread is
 * in no call then, so only the pool's state keeps a checkpoint waiting. */
void component_construct(struct env *env)
{
	volatile struct cr_entrypoint *ep = (volatile struct cr_entrypoint *)env->ep;
	int rc;

	hold_env = env;
	if ((rc = timer_connect(env, &timer)) ||
	    (rc = signal_handler_init(env, &hold_handler, on_timer, NULL)) ||
	    (rc = timer_sigh(timer, hold_handler.context))) {
		env_log(env, "pool_hold: timer setup failed (%d)", rc);
		env_exit(env, 1);
		return;
	}
	ep->pool_changing = 1;
	env_log(env, "pool_hold: held");
	for (volatile unsigned long i = 0; i < HOLD_ROUNDS; i++)
		;
	ep->pool_changing = 0;
	env_log(env, "pool_hold: released");
	next(TICK_US);
}
