/*
 * core as a parent: the parent object core serves to its one child,
 * init.  init asks it for core's services (for itself and, with the
 * child's label and quotas in the args, for its children); the RAM and
 * cap quota in the args are taken from init's PD and come back to it
 * when the session is closed.  PARENT_EXIT from init ends the node.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/core_internal.h"
#include "core/session_args.h"

#define PARENT_ARGS_MAX (MSG_MAX_WORDS * 8)

static struct core_session *parent_session_of(struct core_parent *p, struct msg *m)
{
	struct core_session *s =
	    m->ncaps ? core_session_find(p->core, m->caps[0], 0) : NULL;

	return s && s->owner == p ? s : NULL;
}

/* The env session `service` of the child, or NULL. */
static struct core_session *parent_env_session(struct core_parent *p, const char *service)
{
	char args[CORE_LABEL_MAX + 16];

	if (!strcmp(service, "PD"))
		return &p->pd->s;
	if (!strcmp(service, "CPU"))
		return &p->cpu->s;
	if (strcmp(service, "LOG"))
		return NULL;
	if (!p->log) {
		snprintf(args, sizeof(args), "label=\"%s\"", p->label);
		if (log_session_create(p->core, args, &p->log))
			return NULL;
	}
	return p->log;
}

static int parent_op_session(struct core_parent *p, struct msg *m, struct msg *r)
{
	char service[16], args[PARENT_ARGS_MAX];
	struct core_session *s;
	unsigned pos = 0;
	int err;

	if (msg_get_str(m, &pos, service, sizeof(service)) ||
	    msg_get_str(m, &pos, args, sizeof(args)))
		return -EINVAL;
	if (!args[0]) {
		s = parent_env_session(p, service);
		return s ? msg_put_cap(r, s->obj.cap) : -ENOENT;
	}
	err = core_session_create(p->core, service, args, p->pd, p, &s);
	if (err)
		return err;
	return msg_put_cap(r, s->obj.cap);
}

static int parent_op_upgrade(struct core_parent *p, struct msg *m)
{
	struct core_session *s = parent_session_of(p, m);
	char args[PARENT_ARGS_MAX];
	uint64_t ram, caps;
	unsigned pos = 0;

	if (!s || msg_get_str(m, &pos, args, sizeof(args)) ||
	    session_arg_u64(args, "ram_quota", 0, &ram) ||
	    session_arg_u64(args, "cap_quota", 0, &caps))
		return -EINVAL;
	return core_session_upgrade(s, p->pd, ram, caps);
}

static int parent_op(struct core_parent *p, struct msg *m, struct msg *r)
{
	struct core_session *s;

	switch (m->code) {
	case PARENT_EXIT:
		if (p->core->cfg->serve == 1) { /* capsule node: serve until stopped */
			fprintf(stderr,
				"node: all of init's children have ended (result %d); "
				"the control socket is served until SIGINT or SIGTERM\n",
				m->nwords ? (int)m->w[0] : -1);
			return 0;
		}
		kernel_stop(m->nwords ? (int)m->w[0] : -1);
		return 0;
	case PARENT_ANNOUNCE:
		return -ENOSYS; /* core's child has no siblings to serve */
	case PARENT_SESSION:
		return parent_op_session(p, m, r);
	case PARENT_CLOSE:
		s = parent_session_of(p, m);
		if (!s || (s->ops == &pd_session_ops &&
			   container_of(s, struct pd_session, s) == p->pd))
			return -EINVAL;
		core_session_close(p->core, s);
		return 0;
	case PARENT_UPGRADE:
		return parent_op_upgrade(p, m);
	}
	return -ENOSYS;
}

static void parent_dispatch(struct rpc_object *obj, struct msg *m)
{
	struct core_parent *p = container_of(obj, struct core_parent, obj);
	struct msg r;

	if (core_reply_begin(m, m->code >= PARENT_EXIT && m->code <= PARENT_UPGRADE, &r))
		core_reply_end(m, &r, parent_op(p, m, &r));
}

int core_parent_create(struct core *c, struct pd_session *pd, struct cpu_session *cpu,
		       const char *label, struct core_parent **out)
{
	struct core_parent *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->core = c;
	p->pd = pd;
	p->cpu = cpu;
	snprintf(p->label, sizeof(p->label), "%s", label);
	if (!cap_valid(ep_manage(c->env->ep, &p->obj, parent_dispatch))) {
		free(p);
		return -ENOSPC;
	}
	p->next = c->parents;
	c->parents = p;
	*out = p;
	return 0;
}
