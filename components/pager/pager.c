/*
 * pager: serves a managed dataspace whose pages appear on first touch.
 * It makes a region map of LAZY_PAGES pages (RM session), registers a
 * signal handler as the map's fault handler and hands the map's dataspace
 * to its clients ("Lazy" service), which attach it.  A client touching a
 * page nobody attached faults; core halts the client's thread and signals
 * the pager, which fills a fresh RAM page with LAZY_WORD values, attaches
 * it at the fault address, and core lets the client go on.
 * Pages 2.. are a second region map, attached (empty) into the first on
 * the first fault there: the client faults again, now in the inner map,
 * whose own fault handler fills the page.  A fault on LAZY_POISON_PAGE
 * makes the pager destroy the inner map instead: the waiting client's
 * fault becomes fatal, reported to its parent like any other.
 */
#include <base/env.h>
#include <base/region_map.h>
#include <base/sessions.h>
#include <base/signal.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lazy.h"

static struct env *pg_env;
static struct rpc_object root_obj, session_obj;
#define INNER_AT LAZY_INNER_AT

static struct signal_handler fault_sigh[2];
static cap_t rm, region, managed, inner, inner_ds;
static unsigned faults;

static void fail(const char *what, int rc)
{
	env_log(pg_env, "pager: %s failed (%d)", what, rc);
	env_exit(pg_env, 1);
}

/* Fill a fresh RAM page for page number p and attach it at addr of map. */
static void resolve(cap_t map, uint64_t addr, uint64_t p)
{
	uint64_t local, at, *w;
	cap_t ds;
	int rc;

	if ((rc = pd_alloc_ram(pg_env->pd, LAZY_PAGE, &ds)))
		fail("alloc", rc);
	if ((rc = pd_attach(pg_env->pd, ds, 0, 0, 0, MEM_R | MEM_W, &local)))
		fail("attach locally", rc);
	w = (uint64_t *)(uintptr_t)local;
	for (unsigned i = 0; i < LAZY_PAGE / 8; i++)
		w[i] = LAZY_WORD(p, i);
	pd_detach(pg_env->pd, local);
	if ((rc = region_attach(map, ds, addr, 0, LAZY_PAGE, MEM_R | MEM_W, &at)))
		fail("region attach", rc);
}

static void done(void *arg)
{
	struct region_fault f;

	region_state(region, &f);
	env_log(pg_env, "pager: %u faults handled, state %s", faults,
		f.state == REGION_READY ? "ready" : "faulted");
	env_exit(pg_env, f.state == REGION_READY ? 0 : 1);
}

/* arg: 0 the outer map, 1 the inner one */
static void on_fault(void *arg, unsigned count)
{
	static const char *const kinds[] = {"none", "read", "write", "exec"};
	int in = arg != NULL;
	cap_t map = in ? inner : region;
	struct region_fault f;
	uint64_t page, at;
	int rc;

	if ((rc = region_state(map, &f)))
		fail("region state", rc);
	if (f.state != REGION_FAULTED)
		return; /* resolved already (a signal per fault, state once) */
	faults++;
	if (!in && f.addr >= INNER_AT) {
		env_log(pg_env, "pager: %s fault at +0x%llx: attaching the inner map",
			f.kind < 4 ? kinds[f.kind] : "other", (unsigned long long)f.addr);
		if ((rc = region_attach(region, inner_ds, INNER_AT, 0, 0, MEM_R | MEM_W,
					&at)))
			fail("attach inner map", rc);
		return;
	}
	page = f.addr / LAZY_PAGE + (in ? INNER_AT / LAZY_PAGE : 0);
	if (page == LAZY_POISON_PAGE) {
		env_log(pg_env,
			"pager: fault on the poison page: destroying the inner map");
		if ((rc = rm_destroy(rm, inner)))
			fail("rm_destroy", rc);
		ep_defer(pg_env->ep, done, NULL);
		return;
	}
	env_log(pg_env, "pager: %s fault at +0x%llx%s, filling page %llu",
		f.kind < 4 ? kinds[f.kind] : "other", (unsigned long long)f.addr,
		in ? " of the inner map" : "", (unsigned long long)page);
	resolve(map, f.addr & ~(LAZY_PAGE - 1), page);
}

static void session_dispatch(struct rpc_object *obj, struct msg *m)
{
	switch (m->code) {
	case LAZY_DATASPACE:
		msg_reset(m, RPC_OK);
		msg_put_cap(m, managed);
		return;
	case LAZY_DONE:
		msg_reset(m, RPC_OK);
		ep_defer(pg_env->ep, done, NULL);
		return;
	}
	msg_reset(m, RPC_INVALID_OPCODE);
}

static void root_dispatch(struct rpc_object *obj, struct msg *m)
{
	if (m->code != ROOT_SESSION) {
		msg_reset(m, m->code == ROOT_CLOSE ? RPC_OK : RPC_INVALID_OPCODE);
		return;
	}
	msg_reset(m, RPC_OK);
	msg_put_cap(m, session_obj.cap);
}

void component_construct(struct env *env)
{
	int rc;

	pg_env = env;
	if ((rc = env_session(env, "RM", "", &rm)))
		fail("RM session", rc);
	if ((rc = rm_create(rm, LAZY_PAGES * LAZY_PAGE, &region)))
		fail("rm_create", rc);
	if ((rc = rm_create(rm, LAZY_PAGES * LAZY_PAGE - INNER_AT, &inner)))
		fail("rm_create inner", rc);
	if ((rc = signal_handler_init(env, &fault_sigh[0], on_fault, NULL)) ||
	    (rc = signal_handler_init(env, &fault_sigh[1], on_fault, &inner)))
		fail("signal handler", rc);
	if ((rc = region_fault_handler(region, fault_sigh[0].context)) ||
	    (rc = region_fault_handler(inner, fault_sigh[1].context)))
		fail("fault handler", rc);
	if ((rc = region_dataspace(region, &managed)) ||
	    (rc = region_dataspace(inner, &inner_ds)))
		fail("region dataspace", rc);
	/* a map cannot be attached into itself */
	rc = region_attach(inner, inner_ds, 0, 0, 0, MEM_R, NULL);
	env_log(env, "pager: attaching a map into itself: %s",
		rc == -EINVAL ? "refused" : "allowed");
	/* logged before the announce: a client's lines come after it */
	env_log(env, "pager: serving %u lazy pages", (unsigned)LAZY_PAGES);
	if (!cap_valid(ep_manage(env->ep, &session_obj, session_dispatch)) ||
	    !cap_valid(ep_manage(env->ep, &root_obj, root_dispatch)) ||
	    env_announce(env, "Lazy", root_obj.cap))
		fail("announce", -1);
}
