/* Placeholder until the timer lands: Timer sessions are refused. */
#include <errno.h>
#include "core/core_internal.h"

int timer_session_create(struct core *c, const char *args, struct core_session **out)
{
	return -ENOSYS;
}

void timer_session_destroy(struct core *c, struct core_session *s)
{
}
