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
	if (cap_valid(session))
		parent_close(in->env->parent, session);
}
