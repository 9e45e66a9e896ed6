/*
 * Checkpoint/restore benchmark target (bench/bench_cr.c): N RPC objects
 * managed by its entrypoint (ep_manage: one gate each, in the cap map),
 * N read from the ROM "bench.count"; then it idles on a worker thread for
 * BENCH_CR_IDLE_MS (the monitor's test hook checkpoints and restores it
 * meanwhile) and exits 0 after calling every object once, 1 if one does
 * not answer with its own number.  Logs "bench_cr_caps: N objects", or
 * "bench_cr_caps: cannot set up: WHY" and exits 2 (bench_cr prints WHY
 * when it looks for the largest N that fits).
 *
 * The ROM is read and its dataspace detached and released before the
 * objects are made: the monitor does not record the dataspace of a ROM
 * session routed past it, so a checkpoint would fail on that region.
 */
#include <base/env.h>
#include <base/thread.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_CR_IDLE_MS 800
#define BENCH_CR_STEP_MS 10
#define BENCH_CR_WHO	 1

struct obj {
	struct rpc_object rpc;
	uint64_t nr;
};

struct caps_state {
	struct env *env;
	uint64_t n;
	struct obj *obj;
};

/* N from the ROM "bench.count", nothing of it left attached; 0 on error. */
static uint64_t read_count(struct env *env)
{
	cap_t rom, ds;
	uint64_t size, at;
	char buf[32] = {0};

	if (env_session(env, "ROM", "label=\"bench.count\"", &rom) ||
	    rom_dataspace(rom, &ds, &size))
		return 0;
	if (pd_attach(env->pd, ds, 0, 0, 0, MEM_R, &at)) {
		cap_release(ds);
		return 0;
	}
	memcpy(buf, (const void *)at, size < sizeof buf - 1 ? size : sizeof buf - 1);
	pd_detach(env->pd, at);
	cap_release(ds);
	return strtoul(buf, NULL, 10);
}

static void obj_dispatch(struct rpc_object *rpc, struct msg *m)
{
	struct obj *o = (struct obj *)rpc;

	if (m->code != BENCH_CR_WHO)
		return msg_reset(m, RPC_INVALID_OPCODE);
	msg_reset(m, RPC_OK);
	msg_put(m, o->nr);
}

/* Every object answers with its number (through its restored gate). */
static int all_answer(const struct caps_state *s)
{
	for (uint64_t i = 0; i < s->n; i++) {
		struct msg m;
		msg_reset(&m, BENCH_CR_WHO);
		if (rpc_call(s->obj[i].rpc.cap, &m) || m.code != RPC_OK || m.nwords < 1 ||
		    m.w[0] != i)
			return 0;
	}
	return 1;
}

static void idle(void *arg)
{
	struct caps_state *s = arg;
	uint64_t label;

	for (int i = 0; i < BENCH_CR_IDLE_MS / BENCH_CR_STEP_MS; i++)
		sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), BENCH_CR_STEP_MS * 1000,
			   &label);
	if (!all_answer(s)) {
		env_log(s->env, "bench_cr_caps: an object does not answer");
		env_exit(s->env, 1);
	}
	env_log(s->env, "bench_cr_caps: all %llu objects answer",
		(unsigned long long)s->n);
	env_exit(s->env, 0);
}

void component_construct(struct env *env)
{
	struct caps_state *s = calloc(1, sizeof *s);
	struct thread *t;
	int rc;

	if (!s) {
		env_log(env, "bench_cr_caps: cannot set up: no memory");
		goto err;
	}
	if (!(s->n = read_count(env))) {
		env_log(env,
			"bench_cr_caps: cannot set up: no count in ROM 'bench.count'");
		goto err;
	}
	s->env = env;
	s->obj = calloc(s->n, sizeof *s->obj);
	if (!s->obj) {
		env_log(env, "bench_cr_caps: cannot set up: no memory for %llu objects",
			(unsigned long long)s->n);
		goto err;
	}
	for (uint64_t i = 0; i < s->n; i++) {
		s->obj[i].nr = i;
		if (!cap_valid(ep_manage(env->ep, &s->obj[i].rpc, obj_dispatch))) {
			env_log(env,
				"bench_cr_caps: cannot set up: ep_manage failed at "
				"object %llu",
				(unsigned long long)i);
			goto err;
		}
	}
	env_log(env, "bench_cr_caps: %llu objects", (unsigned long long)s->n);
	/* the worker needs cap map slots of its own (a receive window) */
	if ((rc = thread_create(env, "idle", idle, s, 0, &t))) {
		env_log(env,
			"bench_cr_caps: cannot set up: no idle thread after %llu objects "
			"(errno %d)",
			(unsigned long long)s->n, -rc);
		goto err;
	}
	return;
err:
	env_exit(env, 2);
}
