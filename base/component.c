/*
 * The start sequence of every component, guest or native:
 *
 *   cap map with its fixed entries (task, parent, own thread)
 *   -> UTCB thread-control registers, receive window
 *   -> env sessions from the parent (PD, then CPU, LOG) and the cap map's
 *      address reported to core through the PD session
 *   -> main entrypoint with its exit object -> construct -> ep_run
 *
 * Core passes its own rpc cap factory and has no parent: it skips the
 * session step and leaves the env sessions invalid.
 */
#include <errno.h>
#include <string.h>
#include "platform.h"

/* An id for a fixed entry whose badge is unknown: odd, so never a badge. */
#define CAP_ID_LOCAL(kcap) ((1ULL << 63) | (kcap) | 1)

static cap_t fixed_entry(struct cap_map *m, uint64_t id, uint64_t kcap)
{
	struct cap_index *e = cap_map_insert_at(m, id ? id : CAP_ID_LOCAL(kcap), kcap);

	return (cap_t){e};
}

/* Ask the parent for the env sessions it made for us. */
static int base_env_sessions(struct env *env)
{
	int err;

	err = parent_session(env->parent, "PD", "", &env->pd);
	if (err)
		return err;
	err = cr_report_send(base_state(), env->pd);
	if (err)
		return err;
	err = parent_session(env->parent, "CPU", "", &env->cpu);
	if (err)
		return err;
	/* without LOG, env_log falls back to the platform console */
	parent_session(env->parent, "LOG", "", &env->log);
	return 0;
}

int base_component_run(const struct startup_info *si, const char *label,
		       const struct rpc_cap_factory *factory,
		       void (*construct)(struct env *, void *), void *arg)
{
	struct base_state *bs = base_state();
	struct cap_map *m = cap_map();
	struct utcb *u = sys_utcb();
	struct env *env = &bs->env;
	struct cap_index *win;
	cap_t self;
	int err;

	if (si->thread_nr >= THREAD_AREA_THREADS)
		return -EINVAL;
	memset(bs, 0, sizeof(*bs));
	cap_map_init(m);
	cr_report_init(bs, m);
	for (unsigned i = 0; label && label[i] && i + 1 < sizeof(bs->label); i++)
		bs->label[i] = label[i];
	env->label = bs->label;
	env->ep = &bs->ep;
	fixed_entry(m, 0, KCAP(FIXED_TASK));
	if (!factory)
		env->parent = fixed_entry(m, si->parent_badge, KCAP(FIXED_PARENT));
	self = fixed_entry(m, si->thread_badge,
			   KCAP_THREAD(si->thread_nr, THREAD_SLOT_GATE));
	if (!cap_valid(self))
		return -EINVAL;
	bs->main_thread.self = self;
	u->tcr[TCR_CAP_ENTRY] = (uint64_t)(uintptr_t)self.idx;
	u->tcr[TCR_USER] = (uint64_t)(uintptr_t)&bs->main_thread;
	win = cap_map_alloc_range(m, RECV_WINDOW_SLOTS);
	bs->main_thread.window = cap_map_kcap(m, win);
	u->br[0] = bs->main_thread.window;
	bs->magic = BASE_STATE_MAGIC;
	if (!factory) {
		err = base_env_sessions(env);
		if (err)
			goto err;
	}
	err = ep_init(&bs->ep, env, self, &bs->main_thread, factory);
	if (err)
		goto err;
	ep_construct(&bs->ep, construct, env, arg);
	ep_run(&bs->ep);
	if (cap_valid(env->parent))
		parent_exit(env->parent, 0);
	return 0;
err:
	env_log(env, "libbase: start failed (%d)", err);
	if (cap_valid(env->parent))
		parent_exit(env->parent, 1);
	return err;
}
