/*
 * The checkpoint report (<capsule/checkpoint_abi.h>): libbase tells
 * whoever serves its PD session where its cap map, its entrypoints and
 * its signal handler thread are, in a layout that is versioned and
 * independent of libbase's private structs.  The asserts below tie those
 * structs to the ABI: a change of layout that is not a change of
 * CR_ABI_VERSION does not compile.
 */
#include <stddef.h>
#include "platform.h"

#define SAME_AT(ours, ofield, abi, afield)                                               \
	_Static_assert(offsetof(ours, ofield) == offsetof(abi, afield) &&                \
			   sizeof(((ours *)0)->ofield) == sizeof(((abi *)0)->afield),    \
		       #ours "." #ofield " is not " #abi "." #afield)

SAME_AT(struct cap_index, id, struct cr_cap_entry, id);
SAME_AT(struct cap_index, left, struct cr_cap_entry, left);
SAME_AT(struct cap_index, right, struct cr_cap_entry, right);
SAME_AT(struct cap_index, parent, struct cr_cap_entry, parent);
SAME_AT(struct cap_index, depth, struct cr_cap_entry, depth);
SAME_AT(struct cap_index, ref, struct cr_cap_entry, ref);
SAME_AT(struct cap_index, fixed, struct cr_cap_entry, fixed);
_Static_assert(sizeof(struct cap_index) == sizeof(struct cr_cap_entry), "cap_index");

SAME_AT(struct cap_map, magic, struct cr_cap_map, magic);
SAME_AT(struct cap_map, entries, struct cr_cap_map, entries);
SAME_AT(struct cap_map, root, struct cr_cap_map, root);
SAME_AT(struct cap_map, first_free_hint, struct cr_cap_map, first_free_hint);
_Static_assert(offsetof(struct cap_map, slot) == offsetof(struct cr_cap_map, slot),
	       "cap_map.slot");
_Static_assert(CAP_MAP_MAGIC == CR_CAP_MAP_MAGIC && CAP_ID_INVALID == CR_ID_INVALID,
	       "cap map constants");

SAME_AT(struct rpc_object, left, struct cr_object, left);
SAME_AT(struct rpc_object, right, struct cr_object, right);
SAME_AT(struct rpc_object, parent, struct cr_object, parent);
SAME_AT(struct rpc_object, depth, struct cr_object, depth);
SAME_AT(struct rpc_object, badge, struct cr_object, badge);
SAME_AT(struct rpc_object, cap, struct cr_object, cap);
SAME_AT(struct rpc_object, dispatch, struct cr_object, dispatch);
_Static_assert(sizeof(struct rpc_object) == sizeof(struct cr_object), "rpc_object");

SAME_AT(struct entrypoint, magic, struct cr_entrypoint, magic);
SAME_AT(struct entrypoint, next, struct cr_entrypoint, next);
SAME_AT(struct entrypoint, thread, struct cr_entrypoint, thread);
SAME_AT(struct entrypoint, pool, struct cr_entrypoint, pool);
SAME_AT(struct entrypoint, exit_obj, struct cr_entrypoint, exit_obj);
SAME_AT(struct entrypoint, signal_proxy_obj, struct cr_entrypoint, signal_proxy_obj);
SAME_AT(struct entrypoint, constructor_obj, struct cr_entrypoint, constructor_obj);
SAME_AT(struct entrypoint, constructing, struct cr_entrypoint, constructing);
_Static_assert(EP_MAGIC == CR_EP_MAGIC, "entrypoint magic");
_Static_assert(SIGNAL_SEMAPHORE_LABEL == CR_SIGNAL_SEMAPHORE_LABEL, "semaphore label");

static uint64_t addr(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

void cr_report_init(struct base_state *bs, struct cap_map *m)
{
	bs->report = (struct cr_report){
	    .magic = CR_REPORT_MAGIC,
	    .version = CR_ABI_VERSION,
	    .size = sizeof(struct cr_report),
	    .cap_map = addr(m),
	    .signal_handler_nr = CR_NO_THREAD,
	    .cap_lock = (uint64_t)(uintptr_t)&bs->cap_lock.locked,
	};
}

int cr_report_send(struct base_state *bs, cap_t pd)
{
	return pd_cap_map_report(pd, bs->report.cap_map, CAP_SLOTS, addr(&bs->report),
				 CR_ABI_VERSION);
}

/* Appended, so that the main entrypoint (added first, before any other
 * thread runs) stays first.  Linked before its first object is managed:
 * a checkpoint never finds a gate of an entrypoint it cannot see. */
void cr_report_add_ep(struct base_state *bs, struct entrypoint *ep)
{
	struct entrypoint *last;

	mutex_lock(&bs->thread_lock);
	last = (struct entrypoint *)(uintptr_t)bs->report.entrypoints;
	ep->next = NULL;
	if (!last)
		bs->report.entrypoints = addr(ep);
	while (last && last != ep) {
		if (!last->next)
			last->next = ep;
		last = last->next;
	}
	mutex_unlock(&bs->thread_lock);
}

void cr_report_remove_ep(struct base_state *bs, struct entrypoint *ep)
{
	struct entrypoint *e;

	mutex_lock(&bs->thread_lock);
	e = (struct entrypoint *)(uintptr_t)bs->report.entrypoints;
	if (e == ep)
		bs->report.entrypoints = addr(ep->next);
	for (; e; e = e->next)
		if (e->next == ep)
			e->next = ep->next;
	ep->next = NULL;
	mutex_unlock(&bs->thread_lock);
}

void cr_report_signal_handler(struct base_state *bs, uint64_t nr)
{
	bs->report.signal_handler_nr = nr;
}
