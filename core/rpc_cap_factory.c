/*
 * core's RPC cap factory.  Every IPC gate of the node is made here: for
 * core's own entrypoint (libbase's ep_manage in core calls it through
 * struct rpc_cap_factory) and for every component's entrypoint (PD
 * ALLOC_RPC_CAP).  The gate's label is a fresh node-unique badge; core
 * keeps the original cap in its cap map under that badge, so freeing it
 * revokes every copy (TASK_UNMAP | UNMAP_SELF in core's own task).
 */
#include <errno.h>
#include "core/core_internal.h"

uint64_t core_badge(struct core *c)
{
	return badge_alloc_next(&c->badges);
}

int core_gate_alloc(struct core *c, cap_t ep_thread, cap_t *gate)
{
	uint64_t badge;

	/* the kernel refuses to bind a gate to anything but a live thread */
	if (!cap_valid(ep_thread))
		return -EINVAL;
	badge = core_badge(c);
	if (!badge)
		return -ENOSPC;
	return kobj_create(FACTORY_GATE, cap_kcap(ep_thread), badge, badge, gate);
}

int core_gate_free(struct core *c, cap_t gate)
{
	if (!cap_valid(gate))
		return -EINVAL;
	kobj_destroy(gate);
	return 0;
}

static int factory_alloc(void *ctx, cap_t ep_thread, cap_t *gate)
{
	return core_gate_alloc(ctx, ep_thread, gate);
}

static int factory_free(void *ctx, cap_t gate)
{
	return core_gate_free(ctx, gate);
}

void core_factory_init(struct core *c)
{
	c->factory.alloc = factory_alloc;
	c->factory.free = factory_free;
	c->factory.ctx = c;
}
