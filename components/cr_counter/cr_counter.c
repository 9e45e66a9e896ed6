/*
 * cr_counter: a checkpoint/restore test target.  A worker thread counts
 * slowly (sleeping CR_SLEEP_US between counts) with its counter on the
 * heap; each count it asks the component's own RPC object (served by the
 * entrypoint, its cap kept in the heap object) to echo the count, and
 * writes the line through a LOG cap copied onto its stack.  At the end it
 * checks the heap object and ends through its entrypoint's exit cap,
 * which makes libbase report exit 0 (1 on any mismatch or failed call).
 * Run under the monitor, the line "count N echo N" continuing past the
 * checkpoint shows that memory, threads, the own gate and caps stored in
 * heap and stack survived.
 */
#include <base/env.h>
#include <base/thread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CR_LIMIT    12
#define CR_SLEEP_US 8000
#define CR_ECHO	    1

/* Heap object: the counter, a pattern, and caps stored in the heap. */
struct cr_state {
	struct env *env;
	int value;
	cap_t echo; /* own RPC object */
	cap_t log;  /* a copy of the LOG cap */
	unsigned char pattern[256];
};

static struct rpc_object echo_obj;

static void echo_dispatch(struct rpc_object *obj, struct msg *m)
{
	uint64_t v = m->nwords ? m->w[0] : 0;

	if (m->code != CR_ECHO)
		return msg_reset(m, RPC_INVALID_OPCODE);
	msg_reset(m, RPC_OK);
	msg_put(m, v);
}

static int pattern_intact(const struct cr_state *s)
{
	for (unsigned i = 0; i < sizeof s->pattern; i++)
		if (s->pattern[i] != (unsigned char)(i * 7 + 1))
			return 0;
	return 1;
}

static void say(cap_t log, const char *fmt, long a, long b)
{
	char line[96];
	int n = snprintf(line, sizeof line, fmt, a, b);

	log_write(log, line, n > 0 ? (uint64_t)n : 0);
}

static void worker(void *arg)
{
	struct cr_state *s = arg;
	cap_t log_on_stack = cap_ref(s->log);
	uint64_t label;
	struct msg m;

	for (s->value = 1; s->value <= CR_LIMIT; s->value++) {
		msg_reset(&m, CR_ECHO);
		msg_put(&m, (uint64_t)s->value);
		if (rpc_call(s->echo, &m) || m.code != RPC_OK || m.nwords < 1) {
			say(log_on_stack, "cr_counter: echo failed at %ld%.0ld", s->value,
			    0);
			env_exit(s->env, 1);
		}
		say(log_on_stack, "count %ld echo %ld", s->value, (long)m.w[0]);
		sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), CR_SLEEP_US, &label);
	}
	if (!pattern_intact(s)) {
		say(log_on_stack, "cr_counter: heap object corrupted", 0, 0);
		env_exit(s->env, 1);
	}
	say(s->log, "cr_counter: done, heap intact", 0, 0);
	/* end through the entrypoint's exit cap (seed 002's CAP1): ep_run
	 * returns and libbase reports exit 0 to the parent */
	msg_reset(&m, 0);
	if (rpc_call(ep_exit_cap(s->env->ep), &m))
		say(log_on_stack, "cr_counter: exit cap failed", 0, 0);
	env_exit(s->env, 1);
}

void component_construct(struct env *env)
{
	struct cr_state *s = malloc(sizeof *s);
	struct thread *t;

	if (!s) {
		env_log(env, "cr_counter: out of memory");
		env_exit(env, 1);
	}
	memset(s, 0, sizeof *s);
	s->env = env;
	for (unsigned i = 0; i < sizeof s->pattern; i++)
		s->pattern[i] = (unsigned char)(i * 7 + 1);
	s->log = cap_ref(env->log);
	s->echo = ep_manage(env->ep, &echo_obj, echo_dispatch);
	if (!cap_valid(s->echo) || thread_create(env, "worker", worker, s, 0, &t)) {
		env_log(env, "cr_counter: cannot start");
		env_exit(env, 1);
	}
}
