/*
 * core's raw invocations of kernel objects: the factory (only core holds
 * it), tasks and threads.  Everything here runs on core's entrypoint
 * thread and uses its UTCB.
 */
#include <errno.h>
#include <string.h>
#include "core/core_internal.h"

int kobj_invoke(uint64_t kcap, unsigned proto, const uint64_t *in, unsigned nin,
		uint64_t *out, unsigned nout)
{
	struct utcb *u = sys_utcb();
	uint64_t label, tag;

	if (nin > UTCB_MRS || nout > UTCB_MRS)
		return -EINVAL;
	memcpy(u->mr, in, nin * sizeof(*in));
	tag =
	    sys_invoke(kcap, TAG(SYS_OP_CALL, proto, nin, 0), SYS_TIMEOUT_NEVER, &label);
	if (TAG_ERROR(tag))
		return kerr_to_errno(TAG_ERROR(tag));
	if (nout)
		memcpy(out, u->mr, nout * sizeof(*out));
	return 0;
}

int kobj_create(unsigned op, uint64_t a1, uint64_t a2, uint64_t id, cap_t *out)
{
	struct cap_map *m = cap_map();
	struct cap_index *e = cap_map_insert(m, id);
	struct utcb *u = sys_utcb();
	uint64_t saved, label, tag, kcap;

	if (!e)
		return id ? -ENOMEM : -EINVAL;
	kcap = cap_map_kcap(m, e);
	/* let the factory deliver the new cap straight into its final slot */
	saved = u->br[0];
	u->br[0] = kcap;
	u->mr[0] = op;
	u->mr[1] = a1;
	u->mr[2] = a2;
	tag = sys_invoke(KCAP(FIXED_FACTORY), TAG(SYS_OP_CALL, PROTO_FACTORY, 3, 0),
			 SYS_TIMEOUT_NEVER, &label);
	u->br[0] = saved;
	if (TAG_ERROR(tag) || TAG_ITEMS(tag) < 1) {
		cap_map_remove(m, e);
		return TAG_ERROR(tag) ? kerr_to_errno(TAG_ERROR(tag)) : -EIO;
	}
	out->idx = e;
	return 0;
}

void kobj_destroy(cap_t c)
{
	uint64_t w[3] = {TASK_UNMAP, cap_kcap(c), UNMAP_SELF};

	if (!c.idx)
		return;
	if (w[1] != KCAP_INVALID)
		kobj_invoke(KCAP(FIXED_TASK), PROTO_TASK, w, 3, NULL, 0);
	cap_release(c);
}

int kobj_map(cap_t task, cap_t c, uint64_t dst, unsigned rights)
{
	uint64_t w[4] = {TASK_MAP, KCAP_INVALID, cap_kcap(c) | (rights & RIGHTS_ALL),
			 dst};

	if (!cap_valid(task) || !cap_valid(c))
		return -EINVAL;
	return kobj_invoke(cap_kcap(task), PROTO_TASK, w, 4, NULL, 0);
}
