/*
 * Scheduler: one host thread per node, fixed priorities as in Fiasco.OC.
 * Each priority has a FIFO ready queue; the highest non-empty one runs,
 * round robin with SLICE_US slices within it.  Guest threads run in
 * slices (vcpu_run), native threads as coroutines until they trap into
 * the kernel.
 *
 * Turns, after Fiasco.OC's rule (its ready queues and sched contexts):
 * the thread of a priority picked last holds that priority's turn until
 * another of it is picked or its slice is used up.  While it holds it, a
 * thread keeps the rest of its slice when it stops: made ready again
 * (preempted by a higher priority, or woken by the reply of a higher
 * server it called: nothing of its priority ran meanwhile) it goes first
 * of its queue and runs that rest, as Fiasco leaves a blocked thread in
 * place in its ready queue.  A thread whose slice is used up, and any
 * other thread made ready, goes behind the others of its priority: a
 * woken thread never jumps ahead of peers waiting with their slices.
 * Before, a thread woken by the reply of a server of another priority
 * got a new slice first of its queue, so a thread calling core, or any
 * higher server, in a loop kept the others of its priority from running
 * at all (test_sched_turn; the lazy fill once starved a node so).
 *
 * Where Fiasco keeps the rest of a slice for a thread that goes behind
 * its peers, here it gets a new slice: each thread still runs at most
 * one slice in each round of its priority, and an event handler (a
 * ticker's: a few runs of 0.1-2 ms for each tick, calls to core among
 * them) does not find its rest used up in the middle of an event every
 * slice's worth of events, which sent it behind a busy peer for one more
 * round; the more so as time here is wall time, the node's thread's
 * preemption by the host included.
 *
 * A thread woken by IPC (a call or a reply) from the running thread of
 * its priority is run next among its priority (direct switch) on the
 * rest of its waker's slice (donation): a chain of calls and replies is
 * one slice long, then the thread it ends with goes behind the others of
 * its priority, so that two chatty threads cannot starve the rest of
 * their priority.  A chain is bounded in time, not in switches: bounded
 * to 64 switches, it broke after 32 round trips, and the counter was
 * never reset while any other thread was ready, so with two
 * client/server pairs or more every wake-up went to the back of the
 * queue and the pairs' engines took turns at every round trip, their
 * caches thrashing (the node's CPU time per round trip, against one
 * pair's: 2.4x with 16 pairs, 4.3x with 64; bench_ipc_pairs).
 *
 * Preemption: a guest run ends at the end of its slice, at the next
 * timeout's deadline and when an irq line is raised (the engine stops at
 * its next block boundary, kernel/guest/watchdog.c).  After every run and
 * every syscall, due timeouts expire and raised lines are drained here,
 * so a thread they wake that has a higher priority than the running one
 * takes the CPU at once, within the watchdog's latency of its deadline.
 * A thread a raised line wakes takes it at once from the same priority
 * too (kernel/irq_line.c): an interrupt is not left waiting for the rest
 * of a busy thread's slice.
 *
 * Under a real-time host policy (capsule --realtime) the node's thread
 * rests now and then, so that the host never throttles it for long
 * (kernel/sched_rest.c): before background work goes on, never while a
 * line is raised or what a timeout or line woke is ready, and only until
 * shortly before the next deadline.  A rest counts in the slice of the
 * thread it comes before: the slices of a priority's round then take
 * the node's time, rests included, and a thread behind N busy ones waits
 * N slices.  A rest that was nobody's slice made each slice ~1/11 longer
 * and bench_prio's bound at equal priority (one slice per busy thread)
 * was missed by that under --realtime.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <time.h>
#include "kernel/kernel.h"

#define SLICE_US 10000
/* an idle node trims the heap only if its next deadline is this far */
#define IDLE_TRIM_US 2000

static void ready_bit(struct node *n, unsigned p, bool on)
{
	if (on)
		n->ready_bits[p / 64] |= 1ULL << (p % 64);
	else
		n->ready_bits[p / 64] &= ~(1ULL << (p % 64));
}

int sched_top(const struct node *n)
{
	for (int w = (KERNEL_PRIO_MAX + 1) / 64 - 1; w >= 0; w--)
		if (n->ready_bits[w])
			return w * 64 + 63 - __builtin_clzll(n->ready_bits[w]);
	return -1;
}

/* Queue t first of its priority or last. */
static void sched_queue(struct thread *t, bool first)
{
	struct node *n = t->obj.node;

	if (first)
		klist_add_head(&n->ready[t->prio], &t->ready_link);
	else
		klist_add_tail(&n->ready[t->prio], &t->ready_link);
	ready_bit(n, t->prio, true);
}

static bool sched_holds_turn(const struct node *n, const struct thread *t)
{
	return t->turn && t->turn == n->turn[t->prio];
}

void sched_ready(struct thread *t, bool direct)
{
	struct node *n = t->obj.node;

	if (t->state != TS_READY || t->paused || t == n->current)
		return;
	sched_unready(t);
	if (direct && n->current && n->current->prio == t->prio) {
		/* runs on the rest of its waker's slice */
		t->donated_since = n->current->run_since;
		sched_queue(t, true);
	} else if (sched_holds_turn(n, t)) {
		t->donated_since = 0;
		sched_queue(t, true);
	} else {
		t->donated_since = 0;
		t->slice_used = 0; /* a new slice behind the others */
		sched_queue(t, false);
	}
}

void sched_unready(struct thread *t)
{
	struct node *n = t->obj.node;

	if (klist_empty(&t->ready_link))
		return;
	klist_del(&t->ready_link);
	if (klist_empty(&n->ready[t->prio]))
		ready_bit(n, t->prio, false);
}

struct thread *sched_pick(struct node *n)
{
	int p = sched_top(n);
	struct thread *t;

	if (p < 0)
		return NULL;
	t = klist_entry(n->ready[p].next, struct thread, ready_link);
	sched_unready(t);
	return t;
}

void sched_set_prio(struct thread *t, unsigned prio)
{
	bool queued = !klist_empty(&t->ready_link);

	if (t->prio == prio)
		return;
	sched_unready(t);
	t->prio = prio;
	if (queued)
		sched_ready(t, false);
}

/* Expire due timeouts and drain raised lines: the threads they wake
 * become ready (now: the current time).  above: the highest priority of
 * the work going on before, which the rests take as background
 * (sched_rest.c). */
static void sched_events(struct node *n, uint64_t now, int above)
{
	bool due = !klist_empty(&n->timeouts) && timeout_next(n) <= now;

	if (!n->line_pending && !due)
		return;
	sched_rest_event(&n->rest, now, above);
	if (n->line_pending)
		irq_line_drain(n);
	if (due)
		timeout_expire(n, now);
}

/*
 * Before t goes on (picked, or kept running): a rest of the node's thread
 * if it owes one and t is background work (sched_rest.c), unless a line
 * is raised or a thread above t is ready.  Returns how long it rested
 * (µs).
 */
static uint64_t sched_rest(struct node *n, struct thread *t)
{
	uint64_t now, len;

	if (!n->rest.on)
		return 0;
	now = timeout_now();
	sched_rest_ran(&n->rest, now);
	if (n->line_pending || sched_top(n) > (int)t->prio ||
	    !sched_rest_may(&n->rest, now, t->prio))
		return 0;
	if (!(len = sched_rest_due(&n->rest, now, timeout_next(n))))
		return 0;
	irq_line_wait(n, now + len);
	len = timeout_now() - now;
	sched_rest_slept(&n->rest, now, now + len);
	n->rest.count++;
	n->rest.rested_us += len;
	return len;
}

/* After a run, a syscall or a fault: may t keep running?  Not if a
 * thread of higher priority is ready (preemption), nor past its slice
 * if one of its own priority is (round robin).  A guest looping on
 * system calls never returns to sched_run's loop, so events are taken
 * here too. */
static bool sched_keep(struct node *n, struct thread *t)
{
	uint64_t now;
	int top;

	if (n->stop || t->state != TS_READY || t->paused)
		return false;
	sched_rest(n, t); /* part of t's slice (sched_slice) */
	now = timeout_now();
	top = sched_top(n);
	sched_events(n, now, top > (int)t->prio ? top : (int)t->prio);
	top = sched_top(n);
	if (top > (int)t->prio)
		return false;
	if (n->line_woke > t->prio) { /* an interrupt's thread: at once */
		n->line_woke = 0;
		return false;
	}
	if (now - t->run_since < n->slice_us)
		return true;
	if (top == (int)t->prio)
		return false; /* sched_stop gives it a new slice */
	t->run_since = now;   /* alone at its priority: a new slice */
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
	uint64_t kcap, tag, timeout, until = t->run_since + n->slice_us;

	/* stop at the end of the slice or at the next deadline, whichever
	 * comes first; sched_keep decides what runs next */
	if (timeout_next(n) < until)
		until = timeout_next(n);
	vcpu_run_until(t->vcpu, until, &n->line_pending, &trap);
	switch (trap.why) {
	case VCPU_SYSCALL:
		vcpu_syscall_args(t->vcpu, &kcap, &tag, &timeout);
		syscall_dispatch(t, kcap, tag, timeout);
		break;
	case VCPU_PREEMPTED:
		break;
	default:
		thread_fault(t, trap.fault_kind, trap.fault_ip, trap.fault_addr);
		break;
	}
}

/* t stops running (blocked, preempted, its slice over, paused): what it
 * used of its slice stays with it.  A slice used up ends t's turn, and
 * what it ran past its end is taken off the next one (at most half of
 * it).  A slice ends only after the run that reaches its end
 * stops, some 10-100 us later (the host's timer and wake-up latency, the
 * engine's next block), so without this every slice of a busy thread
 * was that much longer than SLICE_US and a thread waiting behind N of
 * them waited N overruns more than N slices (bench_prio: 1014557 us
 * behind 100 busy threads). */
static void sched_stop(struct node *n, struct thread *t)
{
	uint64_t used = timeout_now() - t->run_since;

	if (used < n->slice_us) {
		t->slice_used = used;
		return;
	}
	used -= n->slice_us;
	t->overrun = used < n->slice_us / 2 ? used : n->slice_us / 2;
	t->slice_used = 0;
	t->turn = 0;
}

/*
 * Start t's run (picked, not queued): which slice it runs on, the rest
 * of its own or, after a direct switch, the rest of its waker's.  If
 * that is used up (the end of a chain of direct switches) and another
 * thread of t's priority is ready, t goes behind it with a new slice
 * (false).  Otherwise t takes its priority's turn.
 */
static bool sched_slice(struct node *n, struct thread *t, uint64_t rested)
{
	uint64_t now = timeout_now();

	if (t->donated_since) {
		t->run_since = t->donated_since;
	} else {
		t->run_since = now - t->slice_used - t->overrun;
		t->overrun = 0; /* charged once */
	}
	t->run_since -= rested; /* a rest before it is its slice's */
	t->donated_since = 0;
	if (now - t->run_since >= n->slice_us) {
		t->run_since = now;
		t->slice_used = 0;
		if (!klist_empty(&n->ready[t->prio])) {
			t->turn = 0;
			sched_queue(t, false);
			return false;
		}
	}
	t->turn = n->turn[t->prio] = ++n->turns;
	return true;
}

/* Run t until it blocks, pauses, dies or its slice is over. */
static void sched_run_thread(struct node *n, struct thread *t, uint64_t rested)
{
	if (!sched_slice(n, t, rested))
		return;
	kobj_get(&t->obj);
	n->current = t;
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
		sched_stop(n, t);
		/* still ready and not preempted by a higher priority: its
		 * slice is over or a line's thread of its priority goes
		 * first; it goes behind the others */
		if (t->state == TS_READY && !t->paused && sched_top(n) <= (int)t->prio)
			t->turn = 0;
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
	uint64_t from = timeout_now();
	bool ok;

	/* what exited components left free in the heap goes back to the
	 * host now, unless a deadline is too near for a walk of the heap */
	if (timeout_next(n) >= from + IDLE_TRIM_US) {
		/* a task that ended may be native (init frees its children's
		 * records and the config before it exits): its heap blocks
		 * go back too, not only an engine's */
		bool task_gone = n->cap_trim_due;

		if (task_gone)
			cap_space_trim_node(n);
		vspace_trim_idle(task_gone);
		from = timeout_now();
	}
	sched_rest_ran(&n->rest, from);
	ok = irq_line_wait(n, timeout_next(n));
	sched_rest_slept(&n->rest, from, timeout_now());
	return ok;
}

/* The thread to run next, not taken off its queue; NULL if none. */
static struct thread *sched_peek(struct node *n)
{
	int p = sched_top(n);

	return p < 0 ? NULL : klist_entry(n->ready[p].next, struct thread, ready_link);
}

int sched_run(struct node *n)
{
	/* a rest taken before bg goes on, charged to its slice if it does */
	struct thread *bg = NULL;
	uint64_t rested = 0, len;

	if (!n->slice_us)
		n->slice_us = SLICE_US;
	/* an idle node sleeps until the next deadline (sched_idle): with
	 * the default 50 us timer slack the host may wake it that much later */
	prctl(PR_SET_TIMERSLACK, 1UL);
	sched_rest_init(&n->rest, sched_rest_wanted(), timeout_now());
	while (!n->stop) {
		struct thread *t;

		sched_events(n, timeout_now(), sched_top(n));
		kobj_reap(n);
		n->line_woke = 0; /* what a line woke is first of its queue */
		if ((t = sched_peek(n)) && (len = sched_rest(n, t))) {
			rested = (t == bg ? rested : 0) + len;
			bg = t;
			continue; /* events of the rest first */
		}
		t = sched_pick(n);
		if (!t) {
			bg = NULL; /* its rest is nobody's slice now */
			if (sched_idle(n))
				continue;
			fprintf(stderr,
				"kernel: deadlock: no thread can run and no timeout is "
				"pending (%u threads blocked)\n",
				sched_count_blocked(n));
			return -1;
		}
		sched_run_thread(n, t, t == bg ? rested : 0);
		bg = NULL;
		rested = 0;
	}
	return n->stop_code;
}
