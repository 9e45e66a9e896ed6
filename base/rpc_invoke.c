/*
 * Client side of an RPC with the exception convention of core and init:
 * the reply's code turned into 0 / -errno, and the reply's caps kept only
 * where a call hands them out.  Used by every client stub of libbase.
 */
#include <errno.h>
#include "platform.h"

/* Release every cap of the reply; m->ncaps = 0. */
static void rpc_release_caps(struct msg *m)
{
	for (unsigned i = 0; i < m->ncaps; i++)
		cap_release(m->caps[i]);
	m->ncaps = 0;
}

int rpc_invoke(cap_t dst, struct msg *m)
{
	int64_t w0;
	int err = rpc_call(dst, m);

	if (err)
		return err;
	switch (m->code) {
	case RPC_OK:
		return 0;
	case RPC_ERROR:
		w0 = m->nwords ? (int64_t)m->w[0] : 0;
		err = w0 < 0 && w0 >= -4095 ? (int)w0 : -EIO;
		break;
	case RPC_INVALID_OBJECT:
		err = -EBADF;
		break;
	case RPC_INVALID_OPCODE:
		err = -ENOSYS;
		break;
	default:
		err = -EPROTO;
		break;
	}
	rpc_release_caps(m);
	return err;
}

int base_request(cap_t dst, uint64_t op, cap_t c, const uint64_t *w, unsigned n,
		 struct msg *m)
{
	msg_reset(m, op);
	if (cap_valid(c) && msg_put_cap(m, c))
		return -E2BIG;
	for (unsigned i = 0; i < n; i++)
		if (msg_put(m, w[i]))
			return -E2BIG;
	return rpc_invoke(dst, m);
}

int base_take_cap(struct msg *m, cap_t *out)
{
	cap_t c = m->ncaps ? m->caps[0] : CAP_INVALID;

	for (unsigned i = 1; i < m->ncaps; i++)
		cap_release(m->caps[i]);
	m->ncaps = 0;
	if (!cap_valid(c)) {
		cap_release(c);
		return -EPROTO;
	}
	*out = c;
	return 0;
}

int base_drop_caps(struct msg *m, int err)
{
	if (!err)
		rpc_release_caps(m);
	return err;
}
