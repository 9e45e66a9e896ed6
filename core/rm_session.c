/* Placeholder until region maps land: RM sessions are refused. */
#include <errno.h>
#include "core/core_internal.h"

int rm_pd_op(struct pd_session *pd, const struct msg *m, struct msg *r)
{
	return -ENOSYS;
}

int rm_session_create(struct core *c, const char *args, struct core_session **out)
{
	return -ENOSYS;
}

void rm_session_destroy(struct core *c, struct core_session *s)
{
}
