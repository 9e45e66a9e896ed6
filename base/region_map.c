/*
 * Client calls of RM sessions and region maps (base/region_map.h): one
 * rpc_call each, word layout as in base/sessions.h.  Caps a reply carries
 * that a call does not hand out are released.
 */
#include <errno.h>
#include <base/region_map.h>
#include <base/sessions.h>
#include "platform.h"

/* Call with opcode op, cap c (may be invalid) and words w[0..n); turn the
 * reply's exception into 0 / -errno; on failure drop the reply's caps. */
static int region_call(cap_t dst, uint64_t op, cap_t c, const uint64_t *w, unsigned n,
		       struct msg *m)
{
	int err;

	msg_reset(m, op);
	if (cap_valid(c) && msg_put_cap(m, c))
		return -E2BIG;
	for (unsigned i = 0; i < n; i++)
		if (msg_put(m, w[i]))
			return -E2BIG;
	err = rpc_call(dst, m);
	if (err)
		return err;
	if (m->code == RPC_OK)
		return 0;
	if (m->code == RPC_ERROR && m->nwords && (int64_t)m->w[0] < 0 &&
	    (int64_t)m->w[0] >= -4095)
		err = (int)(int64_t)m->w[0];
	else
		err = m->code == RPC_INVALID_OPCODE   ? -ENOSYS
		      : m->code == RPC_INVALID_OBJECT ? -EBADF
						      : -EPROTO;
	for (unsigned i = 0; i < m->ncaps; i++)
		cap_release(m->caps[i]);
	m->ncaps = 0;
	return err;
}

/* Keep reply cap 0 in *out (-EPROTO if there is none), drop the rest. */
static int region_take_cap(struct msg *m, cap_t *out)
{
	cap_t c = m->ncaps ? m->caps[0] : CAP_INVALID;

	for (unsigned i = 1; i < m->ncaps; i++)
		cap_release(m->caps[i]);
	if (!cap_valid(c)) {
		cap_release(c);
		return -EPROTO;
	}
	*out = c;
	return 0;
}

static int region_no_caps(struct msg *m, int err)
{
	if (!err)
		for (unsigned i = 0; i < m->ncaps; i++)
			cap_release(m->caps[i]);
	return err;
}

int rm_create(cap_t rm_session, uint64_t size, cap_t *region_map)
{
	struct msg m;
	int err = region_call(rm_session, RM_CREATE, CAP_INVALID, &size, 1, &m);

	return err ? err : region_take_cap(&m, region_map);
}

int rm_destroy(cap_t rm_session, cap_t region_map)
{
	struct msg m;

	return region_no_caps(
	    &m, region_call(rm_session, RM_DESTROY, region_map, NULL, 0, &m));
}

int region_attach(cap_t rm, cap_t ds, uint64_t addr, uint64_t off, uint64_t size,
		  unsigned perm, uint64_t *at)
{
	uint64_t w[4] = {addr, off, size, perm};
	struct msg m;
	int err = region_no_caps(&m, region_call(rm, REGION_ATTACH, ds, w, 4, &m));

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

	return region_no_caps(&m,
			      region_call(rm, REGION_DETACH, CAP_INVALID, &addr, 1, &m));
}

int region_fault_handler(cap_t rm, cap_t context)
{
	struct msg m;

	if (!cap_valid(context))
		return -EINVAL;
	return region_no_caps(
	    &m, region_call(rm, REGION_FAULT_HANDLER, context, NULL, 0, &m));
}

int region_state(cap_t rm, struct region_fault *f)
{
	struct msg m;
	int err =
	    region_no_caps(&m, region_call(rm, REGION_STATE, CAP_INVALID, NULL, 0, &m));

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
	int err = region_call(rm, REGION_DATASPACE, CAP_INVALID, NULL, 0, &m);

	return err ? err : region_take_cap(&m, ds);
}
