/*
 * CPU session: creates threads in a PD session of this core and controls
 * them (start, pause, resume, registers, state, kill).  Faults of its
 * threads are recorded by core's fault thread and signalled through the
 * session's exception irq (CPU_EXCEPTION_IRQ), if the client asked for
 * one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "core/core_internal.h"
#include "core/session_args.h"

static struct cpu_thread *cpu_thread_find(struct cpu_session *cpu, struct msg *m)
{
	uint64_t badge;

	if (!m->ncaps || !cap_valid(m->caps[0]))
		return NULL;
	badge = cap_badge(m->caps[0]);
	for (struct cpu_thread *t = cpu->threads; t; t = t->next)
		if (t->obj.badge == badge)
			return t;
	return NULL;
}

static int thread_call(struct cpu_thread *t, const uint64_t *w, unsigned n, uint64_t *out,
		       unsigned nout)
{
	return kobj_invoke(cap_kcap(t->thread), PROTO_THREAD, w, n, out, nout);
}

static int cpu_op_create(struct cpu_session *cpu, struct msg *m, struct msg *r)
{
	struct core *c = cpu->core;
	struct pd_session *pd = m->ncaps ? pd_session_from_cap(c, m->caps[0]) : NULL;
	struct cpu_thread *t;
	char name[32] = "";
	unsigned pos = 0;
	int err;

	if (!pd)
		return -EINVAL;
	if (m->nwords && msg_get_str(m, &pos, name, sizeof(name)))
		return -EINVAL;
	err = cpu_thread_create(cpu, pd, name, &t);
	if (err)
		return err;
	msg_put_cap(r, t->obj.cap);
	msg_put(r, t->nr);
	msg_put(r, t->utcb);
	msg_put(r, cap_badge(t->thread));
	return 0;
}

static int cpu_op_regs(struct cpu_thread *t, struct msg *m, struct msg *r)
{
	uint64_t w[1 + CPU_REGS_WORDS];
	int err;

	if (m->code == CPU_GET_REGS) {
		w[0] = THREAD_GET_REGS;
		err = thread_call(t, w, 1, w, CPU_REGS_WORDS);
		for (unsigned i = 0; !err && i < CPU_REGS_WORDS; i++)
			msg_put(r, w[i]);
		return err;
	}
	if (m->nwords < CPU_REGS_WORDS)
		return -EINVAL;
	w[0] = THREAD_SET_REGS;
	memcpy(&w[1], m->w, CPU_REGS_WORDS * sizeof(uint64_t));
	return thread_call(t, w, 1 + CPU_REGS_WORDS, NULL, 0);
}

static int cpu_op_irq(struct cpu_session *cpu, struct msg *r)
{
	uint64_t badge;
	int err;

	if (!cap_valid(cpu->exc_irq)) {
		badge = core_badge(cpu->core);
		if (!badge)
			return -ENOSPC;
		err = kobj_create(FACTORY_IRQ, badge, 0, badge, &cpu->exc_irq);
		if (err)
			return err;
		cpu->exc_irq_kcap = cap_kcap(cpu->exc_irq);
	}
	return msg_put_cap(r, cpu->exc_irq);
}

static int cpu_op(struct cpu_session *cpu, struct msg *m, struct msg *r)
{
	struct cpu_thread *t;
	uint64_t w[4];
	int err;

	if (m->code == CPU_CREATE_THREAD)
		return cpu_op_create(cpu, m, r);
	if (m->code == CPU_EXCEPTION_IRQ)
		return cpu_op_irq(cpu, r);
	t = cpu_thread_find(cpu, m);
	if (!t)
		return -EINVAL;
	switch (m->code) {
	case CPU_START:
		if (m->nwords < 2)
			return -EINVAL;
		w[0] = THREAD_EX_REGS, w[1] = m->w[0], w[2] = m->w[1];
		err = thread_call(t, w, 3, NULL, 0);
		t->started |= !err;
		return err;
	case CPU_PAUSE:
	case CPU_RESUME:
		w[0] = m->code == CPU_PAUSE ? THREAD_PAUSE : THREAD_RESUME;
		return thread_call(t, w, 1, NULL, 0);
	case CPU_GET_REGS:
	case CPU_SET_REGS:
		return cpu_op_regs(t, m, r);
	case CPU_STATE:
		w[0] = THREAD_STATE;
		err = thread_call(t, w, 1, w, 4);
		if (err)
			return err;
		msg_put(r, w[0]); /* state */
		msg_put(r, w[3]); /* fault kind */
		msg_put(r, w[1]); /* fault ip */
		msg_put(r, w[2]); /* fault address */
		return 0;
	case CPU_KILL:
		cpu_thread_destroy(t);
		return 0;
	case CPU_UTCB_DATASPACE: /* the thread's state includes its UTCB */
		if (!t->utcb_ds)
			return -ENOENT; /* a native thread has no UTCB page */
		return msg_put_cap(r, t->utcb_ds->obj.cap);
	case CPU_KERNEL_THREAD: /* the "Ipc_server" cap (seed 003) */
		return msg_put_cap(r, t->thread);
	}
	return -ENOSYS;
}

static void cpu_dispatch(struct rpc_object *obj, struct msg *m)
{
	struct cpu_session *cpu = container_of(obj, struct cpu_session, s.obj);
	struct msg r;

	if (core_reply_begin(
		m, m->code >= CPU_CREATE_THREAD && m->code <= CPU_KERNEL_THREAD, &r))
		core_reply_end(m, &r, cpu_op(cpu, m, &r));
}

unsigned cpu_session_kernel_prio(uint64_t prio)
{
	if (prio >= CPU_PRIORITY_LIMIT)
		prio = CPU_PRIORITY_LIMIT - 1;
	return (unsigned)(KERNEL_PRIO_MAX - 1 -
			  prio * KERNEL_PRIO_MAX / CPU_PRIORITY_LIMIT);
}

/* args' "priority" is already narrowed by every parent on the way (init
 * puts its child's band into the high bits), so core only maps it. */
int cpu_session_create(struct core *c, const char *args, struct cpu_session **out)
{
	struct cpu_session *cpu;
	char label[CORE_LABEL_MAX] = "";
	uint64_t prio;

	if (session_arg_u64(args, "priority", 0, &prio) || prio >= CPU_PRIORITY_LIMIT)
		return -EINVAL;
	cpu = calloc(1, sizeof(*cpu));
	if (!cpu)
		return -ENOMEM;
	session_arg_str(args, "label", label, sizeof(label));
	cpu->kprio = cpu_session_kernel_prio(prio);
	cpu->core = c;
	cpu->exc_irq_kcap = KCAP_INVALID;
	if (!cap_valid(ep_manage(c->env->ep, &cpu->s.obj, cpu_dispatch))) {
		free(cpu);
		return -ENOSPC;
	}
	core_session_add(c, &cpu->s, &cpu_session_ops, label);
	*out = cpu;
	return 0;
}

void cpu_session_destroy(struct cpu_session *cpu)
{
	struct core *c = cpu->core;

	while (cpu->threads)
		cpu_thread_destroy(cpu->threads);
	if (cpu->exc_irq.idx)
		kobj_destroy(cpu->exc_irq);
	cpu->exc_irq_kcap = KCAP_INVALID;
	core_session_remove(c, &cpu->s);
	ep_dissolve(c->env->ep, &cpu->s.obj);
	free(cpu);
}

/* ---- the session type ---- */

static int cpu_ops_create(struct core *c, const char *args, struct pd_session *donor,
			  struct core_session **out)
{
	struct cpu_session *cpu;
	int err = cpu_session_create(c, args, &cpu);

	if (!err)
		*out = &cpu->s;
	return err;
}

static void cpu_ops_close(struct core *c, struct core_session *s)
{
	cpu_session_destroy(container_of(s, struct cpu_session, s));
}

static void cpu_ops_forget(struct core_session *s)
{
	struct cpu_session *cpu = container_of(s, struct cpu_session, s);

	for (struct cpu_thread *t = cpu->threads, *n; t; t = n) {
		n = t->next;
		free(t);
	}
	free(cpu);
}

const struct core_session_ops cpu_session_ops = {
    .name = "CPU",
    .create = cpu_ops_create,
    .close = cpu_ops_close,
    .forget = cpu_ops_forget,
};
