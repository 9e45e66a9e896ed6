/*
 * Dataspaces: page-aligned, zero-filled host memory, each an RPC object
 * of core (DS_SIZE).  The same host memory is mapped into every task that
 * attaches it (TASK_MAP_MEM), so a dataspace's memory must outlive its
 * last attachment even when its owner frees it: refs counts the owner and
 * the attachments.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include "core/core_internal.h"

static void ds_dispatch(struct rpc_object *obj, struct msg *m)
{
	struct dataspace *ds = container_of(obj, struct dataspace, obj);

	if (m->code != DS_SIZE) {
		msg_reset(m, RPC_INVALID_OPCODE);
		return;
	}
	core_reply_ok(m);
	msg_put(m, ds->size);
}

#define DS_HUGE (2ULL << 20)

/* size bytes of zeroed host memory; from DS_HUGE on aligned to DS_HUGE,
 * so that a user who asks for huge pages (the monitor's restore fills a
 * dataspace that way) gets them for all of it, not for all but its ends. */
static void *ds_map(uint64_t size)
{
	uint64_t slack = size >= DS_HUGE ? DS_HUGE - PAGE_SIZE : 0, head;
	uint8_t *p = mmap(NULL, size + slack, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED || !slack)
		return p;
	head = (DS_HUGE - (uintptr_t)p % DS_HUGE) % DS_HUGE;
	if (head)
		munmap(p, head);
	if (slack - head)
		munmap(p + head + size, slack - head);
	return p + head;
}

int ds_create(struct core *c, uint64_t size, int writable, struct dataspace **out)
{
	struct dataspace *ds;
	void *p;

	if (!size || PAGE_ROUND(size) < size)
		return -EINVAL;
	size = PAGE_ROUND(size);
	ds = calloc(1, sizeof(*ds));
	if (!ds)
		return -ENOMEM;
	p = ds_map(size);
	if (p == MAP_FAILED) {
		free(ds);
		return -ENOMEM;
	}
	ds->host = p;
	ds->size = size;
	ds->writable = writable;
	ds->refs = 1;
	if (!cap_valid(ep_manage(c->env->ep, &ds->obj, ds_dispatch))) {
		munmap(p, size);
		free(ds);
		return -ENOSPC;
	}
	ds->managed = 1;
	*out = ds;
	return 0;
}

void ds_ref(struct dataspace *ds)
{
	ds->refs++;
}

void ds_unref(struct dataspace *ds)
{
	if (--ds->refs)
		return;
	munmap(ds->host, ds->size);
	free(ds);
}

void ds_release(struct core *c, struct dataspace *ds)
{
	if (ds->managed) {
		ep_dissolve(c->env->ep, &ds->obj);
		ds->managed = 0;
	}
	ds_unref(ds);
}

struct dataspace *ds_from_cap(struct core *c, cap_t cap)
{
	struct rpc_object *obj;

	if (!cap_valid(cap))
		return NULL;
	obj = ep_lookup(c->env->ep, cap_badge(cap));
	if (!obj || obj->dispatch != ds_dispatch)
		return NULL;
	return container_of(obj, struct dataspace, obj);
}
