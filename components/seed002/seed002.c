/*
 * seed002: the four capabilities of seed 002, checked from the
 * component's own memory and cap space.  During construction the exit
 * cap, the signal-proxy cap, the semaphore irq and the constructor cap
 * must each have a cap map entry (nonzero badge, found in the tree under
 * it) and a valid kcap of the right kernel-object type in the task's cap
 * space (TASK_CAP_INFO on its own task).  After construction, in a signal
 * handler, the constructor cap's entry must be gone and its kcap empty,
 * while the other three are still there.
 */
#include <base/env.h>
#include <base/signal.h>

static struct env *seed_env;
static struct signal_handler handler;
static uint64_t ctor_kcap, ctor_badge;
static int failures;

/* Kernel-object type of kcap in the own cap space (KOBJ_NONE: empty). */
static unsigned kcap_type(uint64_t kcap)
{
	struct utcb *u = sys_utcb();
	uint64_t label, tag;

	u->mr[0] = TASK_CAP_INFO;
	u->mr[1] = kcap;
	tag = sys_invoke(KCAP(FIXED_TASK), TAG(SYS_OP_CALL, PROTO_TASK, 2, 0),
			 SYS_TIMEOUT_NEVER, &label);
	return TAG_ERROR(tag) ? KOBJ_NONE : (unsigned)u->mr[0];
}

static uint64_t kcap_valid(uint64_t kcap)
{
	struct utcb *u = sys_utcb();
	uint64_t label, tag;

	u->mr[0] = TASK_CAP_VALID;
	u->mr[1] = kcap;
	tag = sys_invoke(KCAP(FIXED_TASK), TAG(SYS_OP_CALL, PROTO_TASK, 2, 0),
			 SYS_TIMEOUT_NEVER, &label);
	return TAG_ERROR(tag) ? 0 : u->mr[0];
}

/* Check that c has an entry in the cap map and a kcap of type `type`. */
static void check_cap(const char *name, cap_t c, unsigned type)
{
	struct cap_map *m = cap_map();
	struct cap_index *e = c.idx;
	uint64_t kcap;

	if (!e || e < &m->slot[0] || e >= &m->slot[CAP_SLOTS] || !e->id ||
	    e->id == CAP_ID_INVALID || cap_map_find(m, e->id) != e) {
		env_log(seed_env, "seed002: %s: no cap map entry", name);
		failures++;
		return;
	}
	kcap = cap_map_kcap(m, e);
	if (!kcap_valid(kcap) || kcap_type(kcap) != type) {
		env_log(seed_env, "seed002: %s: kcap 0x%llx not a valid %s", name,
			(unsigned long long)kcap, type == KOBJ_IRQ ? "irq" : "gate");
		failures++;
		return;
	}
	env_log(seed_env, "seed002: %s: badge 0x%llx at kcap 0x%llx, %s in cap space",
		name, (unsigned long long)e->id, (unsigned long long)kcap,
		type == KOBJ_IRQ ? "irq" : "gate");
	env_log(seed_env, "seed002: %s ok", name);
}

static void after_construction(void *arg, unsigned count)
{
	struct cap_map *m = cap_map();
	struct cap_index *e = cap_map_entry(m, ctor_kcap);

	check_cap("exit cap", ep_exit_cap(seed_env->ep), KOBJ_GATE);
	check_cap("signal-proxy cap", ep_signal_proxy_cap(seed_env->ep), KOBJ_GATE);
	check_cap("semaphore", signal_semaphore(seed_env), KOBJ_IRQ);
	if (cap_valid(ep_constructor_cap(seed_env->ep)) || cap_map_find(m, ctor_badge) ||
	    (e && e->id == ctor_badge) || (e && !e->id && kcap_valid(ctor_kcap))) {
		env_log(seed_env,
			"seed002: constructor cap still there after construction");
		failures++;
	} else {
		env_log(seed_env, "seed002: constructor cap gone after construction");
	}
	signal_handler_dissolve(seed_env, &handler);
	env_log(seed_env, "seed002: %s",
		failures ? "FAILED" : "all four caps as in seed 002");
	env_exit(seed_env, failures ? 1 : 0);
}

void component_construct(struct env *env)
{
	cap_t ctor = ep_constructor_cap(env->ep);
	int rc;

	seed_env = env;
	check_cap("exit cap", ep_exit_cap(env->ep), KOBJ_GATE);
	check_cap("signal-proxy cap", ep_signal_proxy_cap(env->ep), KOBJ_GATE);
	check_cap("semaphore", signal_semaphore(env), KOBJ_IRQ);
	check_cap("constructor cap", ctor, KOBJ_GATE);
	ctor_kcap = cap_kcap(ctor);
	ctor_badge = cap_badge(ctor);
	/* the rest runs as a signal handler, i.e. after construction */
	if ((rc = signal_handler_init(env, &handler, after_construction, NULL)) ||
	    (rc = signal_submit(env, handler.context, 1))) {
		env_log(env, "seed002: signal failed (%d)", rc);
		env_exit(env, 1);
	}
}
