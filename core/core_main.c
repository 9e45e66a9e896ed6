/*
 * core_main: the root task's first thread.  Sets core up as a native
 * component with its own RPC cap factory (core makes its gates itself and
 * has no parent), starts the fault thread, then creates init: a native
 * PD session holding all of the node's RAM and cap quota, a CPU session
 * with init's first thread, and the parent object mapped at init's
 * FIXED_PARENT.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/core_internal.h"

uint64_t core_default_ram(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);

	if (pages <= 0 || page <= 0)
		return 1ULL << 30;
	return (uint64_t)pages * (uint64_t)page;
}

uint64_t core_default_caps(uint64_t ram_budget)
{
	uint64_t caps = ram_budget / CORE_CAP_BYTES;

	return caps > CORE_CAPS_MAX ? CORE_CAPS_MAX : caps ? caps : 1;
}

static int core_start_init(struct core *c)
{
	struct core_config *cfg = c->cfg;
	char args[160];
	struct pd_session *pd;
	struct cpu_session *cpu;
	struct cpu_thread *t;
	struct core_parent *parent;
	int err;

	c->ram_budget = cfg->ram_total ? cfg->ram_total : CORE_DEFAULT_RAM;
	c->cap_budget =
	    cfg->cap_total ? cfg->cap_total : core_default_caps(c->ram_budget);
	snprintf(args, sizeof(args),
		 "native=1 ram_quota=%llu cap_quota=%llu label=\"init\"",
		 (unsigned long long)c->ram_budget, (unsigned long long)c->cap_budget);
	err = pd_session_create(c, args, NULL, &pd);
	if (err)
		return err;
	err = cpu_session_create(c, "label=\"init\"", &cpu);
	if (err)
		return err;
	err = cpu_thread_create(cpu, pd, "init", &t);
	if (err)
		return err;
	err = core_parent_create(c, pd, cpu, "init", &parent);
	if (err)
		return err;
	err = kobj_map(pd->task, parent->obj.cap, KCAP(FIXED_PARENT), RIGHT_R | RIGHT_W);
	if (err)
		return err;
	c->init_start = (struct native_start){
	    .si = {.magic = STARTUP_MAGIC,
		   .parent_badge = parent->obj.badge,
		   .thread_nr = t->nr,
		   .thread_badge = cap_badge(t->thread),
		   .utcb = t->utcb},
	    .label = "init",
	    .construct = cfg->init_construct,
	    .arg = cfg->init_arg,
	};
	native_entry_t entry = cfg->init_entry ? cfg->init_entry : native_component_main;
	uint64_t w[3] = {THREAD_EX_REGS, (uint64_t)(uintptr_t)entry,
			 (uint64_t)(uintptr_t)&c->init_start};
	return kobj_invoke(cap_kcap(t->thread), PROTO_THREAD, w, 3, NULL, 0);
}

static void core_construct(struct env *env, void *arg)
{
	struct core *c = arg;
	struct core_session *log;
	int err;

	c->env = env;
	env->label = "core";
	err = core_fault_thread_start(c);
	if (!err && !log_session_create(c, "label=\"core\"", &log))
		env->log = log->obj.cap;
	if (!err)
		err = core_control_start(c);
	if (!err)
		err = core_start_init(c);
	c->cfg->status = err;
	if (err) {
		fprintf(stderr, "core: cannot start init: %s\n", strerror(-err));
		kernel_stop(-1);
	}
}

/* The node has ended (kernel_at_end): every kernel object is gone, so
 * only core's host memory is left to free. */
static void core_end(void *arg)
{
	struct core *c = arg;

	core_forget(c);
	free(c);
}

void core_main(void *arg)
{
	struct core_config *cfg = arg;
	struct core *c = calloc(1, sizeof(*c));

	/* one core per node: its state hangs off the node, so nodes that run
	 * in one process (each on its own host thread) share nothing */
	if (!c || kernel_at_end(core_end, c)) {
		free(c);
		fprintf(stderr, "core: out of memory\n");
		cfg->status = -ENOMEM;
		kernel_stop(-1);
		return;
	}
	c->cfg = cfg;
	badge_alloc_init(&c->badges, BADGE_FIRST, BADGE_LAST);
	core_factory_init(c);
	/* kernel_boot put core's first thread at thread-area slot 0 */
	c->start = (struct native_start){
	    .si = {.magic = STARTUP_MAGIC,
		   .parent_badge = 0,
		   .thread_nr = 0,
		   .thread_badge = core_badge(c),
		   .utcb = (uint64_t)(uintptr_t)kernel_native_utcb()},
	    .label = "core",
	    .construct = core_construct,
	    .arg = c,
	    .factory = &c->factory,
	};
	native_component_main(&c->start);
}
