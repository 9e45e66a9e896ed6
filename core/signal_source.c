/* Placeholder until signals land: every signal op is refused. */
#include <errno.h>
#include "core/core_internal.h"

int signal_pd_op(struct pd_session *pd, const struct msg *m, struct msg *r)
{
	return -ENOSYS;
}
