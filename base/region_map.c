/*
 * Client calls of RM sessions and region maps (base/region_map.h): one
 * rpc_invoke each, word layout as in base/sessions.h.  Caps a reply carries
 * that a call does not hand out are released.
 */
#include <errno.h>
#include <base/region_map.h>
#include <base/sessions.h>
#include "platform.h"

int rm_create(cap_t rm_session, uint64_t size, cap_t *region_map)
{
	struct msg m;
	int err = base_request(rm_session, RM_CREATE, CAP_INVALID, &size, 1, &m);

	return err ? err : base_take_cap(&m, region_map);
}

int rm_destroy(cap_t rm_session, cap_t region_map)
{
	struct msg m;

	return base_drop_caps(
	    &m, base_request(rm_session, RM_DESTROY, region_map, NULL, 0, &m));
}

int region_attach(cap_t rm, cap_t ds, uint64_t addr, uint64_t off, uint64_t size,
		  unsigned perm, uint64_t *at)
{
	uint64_t w[4] = {addr, off, size, perm};
	struct msg m;
	int err = base_drop_caps(&m, base_request(rm, REGION_ATTACH, ds, w, 4, &m));

	if (err)
		return err;
	if (m.nwords < 1)
		return -EPROTO;
	if (at)
		*at = m.w[0];
	return 0;
}

int region_detach(cap_t rm, uint64_t addr)
{
	struct msg m;

	return base_drop_caps(&m,
			      base_request(rm, REGION_DETACH, CAP_INVALID, &addr, 1, &m));
}

int region_fault_handler(cap_t rm, cap_t context)
{
	struct msg m;

	if (!cap_valid(context))
		return -EINVAL;
	return base_drop_caps(
	    &m, base_request(rm, REGION_FAULT_HANDLER, context, NULL, 0, &m));
}

int region_state(cap_t rm, struct region_fault *f)
{
	struct msg m;
	int err =
	    base_drop_caps(&m, base_request(rm, REGION_STATE, CAP_INVALID, NULL, 0, &m));

	if (err)
		return err;
	if (m.nwords < 3)
		return -EPROTO;
	f->state = m.w[0];
	f->addr = m.w[1];
	f->kind = m.w[2];
	return 0;
}

int region_dataspace(cap_t rm, cap_t *ds)
{
	struct msg m;
	int err = base_request(rm, REGION_DATASPACE, CAP_INVALID, NULL, 0, &m);

	return err ? err : base_take_cap(&m, ds);
}
