/*
 * Scheduler: one host thread per node, a FIFO ready queue.  Guest threads
 * run in time slices (vcpu_run), native threads as coroutines until they
 * trap into the kernel.  A thread woken by IPC while its partner blocks is
 * run next (direct switch), a bounded number of times in a row so that
 * two chatty threads cannot starve the rest.
 */
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include "kernel/kernel.h"

#define SLICE_US   10000
#define DIRECT_MAX 64

void sched_ready(struct thread *t, bool direct)
{
	struct node *n = t->obj.node;

	if (t->state != TS_READY || t->paused || t == n->current)
		return;
	klist_del(&t->ready_link);
	if (direct && n->direct_run < DIRECT_MAX) {
		n->direct_run++;
		klist_add_head(&n->ready, &t->ready_link);
	} else {
		klist_add_tail(&n->ready, &t->ready_link);
	}
}

void sched_unready(struct thread *t)
{
	klist_del(&t->ready_link);
}

/* After a syscall or fault: may t keep running?  Not past its slice if
 * another thread is ready or a timeout is due: a guest looping on system
 * calls never returns to sched_run's loop, which is where timeouts expire
 * and where the threads they wake get their turn. */
static bool sched_keep(struct node *n, struct thread *t)
{
	uint64_t now;

	if (n->stop || t->state != TS_READY || t->paused || n->line_pending)
		return false;
	now = timeout_now_coarse();
	if (now - t->run_since < n->slice_us)
		return true;
	if (!klist_empty(&n->ready) || timeout_next(n) <= now) {
		n->direct_run = 0;
		return false;
	}
	return true;
}

/* Run a native thread until it traps and handle the trap. */
static void sched_run_native(struct node *n, struct thread *t)
{
	if (t->reissue) {
		t->reissue = false;
	} else {
		t->req_pending = false;
		if (coro_resume(t->coro)) {
			thread_exit(t);
			return;
		}
		if (!t->req_pending)
			return; /* kernel_stop() */
	}
	syscall_dispatch(t, t->req_kcap, t->req_tag, t->req_timeout);
}

static void sched_run_guest(struct node *n, struct thread *t)
{
	struct vcpu_trap trap = {0};
	uint64_t kcap, tag, timeout;

	vcpu_run(t->vcpu, n->slice_us, &trap);
	switch (trap.why) {
	case VCPU_SYSCALL:
		vcpu_syscall_args(t->vcpu, &kcap, &tag, &timeout);
		syscall_dispatch(t, kcap, tag, timeout);
		break;
	case VCPU_PREEMPTED:
		n->direct_run = 0;
		n->current = NULL;
		sched_ready(t, false);
		break;
	default:
		thread_fault(t, trap.fault_kind, trap.fault_ip, trap.fault_addr);
		break;
	}
}

/* Run t until it blocks, pauses, dies or its slice is over. */
static void sched_run_thread(struct node *n, struct thread *t)
{
	kobj_get(&t->obj);
	n->current = t;
	t->run_since = timeout_now_coarse();
	for (;;) {
		if (t->coro || t->reissue)
			sched_run_native(n, t);
		else if (t->vcpu)
			sched_run_guest(n, t);
		else
			thread_fault(t, FAULT_OTHER, 0, 0); /* nothing to run */
		kobj_reap(n);
		if (n->current != t || !sched_keep(n, t))
			break;
	}
	if (n->current == t) {
		n->current = NULL;
		sched_ready(t, false);
	}
	kobj_put(&t->obj);
}

static unsigned sched_count_blocked(struct node *n)
{
	unsigned c = 0;

	for (struct klist *l = n->threads.next; l != &n->threads; l = l->next)
		c += klist_entry(l, struct thread, node_link)->state == TS_BLOCKED;
	return c;
}

/* Nothing ready: sleep until the next deadline or a raised line.  false
 * if there is neither a deadline nor a bound line. */
static bool sched_idle(struct node *n)
{
	return irq_line_wait(n, timeout_next(n));
}

int sched_run(struct node *n)
{
	if (!n->slice_us)
		n->slice_us = SLICE_US;
	while (!n->stop) {
		struct thread *t;

		if (n->line_pending)
			irq_line_drain(n);
		if (!klist_empty(&n->timeouts))
			timeout_expire(n, timeout_now());
		kobj_reap(n);
		if (klist_empty(&n->ready)) {
			n->direct_run = 0;
			if (sched_idle(n))
				continue;
			fprintf(stderr,
				"kernel: deadlock: no thread can run and no timeout is "
				"pending (%u threads blocked)\n",
				sched_count_blocked(n));
			return -1;
		}
		t = klist_entry(n->ready.next, struct thread, ready_link);
		klist_del(&t->ready_link);
		if (klist_empty(&n->ready))
			n->direct_run = 0;
		sched_run_thread(n, t);
	}
	return n->stop_code;
}
