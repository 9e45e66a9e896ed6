/*
 * A target with more RPC objects than the restore once took (it failed
 * past 1019 when the heap merged two chunks under the object array,
 * tests/scenario/cr_many.xml): CR_MANY_OBJECTS objects in one heap array
 * managed by the entrypoint, then it idles on a worker thread while the
 * monitor checkpoints and restores it, and calls every object through
 * its (restored) gate.  Exits 0 if each answers with its own number.
 */
#include <base/env.h>
#include <base/thread.h>
#include <stdlib.h>

#define CR_MANY_OBJECTS 1500
#define CR_MANY_IDLE_MS 600
#define CR_MANY_STEP_MS 10
#define CR_MANY_WHO	1

struct obj {
	struct rpc_object rpc;
	uint64_t nr;
};

struct many {
	struct env *env;
	struct obj *obj;
};

static void obj_dispatch(struct rpc_object *rpc, struct msg *m)
{
	struct obj *o = (struct obj *)rpc;

	if (m->code != CR_MANY_WHO)
		return msg_reset(m, RPC_INVALID_OPCODE);
	msg_reset(m, RPC_OK);
	msg_put(m, o->nr);
}

/* The first object that does not answer with its number, or -1. */
static long first_silent(const struct many *s)
{
	for (long i = 0; i < CR_MANY_OBJECTS; i++) {
		struct msg m;
		msg_reset(&m, CR_MANY_WHO);
		if (rpc_call(s->obj[i].rpc.cap, &m) || m.code != RPC_OK || m.nwords < 1 ||
		    m.w[0] != (uint64_t)i)
			return i;
	}
	return -1;
}

static void idle(void *arg)
{
	struct many *s = arg;
	uint64_t label;
	long bad;

	for (int i = 0; i < CR_MANY_IDLE_MS / CR_MANY_STEP_MS; i++)
		sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), CR_MANY_STEP_MS * 1000,
			   &label);
	bad = first_silent(s);
	if (bad >= 0) {
		env_log(s->env, "cr_many: object %ld does not answer", bad);
		env_exit(s->env, 1);
	}
	env_log(s->env, "cr_many: all %d objects answer", CR_MANY_OBJECTS);
	env_exit(s->env, 0);
}

void component_construct(struct env *env)
{
	struct many *s = calloc(1, sizeof *s);
	struct thread *t;

	if (!s || !(s->obj = calloc(CR_MANY_OBJECTS, sizeof *s->obj)))
		goto err;
	s->env = env;
	for (long i = 0; i < CR_MANY_OBJECTS; i++) {
		s->obj[i].nr = (uint64_t)i;
		if (!cap_valid(ep_manage(env->ep, &s->obj[i].rpc, obj_dispatch))) {
			env_log(env, "cr_many: ep_manage failed at object %ld", i);
			goto err;
		}
	}
	env_log(env, "cr_many: %d objects", CR_MANY_OBJECTS);
	if (thread_create(env, "idle", idle, s, 0, &t))
		goto err;
	return;
err:
	env_log(env, "cr_many: cannot set up");
	env_exit(env, 2);
}
