#define _GNU_SOURCE
/*
 * External irq lines: how a device outside the node (a host thread: the
 * control socket, later a network card) interrupts it.
 *
 * Line numbers are a process-wide name space (the control registry gives
 * each endpoint of the process its own line), so the binding table
 * line_irq is process-wide: it says which node's Irq a line is bound to,
 * and a line is bound in one node at most.  Everything else is the
 * node's: kernel_line_raise() sets the line's bit in the bound node's
 * pending mask and wakes that node's scheduler through the node's
 * eventfd; the scheduler drains its own mask at every loop iteration and
 * triggers the Irq bound to each raised line (IRQ_LINE, root task only);
 * a thread a trigger makes ready runs next, before the rest of a running
 * thread's slice at its priority (line_woke).
 * Several nodes in one process therefore neither take each other's
 * raises nor each other's wake-ups.
 *
 * line_lock guards line_irq and keeps a raiser off a node's eventfd while
 * the node unbinds its lines (which it does before it closes the fd).
 * The scheduler's hot path reads only its node's atomic pending mask.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include "kernel/kernel.h"

/* Invariant: irq != NULL iff node != NULL; then the line's bit is set in
 * node->line_bound and node->line_efd is open.  The table holds no
 * reference (irq_kill unbinds through irq_line_forget). */
static struct {
	struct node *node;
	struct irq *irq;
} line_irq[KERNEL_LINES];
static pthread_mutex_t line_lock = PTHREAD_MUTEX_INITIALIZER;

int kernel_line_raise(unsigned line)
{
	uint64_t one = 1, bit;
	struct node *n;
	int rc = 0;

	if (line >= KERNEL_LINES)
		return -EINVAL;
	bit = 1ULL << line;
	pthread_mutex_lock(&line_lock);
	n = line_irq[line].node;
	if (!n) {
		rc = -ENODEV;
	} else {
		atomic_fetch_or(&n->line_pending, bit);
		if (write(n->line_efd, &one, sizeof one) < 0 && errno != EAGAIN)
			rc = -errno;
	}
	pthread_mutex_unlock(&line_lock);
	return rc;
}

/* Under line_lock. */
static void line_unbind(unsigned line)
{
	struct node *n = line_irq[line].node;
	uint64_t bit = 1ULL << line;

	line_irq[line].irq = NULL;
	line_irq[line].node = NULL;
	n->line_bound &= ~bit;
	atomic_fetch_and(&n->line_pending, ~bit);
}

unsigned irq_line_bind(struct thread *caller, struct irq *q, uint64_t line)
{
	struct node *n = q->obj.node;
	unsigned rc = KERR_OK;

	if (caller->task != n->root)
		return KERR_PERM;
	if (line >= KERNEL_LINES)
		return KERR_RANGE;
	if (n->line_efd < 0) {
		int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (fd < 0)
			return KERR_NOMEM;
		n->line_efd = fd;
	}
	pthread_mutex_lock(&line_lock);
	if (line_irq[line].irq == q)
		goto out;
	if (line_irq[line].irq) {
		rc = KERR_BUSY;
		goto out;
	}
	for (unsigned i = 0; i < KERNEL_LINES; i++) /* an irq serves one line at most */
		if (line_irq[i].irq == q)
			line_unbind(i);
	line_irq[line].irq = q;
	line_irq[line].node = n;
	n->line_bound |= 1ULL << line;
out:
	pthread_mutex_unlock(&line_lock);
	return rc;
}

void irq_line_forget(struct irq *q)
{
	if (!q->obj.node->line_bound)
		return; /* the common case: no lock taken */
	pthread_mutex_lock(&line_lock);
	for (unsigned i = 0; i < KERNEL_LINES; i++)
		if (line_irq[i].irq == q)
			line_unbind(i);
	pthread_mutex_unlock(&line_lock);
}

void irq_line_node_end(struct node *n)
{
	pthread_mutex_lock(&line_lock);
	for (unsigned i = 0; i < KERNEL_LINES; i++)
		if (line_irq[i].node == n)
			line_unbind(i);
	pthread_mutex_unlock(&line_lock);
	if (n->line_efd >= 0)
		close(n->line_efd);
	n->line_efd = -1;
}

/* A line's trigger made t ready: an interrupt is served at once, so t
 * goes first among its priority and the scheduler lets it take the CPU
 * from a running thread of the same priority too (sched_keep), not only
 * at the end of that thread's slice: a host worker's completion or a
 * control request waits for no 10 ms slice of a busy guest. */
static void line_woke(struct node *n, struct thread *t)
{
	if (!t || t->state != TS_READY || klist_empty(&t->ready_link))
		return;
	klist_del(&t->ready_link);
	klist_add_head(&n->ready[t->prio], &t->ready_link);
	if (t->prio + 1 > n->line_woke)
		n->line_woke = t->prio + 1;
}

void irq_line_drain(struct node *n)
{
	uint64_t raised = atomic_exchange(&n->line_pending, 0);
	struct irq *irq[KERNEL_LINES];
	unsigned nirq = 0;

	/* only n's scheduler thread binds and unbinds n's lines, so the irqs
	 * found here live on while they are triggered outside the lock */
	pthread_mutex_lock(&line_lock);
	while (raised) {
		unsigned i = (unsigned)__builtin_ctzll(raised);

		raised &= raised - 1;
		if (line_irq[i].node == n && line_irq[i].irq)
			irq[nirq++] = line_irq[i].irq;
	}
	pthread_mutex_unlock(&line_lock);
	for (unsigned i = 0; i < nirq; i++) {
		irq_trigger(irq[i]);
		line_woke(n, irq[i]->thread);
	}
}

bool irq_line_wait(struct node *n, uint64_t deadline)
{
	struct pollfd p = {.fd = n->line_efd, .events = POLLIN};
	struct timespec ts, *tsp = NULL;
	uint64_t buf;

	if (!n->line_bound) {
		if (deadline == UINT64_MAX)
			return false;
		ts.tv_sec = (time_t)(deadline / 1000000u);
		ts.tv_nsec = (long)(deadline % 1000000u) * 1000;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
		       EINTR)
			;
		return true;
	}
	if (atomic_load(&n->line_pending))
		return true;
	if (deadline != UINT64_MAX) {
		uint64_t now = timeout_now(), d = deadline > now ? deadline - now : 0;
		ts.tv_sec = (time_t)(d / 1000000u);
		ts.tv_nsec = (long)(d % 1000000u) * 1000;
		tsp = &ts;
	}
	if (ppoll(&p, 1, tsp, NULL) > 0)
		while (read(n->line_efd, &buf, sizeof buf) > 0)
			;
	return true;
}
