/* Sessions at init's own parent (core). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "init/init.h"

int init_session_parent(struct init *in, const char *service, const char *args,
			cap_t *out)
{
	int rc = parent_session(in->env->parent, service, args, out);

	if (!rc && !cap_valid(*out))
		rc = -EPROTO;
	return rc;
}

void init_session_close_parent(struct init *in, cap_t session)
{
	struct msg m;

	if (!cap_valid(session))
		return;
	msg_reset(&m, PARENT_CLOSE);
	msg_put_cap(&m, session);
	rpc_call(in->env->parent, &m);
}

int init_call(cap_t dst, struct msg *m, uint64_t timeout_us)
{
	struct utcb *u = sys_utcb();
	uint64_t tag, label, first;

	if (!cap_valid(dst))
		return -EINVAL;
	/* u->br[0] still names this thread's receive window: libbase sets it
	 * before every receive of the entrypoint thread init runs on */
	tag = msg_to_utcb(u, m, cap_badge(dst));
	tag = sys_invoke(cap_kcap(dst), tag | TAG(SYS_OP_CALL, 0, 0, 0), timeout_us,
			 &label);
	if (TAG_ERROR(tag))
		return kerr_to_errno(TAG_ERROR(tag));
	return msg_from_utcb(u, tag, m, &first) ? -EPROTO : 0;
}
