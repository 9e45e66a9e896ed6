/*
 * quota: exhausts its RAM and capability quota on purpose.  Each refusal
 * must come back as an error to this component (never a crash, never a
 * hang), and what was refused must not be lost: after freeing, the same
 * allocation succeeds again.
 */
#include <base/env.h>
#include <errno.h>
#include <stdlib.h>

#define CHUNK	    (64 * 1024)
#define MAX_CHUNKS  256
#define MAX_OBJECTS 600

static cap_t ds[MAX_CHUNKS];
static struct rpc_object objs[MAX_OBJECTS];

static void dummy_dispatch(struct rpc_object *obj, struct msg *m)
{
	msg_reset(m, RPC_OK);
}

static void ram_round(struct env *env)
{
	int n = 0, err = 0;

	while (n < MAX_CHUNKS && !(err = pd_alloc_ram(env->pd, CHUNK, &ds[n])))
		n++;
	env_log(env, "quota: RAM refused with %d after %d KiB", err, n * CHUNK / 1024);
	if (n == 0 || err != -EDQUOT)
		env_exit(env, 1);
	pd_free_ram(env->pd, ds[--n]);
	err = pd_alloc_ram(env->pd, CHUNK, &ds[n]);
	env_log(env, "quota: after freeing 64 KiB, allocating them again: %d", err);
	while (n >= 0)
		pd_free_ram(env->pd, ds[n--]);
}

static void cap_round(struct env *env)
{
	int n = 0;

	while (n < MAX_OBJECTS && cap_valid(ep_manage(env->ep, &objs[n], dummy_dispatch)))
		n++;
	env_log(env, "quota: RPC cap refused after %d objects", n > 0 ? n : 0);
	if (n == 0 || n == MAX_OBJECTS)
		env_exit(env, 1);
	ep_dissolve(env->ep, &objs[--n]);
	env_log(env, "quota: after dissolving one, managing again: %s",
		cap_valid(ep_manage(env->ep, &objs[n], dummy_dispatch)) ? "ok"
									: "refused");
	while (n >= 0)
		ep_dissolve(env->ep, &objs[n--]);
}

void component_construct(struct env *env)
{
	ram_round(env);
	cap_round(env);
	void *p = malloc(64 * 1024);
	env_log(env, "quota: heap still works: %s", p ? "yes" : "no");
	env_exit(env, p ? 0 : 1);
}
