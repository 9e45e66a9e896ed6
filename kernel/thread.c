/*
 * Thread objects: creation, death, faults, and how a syscall result
 * reaches a thread of either backend.
 */
#include <stdlib.h>
#include "kernel/kernel.h"

struct thread *kthread_create(struct node *n)
{
	struct thread *t = calloc(1, sizeof *t);

	if (!t)
		return NULL;
	t->state = TS_INACTIVE;
	t->deadline = UINT64_MAX;
	t->prio = KERNEL_PRIO_MAX; /* core's until core sets another */
	klist_init(&t->senders);
	klist_init(&t->send_link);
	klist_init(&t->kmsgs);
	klist_init(&t->irqs);
	klist_init(&t->timeout_link);
	klist_init(&t->ready_link);
	klist_init(&t->task_link);
	klist_add_tail(&n->threads, &t->node_link);
	kobj_init(&t->obj, n, KOBJ_THREAD);
	return t;
}

void thread_abort_partners(struct thread *t)
{
	struct node *n = t->obj.node;
	struct klist *l;

	while (!klist_empty(&t->senders)) {
		struct thread *s = klist_entry(t->senders.next, struct thread, send_link);
		ipc_complete(s, kres(KERR_ABORTED), 0, false);
	}
	for (l = n->threads.next; l != &n->threads; l = l->next) {
		struct thread *c = klist_entry(l, struct thread, node_link);

		if (c->wait == IPC_REPLY_WAIT && c->partner == t)
			ipc_complete(c, kres(KERR_ABORTED), 0, false);
	}
}

/* Stop t for good: out of every queue, partners aborted, references
 * dropped, execution context destroyed.  Keeps state for THREAD_STATE. */
static void thread_end(struct thread *t, enum thread_state final)
{
	if (t->state == TS_DEAD)
		return;
	ipc_cancel(t);
	sched_unready(t);
	t->state = final;
	thread_abort_partners(t);
	irq_unqueue_all(t);
	while (!klist_empty(&t->kmsgs)) {
		struct kmsg *m = klist_entry(t->kmsgs.next, struct kmsg, link);
		klist_del(&m->link);
		free(m);
	}
	if (t->caller) {
		kobj_put(&t->caller->obj);
		t->caller = NULL;
	}
	if (final != TS_DEAD)
		return;
	if (t->pager) {
		kobj_put(t->pager);
		t->pager = NULL;
	}
	if (t->coro) {
		coro_destroy(t->coro);
		t->coro = NULL;
	}
	if (t->vcpu) {
		vcpu_destroy(t->vcpu);
		t->vcpu = NULL;
	}
	t->utcb = NULL;
	free(t->own_utcb);
	t->own_utcb = NULL;
	if (t->task) {
		klist_del(&t->task_link);
		kobj_put(&t->task->obj);
		t->task = NULL;
	}
	klist_del(&t->node_link);
}

void thread_kill(struct thread *t)
{
	thread_end(t, TS_DEAD);
}

void thread_exit(struct thread *t)
{
	thread_end(t, TS_DEAD);
}

void thread_fault(struct thread *t, unsigned kind, uint64_t ip, uint64_t addr)
{
	struct kmsg *m;
	struct gate *g;

	if (t->state == TS_DEAD || t->state == TS_FAULTED)
		return;
	t->fault_kind = kind;
	t->fault_ip = ip;
	t->fault_addr = addr;
	/* halted, not ended: its pager may resolve the fault (a lazy page,
	 * a managed dataspace) and resume it, so the call it serves and the
	 * senders queued at it stay; they are aborted if it is killed */
	ipc_cancel(t);
	sched_unready(t);
	t->state = TS_FAULTED;
	if (!t->pager || t->pager->dead || t->pager->type != KOBJ_GATE)
		return;
	g = (struct gate *)t->pager;
	if (!g->thread || g->thread->state == TS_DEAD || g->thread->state == TS_FAULTED)
		return;
	m = calloc(1, sizeof *m);
	if (!m)
		return; /* the thread is halted either way; the report is lost */
	m->label = g->label | (t->pager_rights & LABEL_RIGHTS_MASK);
	m->words = 4;
	m->mr[0] = FAULT_MSG;
	m->mr[1] = kind;
	m->mr[2] = ip;
	m->mr[3] = addr;
	ipc_post_kmsg(g->thread, m);
}

void thread_set_result(struct thread *t, uint64_t tag, uint64_t label)
{
	if (t->vcpu) {
		vcpu_syscall_result(t->vcpu, tag, label);
		return;
	}
	t->res_tag = tag;
	t->res_label = label;
}

void thread_rewind(struct thread *t)
{
	if (t->vcpu)
		vcpu_rewind_syscall(t->vcpu);
	else
		t->reissue = true;
}
