/*
 * slow_counter: a target to checkpoint by hand.  A periodic timer (250 ms)
 * drives a signal handler on the entrypoint; each tick increments a
 * counter kept on the heap, asks the component's own RPC object to echo
 * it, and logs the pair.  After SLOW_LIMIT ticks (30 s) it ends through
 * its entrypoint's exit cap.  Under a monitor, `capsule checkpoint` and
 * `capsule restore` at any moment show the count going on.
 */
#include <base/env.h>
#include <base/signal.h>
#include <base/timer.h>
#include <stdlib.h>

#define SLOW_LIMIT   120
#define SLOW_TICK_US 250000
#define SLOW_ECHO    1

struct slow_state {
	struct env *env;
	cap_t timer;
	cap_t echo; /* our own RPC object's cap, kept on the heap */
	long count;
};

static struct rpc_object echo_obj;
static struct signal_handler tick_handler;
static struct slow_state *state;

static void echo_dispatch(struct rpc_object *obj, struct msg *m)
{
	uint64_t v = m->nwords ? m->w[0] : 0;

	if (m->code != SLOW_ECHO)
		return msg_reset(m, RPC_INVALID_OPCODE);
	msg_reset(m, RPC_OK);
	msg_put(m, v);
}

static void on_tick(void *arg, unsigned count)
{
	struct slow_state *s = state;
	struct msg m;

	if (s->count >= SLOW_LIMIT)
		return;
	s->count++;
	msg_reset(&m, SLOW_ECHO);
	msg_put(&m, (uint64_t)s->count);
	if (rpc_call(s->echo, &m) || m.code != RPC_OK || m.nwords < 1) {
		env_log(s->env, "slow_counter: echo failed");
		env_exit(s->env, 1);
	}
	env_log(s->env, "count %ld (echo %ld)", s->count, (long)m.w[0]);
	if (s->count == SLOW_LIMIT) {
		timer_periodic(s->timer, 0);
		msg_reset(&m, 0);
		rpc_call(ep_exit_cap(s->env->ep), &m); /* ends ep_run: exit 0 */
	}
}

void component_construct(struct env *env)
{
	int rc;

	state = malloc(sizeof *state);
	if (!state) {
		env_log(env, "slow_counter: out of memory");
		env_exit(env, 1);
	}
	state->env = env;
	state->count = 0;
	state->echo = ep_manage(env->ep, &echo_obj, echo_dispatch);
	if (!cap_valid(state->echo) || (rc = timer_connect(env, &state->timer)) ||
	    (rc = signal_handler_init(env, &tick_handler, on_tick, NULL)) ||
	    (rc = timer_sigh(state->timer, tick_handler.context)) ||
	    (rc = timer_periodic(state->timer, SLOW_TICK_US))) {
		env_log(env, "slow_counter: setup failed");
		env_exit(env, 1);
	}
	env_log(env, "slow_counter: counting every %d ms", SLOW_TICK_US / 1000);
}
