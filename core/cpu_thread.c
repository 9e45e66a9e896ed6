/*
 * CPU threads: a kernel thread bound to a PD's task at a thread-area
 * number, with a UTCB (a RAM page of the PD for a guest, kernel-owned for
 * a native PD), a pager gate to core's fault thread, and its cap mapped
 * into the PD at KCAP_THREAD(nr, THREAD_SLOT_GATE).  Core keeps the
 * kernel thread in its own cap map under the "thread badge": when the
 * component passes its thread cap back (PD_ALLOC_RPC_CAP), libbase's
 * insert_map in core resolves it to that entry.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "core/core_internal.h"

static void cpu_thread_dispatch(struct rpc_object *obj, struct msg *m)
{
	/* a handle only: CPU ops go to the CPU session naming it */
	msg_reset(m, RPC_INVALID_OPCODE);
}

static int thread_nr_alloc(struct pd_session *pd, uint64_t *nr)
{
	for (uint64_t i = 0; i < THREAD_AREA_THREADS; i++) {
		if (!pd->thread_used[i]) {
			pd->thread_used[i] = 1;
			*nr = i;
			return 0;
		}
	}
	return -ENOSPC;
}

/* Guest PDs: a RAM page of the PD attached at the thread's UTCB slot. */
static int thread_utcb_alloc(struct cpu_thread *t)
{
	struct pd_session *pd = t->pd;
	uint64_t at;
	int err;

	if (pd->native)
		return 0; /* the kernel allocates it; the thread finds it itself */
	err = pd_alloc_ds(pd, GUEST_UTCB_SIZE, &t->utcb_ds);
	if (err)
		return err;
	t->utcb_ds->pinned = 1; /* the client gets its cap, core keeps the pointer */
	err = pd_attach_ds(pd, t->utcb_ds, GUEST_UTCB_AREA + t->nr * GUEST_UTCB_SIZE, 0,
			   GUEST_UTCB_SIZE, MEM_R | MEM_W, &at);
	if (err) {
		pd_free_ds(pd, t->utcb_ds);
		t->utcb_ds = NULL;
		return err;
	}
	t->utcb = at;
	return 0;
}

static void thread_utcb_free(struct cpu_thread *t)
{
	if (!t->utcb_ds)
		return;
	pd_detach_addr(t->pd, t->utcb);
	pd_free_ds(t->pd, t->utcb_ds);
	t->utcb_ds = NULL;
}

/* Create the kernel thread and its pager gate, bind, map into the PD. */
static int thread_kernel_setup(struct core *c, struct cpu_thread *t)
{
	uint64_t tb = core_badge(c), pb = core_badge(c);
	int err;

	if (!tb || !pb)
		return -ENOSPC;
	err = kobj_create(FACTORY_THREAD, 0, 0, tb, &t->thread);
	if (err)
		return err;
	err = kobj_create(FACTORY_GATE, cap_kcap(c->fault_thread), pb, pb, &t->pager);
	if (err)
		goto err_thread;
	uint64_t w[5] = {THREAD_CONTROL, cap_kcap(t->pd->task), t->utcb,
			 cap_kcap(t->pager), t->nr};
	uint64_t sched[2] = {THREAD_SCHED, t->cpu->kprio};
	err = kobj_invoke(cap_kcap(t->thread), PROTO_THREAD, w, 5, NULL, 0);
	if (!err)
		err = kobj_invoke(cap_kcap(t->thread), PROTO_THREAD, sched, 2, NULL, 0);
	if (err)
		goto err_pager;
	err = kobj_map(t->pd->task, t->thread, KCAP_THREAD(t->nr, THREAD_SLOT_GATE),
		       RIGHTS_ALL);
	if (err)
		goto err_pager;
	return 0;
err_pager:
	kobj_destroy(t->pager);
err_thread:
	kobj_destroy(t->thread);
	return err;
}

/*
 * The thread's own irq (docs/design.md "Threads and entrypoints"): bound
 * to the thread and mapped at KCAP_THREAD(nr, THREAD_SLOT_IRQ), where
 * libbase's blockade waits on it in a closed wait.  Its label has bit 63
 * set and low bits 10, so an entrypoint's open wait that gets a stray
 * trigger ignores it (ep irq labels end in 01).
 */
#define CPU_THREAD_IRQ_LABEL(nr) ((1ULL << 63) | ((uint64_t)(nr) << 2) | 2)

static int thread_irq_setup(struct core *c, struct cpu_thread *t)
{
	uint64_t badge = core_badge(c), label = CPU_THREAD_IRQ_LABEL(t->nr);
	int err;

	if (!badge)
		return -ENOSPC;
	err = kobj_create(FACTORY_IRQ, label, 0, badge, &t->irq);
	if (err)
		return err;
	uint64_t w[3] = {IRQ_BIND, cap_kcap(t->thread), label};
	err = kobj_invoke(cap_kcap(t->irq), PROTO_IRQ, w, 3, NULL, 0);
	if (!err)
		err = kobj_map(t->pd->task, t->irq, KCAP_THREAD(t->nr, THREAD_SLOT_IRQ),
			       RIGHTS_ALL);
	if (err) {
		kobj_destroy(t->irq);
		t->irq = CAP_INVALID;
	}
	return err;
}

/* caps charged per thread: the kernel thread and its irq */
#define CPU_THREAD_CAPS 2

int cpu_thread_create(struct cpu_session *cpu, struct pd_session *pd, const char *name,
		      struct cpu_thread **out)
{
	struct core *c = cpu->core;
	struct cpu_thread *t = calloc(1, sizeof(*t));
	int err = t ? pd_charge_caps(pd, CPU_THREAD_CAPS) : -ENOMEM;

	if (err)
		goto err_free;
	t->cpu = cpu;
	t->pd = pd;
	strncpy(t->name, name, sizeof(t->name) - 1);
	err = thread_nr_alloc(pd, &t->nr);
	if (err)
		goto err_quota;
	err = thread_utcb_alloc(t);
	if (err)
		goto err_nr;
	err = thread_kernel_setup(c, t);
	if (err)
		goto err_utcb;
	err = thread_irq_setup(c, t);
	if (err)
		goto err_kernel;
	if (!cap_valid(ep_manage(c->env->ep, &t->obj, cpu_thread_dispatch))) {
		err = -ENOSPC;
		goto err_kernel;
	}
	t->next = cpu->threads;
	cpu->threads = t;
	*out = t;
	return 0;
err_kernel:
	kobj_destroy(t->irq);
	kobj_destroy(t->pager);
	kobj_destroy(t->thread);
err_utcb:
	thread_utcb_free(t);
err_nr:
	pd->thread_used[t->nr] = 0;
err_quota:
	pd_uncharge_caps(pd, CPU_THREAD_CAPS);
err_free:
	free(t);
	return err;
}

void cpu_thread_destroy(struct cpu_thread *t)
{
	struct cpu_session *cpu = t->cpu;

	for (struct cpu_thread **pp = &cpu->threads; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	ep_dissolve(cpu->core->env->ep, &t->obj);
	/* revoking core's thread cap kills the kernel thread everywhere */
	kobj_destroy(t->irq);
	kobj_destroy(t->thread);
	kobj_destroy(t->pager);
	thread_utcb_free(t);
	t->pd->thread_used[t->nr] = 0;
	pd_uncharge_caps(t->pd, CPU_THREAD_CAPS);
	free(t);
}

void cpu_threads_of_pd_destroy(struct core *c, struct pd_session *pd)
{
	for (struct core_session *s = c->sessions; s; s = s->next) {
		struct cpu_session *cpu;
		if (s->ops != &cpu_session_ops)
			continue;
		cpu = container_of(s, struct cpu_session, s);
		for (struct cpu_thread *t = cpu->threads, *n; t; t = n) {
			n = t->next;
			if (t->pd == pd)
				cpu_thread_destroy(t);
		}
	}
}

/* Runs on the fault thread: uses no libbase call (cap_badge only reads
 * the entry). */
uint64_t cpu_thread_fault(struct core *c, uint64_t label, unsigned kind, uint64_t ip,
			  uint64_t addr)
{
	uint64_t badge = label & ~(uint64_t)LABEL_RIGHTS_MASK;

	for (struct core_session *s = c->sessions; s; s = s->next) {
		struct cpu_session *cpu;
		if (s->ops != &cpu_session_ops)
			continue;
		cpu = container_of(s, struct cpu_session, s);
		for (struct cpu_thread *t = cpu->threads; t; t = t->next) {
			if (cap_badge(t->pager) != badge)
				continue;
			t->fault_kind = kind;
			t->fault_ip = ip;
			t->fault_addr = addr;
			return cpu->exc_irq_kcap;
		}
	}
	return KCAP_INVALID;
}
