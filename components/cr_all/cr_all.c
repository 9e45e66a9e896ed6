/*
 * cr_all: one checkpoint/restore test target that uses everything a
 * restore on another node must bring back (tests/cr/cross_node.sh):
 *
 * - a worker thread counts with its counter in a heap object, asks the
 *   component's own RPC object (a gate it allocated; its cap kept in the
 *   heap object) to echo each count and logs "count N echo N" through a
 *   LOG cap copied onto its stack;
 * - each count it submits a signal to its own context; the handler (on
 *   the entrypoint, through the signal-proxy object and the semaphore
 *   irq) adds them up: at the end all CA_LIMIT must have arrived;
 * - a periodic timer (Timer session 1) logs "tick N";
 * - a one-shot (Timer session 2) armed at start for CA_ONESHOT_US logs
 *   "oneshot fired" once; the end waits for it;
 * - the Timer's elapsed time must not run backwards;
 * - it ends through its entrypoint's exit cap (libbase reports exit 0).
 */
#include <base/env.h>
#include <base/signal.h>
#include <base/thread.h>
#include <base/timer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CA_LIMIT      30
#define CA_SLEEP_US   8000
#define CA_TICK_US    25000
#define CA_ONESHOT_US 150000
#define CA_ECHO	      1

/* Heap object: the counter, a pattern, and caps stored in the heap. */
struct ca_state {
	struct env *env;
	int value;
	cap_t echo; /* own RPC object */
	cap_t log;  /* a copy of the LOG cap */
	cap_t periodic, oneshot;
	uint64_t start_us;
	unsigned char pattern[256];
};

static struct rpc_object echo_obj;
static struct signal_handler sig_handler, tick_handler, oneshot_handler;
static volatile unsigned sigs, ticks, oneshots;
static struct ca_state *state;

static void echo_dispatch(struct rpc_object *obj, struct msg *m)
{
	uint64_t v = m->nwords ? m->w[0] : 0;

	if (m->code != CA_ECHO)
		return msg_reset(m, RPC_INVALID_OPCODE);
	msg_reset(m, RPC_OK);
	msg_put(m, v);
}

static void on_signal(void *arg, unsigned count)
{
	sigs += count;
}

static void on_tick(void *arg, unsigned count)
{
	while (count--)
		env_log(state->env, "tick %u", ++ticks);
}

static void on_oneshot(void *arg, unsigned count)
{
	if (!oneshots++)
		env_log(state->env, "oneshot fired");
}

static void say(cap_t log, const char *fmt, long a, long b)
{
	char line[96];
	int n = snprintf(line, sizeof line, fmt, a, b);

	log_write(log, line, n > 0 ? (uint64_t)n : 0);
}

static void fail(struct ca_state *s, cap_t log, const char *what)
{
	char line[96];

	snprintf(line, sizeof line, "cr_all: %s", what);
	log_write(log, line, strlen(line));
	env_exit(s->env, 1);
}

static void sleep_us(uint64_t us)
{
	uint64_t label;

	sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), us, &label);
}

static void finish(struct ca_state *s, cap_t log)
{
	uint64_t now;
	struct msg m;

	for (int i = 0; i < 100 && (sigs < CA_LIMIT || !oneshots); i++)
		sleep_us(CA_SLEEP_US);
	if (sigs != CA_LIMIT)
		fail(s, log, "signals lost");
	if (!oneshots)
		fail(s, log, "the one-shot timeout never fired");
	for (unsigned i = 0; i < sizeof s->pattern; i++)
		if (s->pattern[i] != (unsigned char)(i * 7 + 1))
			fail(s, log, "heap object corrupted");
	if (timer_periodic(s->periodic, 0) || timer_elapsed_us(s->periodic, &now) ||
	    now < s->start_us)
		fail(s, log, "timer went backwards");
	say(s->log, "cr_all: done: %ld signals, heap intact, %ld ticks", (long)sigs,
	    (long)ticks);
	/* end through the entrypoint's exit cap (seed 002's CAP1) */
	msg_reset(&m, 0);
	if (rpc_call(ep_exit_cap(s->env->ep), &m))
		say(log, "cr_all: exit cap failed%.0ld%.0ld", 0, 0);
	env_exit(s->env, 1);
}

static void worker(void *arg)
{
	struct ca_state *s = arg;
	cap_t log_on_stack = cap_ref(s->log);
	struct msg m;

	for (s->value = 1; s->value <= CA_LIMIT; s->value++) {
		msg_reset(&m, CA_ECHO);
		msg_put(&m, (uint64_t)s->value);
		if (rpc_call(s->echo, &m) || m.code != RPC_OK || m.nwords < 1)
			fail(s, log_on_stack, "echo failed");
		say(log_on_stack, "count %ld echo %ld", s->value, (long)m.w[0]);
		if (signal_submit(s->env, sig_handler.context, 1))
			fail(s, log_on_stack, "submit failed");
		sleep_us(CA_SLEEP_US);
	}
	finish(s, log_on_stack);
}

static int timers(struct env *env, struct ca_state *s)
{
	return timer_connect(env, &s->periodic) || timer_connect(env, &s->oneshot) ||
	       signal_handler_init(env, &tick_handler, on_tick, NULL) ||
	       signal_handler_init(env, &oneshot_handler, on_oneshot, NULL) ||
	       timer_sigh(s->periodic, tick_handler.context) ||
	       timer_sigh(s->oneshot, oneshot_handler.context) ||
	       timer_elapsed_us(s->periodic, &s->start_us) ||
	       timer_periodic(s->periodic, CA_TICK_US) ||
	       timer_oneshot(s->oneshot, CA_ONESHOT_US);
}

void component_construct(struct env *env)
{
	struct ca_state *s = malloc(sizeof *s);
	struct thread *t;

	if (!s) {
		env_log(env, "cr_all: out of memory");
		env_exit(env, 1);
	}
	memset(s, 0, sizeof *s);
	state = s;
	s->env = env;
	for (unsigned i = 0; i < sizeof s->pattern; i++)
		s->pattern[i] = (unsigned char)(i * 7 + 1);
	s->log = cap_ref(env->log);
	s->echo = ep_manage(env->ep, &echo_obj, echo_dispatch);
	if (!cap_valid(s->echo) ||
	    signal_handler_init(env, &sig_handler, on_signal, NULL) || timers(env, s) ||
	    thread_create(env, "worker", worker, s, 0, &t)) {
		env_log(env, "cr_all: cannot start");
		env_exit(env, 1);
	}
	env_log(env, "cr_all: started");
}
