/*
 * IRQ session: args `line=N` (and the usual label): an Irq kernel object
 * bound to external line N with IRQ_LINE (only core, the root task, may
 * bind lines), handed to the client with IRQ_SESSION_IRQ.  The client
 * binds it to one of its threads (ep_irq_handler) and receives a trigger
 * per kernel_line_raise(N) — the interrupt of a device outside the node
 * (the control socket).  One session per line; closing the session
 * destroys the Irq, which revokes it in the client and frees the line.
 * Like core's other non-PD sessions it consumes no quota.
 */
#include <errno.h>
#include <stdlib.h>
#include "core/core_internal.h"
#include "core/session_args.h"

/* Invariant: irq is a live Irq bound to `line`, on core's session list
 * while obj is managed. */
struct irq_session {
	struct core_session s;
	cap_t irq;
	uint64_t line;
};

static void irq_session_dispatch(struct rpc_object *obj, struct msg *m)
{
	struct irq_session *is = container_of(obj, struct irq_session, s.obj);

	if (m->code != IRQ_SESSION_IRQ) {
		msg_reset(m, RPC_INVALID_OPCODE);
		return;
	}
	core_reply_ok(m);
	msg_put_cap(m, is->irq);
}

static int irq_line_taken(struct core *c, uint64_t line)
{
	for (struct core_session *s = c->sessions; s; s = s->next)
		if (s->ops == &irq_session_ops &&
		    container_of(s, struct irq_session, s)->line == line)
			return 1;
	return 0;
}

int irq_session_create(struct core *c, const char *args, struct core_session **out)
{
	char label[CORE_LABEL_MAX] = "";
	struct irq_session *is;
	uint64_t line, badge;
	int err;

	if (session_arg_u64(args, "line", UINT64_MAX, &line) || line == UINT64_MAX)
		return -EINVAL;
	if (irq_line_taken(c, line))
		return -EBUSY;
	session_arg_str(args, "label", label, sizeof(label));
	is = calloc(1, sizeof(*is));
	badge = core_badge(c);
	if (!is || !badge) {
		free(is);
		return is ? -ENOSPC : -ENOMEM;
	}
	is->line = line;
	err = kobj_create(FACTORY_IRQ, badge, 0, badge, &is->irq);
	if (err)
		goto err_free;
	uint64_t w[2] = {IRQ_LINE, line};
	err = kobj_invoke(cap_kcap(is->irq), PROTO_IRQ, w, 2, NULL, 0);
	if (err)
		goto err_irq;
	if (!cap_valid(ep_manage(c->env->ep, &is->s.obj, irq_session_dispatch))) {
		err = -ENOSPC;
		goto err_irq;
	}
	core_session_add(c, &is->s, &irq_session_ops, label);
	*out = &is->s;
	return 0;
err_irq:
	kobj_destroy(is->irq);
err_free:
	free(is);
	return err;
}

void irq_session_destroy(struct core *c, struct core_session *s)
{
	struct irq_session *is = container_of(s, struct irq_session, s);

	core_session_remove(c, s);
	ep_dissolve(c->env->ep, &s->obj);
	kobj_destroy(is->irq);
	free(is);
}

cap_t irq_session_irq(struct core_session *s)
{
	return container_of(s, struct irq_session, s)->irq;
}

static int irq_ops_create(struct core *c, const char *args, struct pd_session *donor,
			  struct core_session **out)
{
	return irq_session_create(c, args, out);
}

static void irq_ops_forget(struct core_session *s)
{
	free(container_of(s, struct irq_session, s));
}

const struct core_session_ops irq_session_ops = {
    .name = "IRQ",
    .create = irq_ops_create,
    .close = irq_session_destroy,
    .forget = irq_ops_forget,
};
