/*
 * cr_eps: a checkpoint/restore test target with RPC objects on two
 * entrypoints of its own besides the main one.  Entrypoint "ep_a" serves
 * two objects, "ep_b" one, the main entrypoint one; their caps live in a
 * heap object.  A worker thread calls all four each round (each object
 * answers with the value plus its own offset, so a call that reaches the
 * wrong object is caught) and logs the round.  After a restore every
 * entrypoint's object pool must have been rebuilt for the new badges, or
 * the next call fails.
 */
#include <base/env.h>
#include <base/thread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUNDS	 12
#define SLEEP_US 8000
#define OP_ADD	 1
#define NOBJ	 4

struct eps_obj {
	struct rpc_object obj; /* first: the dispatcher gets its address */
	uint64_t offset;
	cap_t cap;
};

struct eps_state {
	struct env *env;
	struct entrypoint *ep_a, *ep_b;
	struct eps_obj o[NOBJ]; /* o[0], o[1] on ep_a, o[2] on ep_b, o[3] main */
};

static void add_dispatch(struct rpc_object *obj, struct msg *m)
{
	struct eps_obj *o = (struct eps_obj *)obj;
	uint64_t v = m->nwords ? m->w[0] : 0;

	if (m->code != OP_ADD)
		return msg_reset(m, RPC_INVALID_OPCODE);
	msg_reset(m, RPC_OK);
	msg_put(m, v + o->offset);
}

/* Call object i with v: its answer, or -1 on a failed call. */
static long call(struct eps_state *s, unsigned i, long v)
{
	struct msg m;

	msg_reset(&m, OP_ADD);
	msg_put(&m, (uint64_t)v);
	if (rpc_call(s->o[i].cap, &m) || m.code != RPC_OK || m.nwords < 1)
		return -1;
	return (long)m.w[0];
}

static void worker(void *arg)
{
	struct eps_state *s = arg;
	uint64_t label;

	for (long r = 1; r <= ROUNDS; r++) {
		long got[NOBJ];

		for (unsigned i = 0; i < NOBJ; i++) {
			got[i] = call(s, i, r);
			if (got[i] != r + (long)s->o[i].offset) {
				env_log(s->env,
					"cr_eps: round %ld: object %u answered %ld", r, i,
					got[i]);
				env_exit(s->env, 1);
			}
		}
		env_log(s->env, "round %ld: ep_a %ld %ld, ep_b %ld, main %ld", r, got[0],
			got[1], got[2], got[3]);
		sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), SLEEP_US, &label);
	}
	env_log(s->env, "cr_eps: done");
	env_exit(s->env, 0);
}

static int manage(struct eps_state *s, unsigned i, struct entrypoint *ep)
{
	s->o[i].offset = 1000 * (i + 1);
	s->o[i].cap = ep_manage(ep, &s->o[i].obj, add_dispatch);
	return cap_valid(s->o[i].cap) ? 0 : -1;
}

void component_construct(struct env *env)
{
	struct eps_state *s = calloc(1, sizeof *s);
	struct thread *t;

	if (!s || ep_create(env, "ep_a", &s->ep_a) || ep_create(env, "ep_b", &s->ep_b)) {
		env_log(env, "cr_eps: cannot make the entrypoints");
		env_exit(env, 1);
		return;
	}
	s->env = env;
	if (manage(s, 0, s->ep_a) || manage(s, 1, s->ep_a) || manage(s, 2, s->ep_b) ||
	    manage(s, 3, env->ep) || thread_create(env, "worker", worker, s, 0, &t)) {
		env_log(env, "cr_eps: cannot start");
		env_exit(env, 1);
	}
}
