/*
 * The target's CPU session, intercepted: every thread it creates is
 * recorded with its thread-area number, UTCB address and kernel-thread
 * badge (its "Ipc_server" cap, seed 003), until it kills it.
 */
#include <errno.h>

#include "monitor/monitor.h"

static void cpu_after(struct proxy *p, const struct mon_req *req, struct msg *r)
{
	if (req->code == CPU_KILL && req->ncaps >= 1) { /* gone: not checkpointed */
		thread_drop(p->mon, req->badge[0]);
		return;
	}
	if (req->code != CPU_CREATE_THREAD || r->ncaps < 1 || r->nwords < 3 ||
	    !cap_valid(r->caps[0]))
		return;
	if (thread_add(p->mon, r->caps[0], r->w[0], r->w[1], r->w[2])) {
		env_log(p->mon->env, "monitor: too many threads to record");
		return;
	}
	/* its name: the request's string (length word, then its bytes),
	 * as far as the words the proxy kept carry it */
	if (req->nwords >= 1 && req->w[0] <= (uint64_t)(req->nwords - 1) * 8 &&
	    req->w[0] <= sizeof req->w - 8)
		thread_name(p->mon, r->w[0], (const char *)&req->w[1], (size_t)req->w[0]);
}

const struct proxy_type cpu_proxy_type = {
    .name = "CPU", .before = NULL, .after = cpu_after};
