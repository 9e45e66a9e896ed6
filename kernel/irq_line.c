#define _GNU_SOURCE
/*
 * External irq lines: how a device outside the node (a host thread: the
 * control socket, later a network card) interrupts it.
 *
 * A line is a bit in a process-wide pending mask.  kernel_line_raise()
 * sets the bit from any host thread and wakes the scheduler through an
 * eventfd; the scheduler drains the mask at every loop iteration and
 * triggers the Irq object bound to each raised line (IRQ_LINE, root task
 * only).  The binding table is touched only by the scheduler thread of
 * the node that made it; raisers read the atomic `bound` mask only.
 * Lines are a process-wide resource: one node at a time binds them.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include "kernel/kernel.h"

_Atomic uint64_t irq_line_pending;
static _Atomic uint64_t line_bound;

/* Invariant: irq != NULL iff the line's bit is set in line_bound; the
 * table holds no reference (irq_kill unbinds through irq_line_forget). */
static struct {
	struct node *node;
	struct irq *irq;
} line_irq[KERNEL_LINES];

static pthread_once_t line_once = PTHREAD_ONCE_INIT;
static int line_efd = -1; /* lives as long as the process */

static void line_init(void)
{
	line_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

int kernel_line_raise(unsigned line)
{
	uint64_t one = 1, bit;

	if (line >= KERNEL_LINES)
		return -EINVAL;
	bit = 1ULL << line;
	if (!(atomic_load(&line_bound) & bit))
		return -ENODEV;
	pthread_once(&line_once, line_init);
	if (line_efd < 0)
		return -ENOMEM;
	atomic_fetch_or(&irq_line_pending, bit);
	if (write(line_efd, &one, sizeof one) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

static void line_unbind(unsigned line)
{
	uint64_t bit = 1ULL << line;

	line_irq[line].irq = NULL;
	line_irq[line].node = NULL;
	atomic_fetch_and(&line_bound, ~bit);
	atomic_fetch_and(&irq_line_pending, ~bit);
}

unsigned irq_line_bind(struct thread *caller, struct irq *q, uint64_t line)
{
	struct node *n = q->obj.node;

	if (caller->task != n->root)
		return KERR_PERM;
	if (line >= KERNEL_LINES)
		return KERR_RANGE;
	if (line_irq[line].irq == q)
		return KERR_OK;
	if (line_irq[line].irq)
		return KERR_BUSY;
	pthread_once(&line_once, line_init);
	if (line_efd < 0)
		return KERR_NOMEM;
	irq_line_forget(q); /* an irq serves one line at most */
	line_irq[line].irq = q;
	line_irq[line].node = n;
	atomic_fetch_or(&line_bound, 1ULL << line);
	return KERR_OK;
}

void irq_line_forget(struct irq *q)
{
	for (unsigned i = 0; i < KERNEL_LINES; i++)
		if (line_irq[i].irq == q)
			line_unbind(i);
}

void irq_line_drain(struct node *n)
{
	uint64_t raised = atomic_exchange(&irq_line_pending, 0);

	while (raised) {
		unsigned i = (unsigned)__builtin_ctzll(raised);

		raised &= raised - 1;
		if (line_irq[i].node == n && line_irq[i].irq)
			irq_trigger(line_irq[i].irq);
	}
}

static bool line_any_bound(struct node *n)
{
	for (unsigned i = 0; i < KERNEL_LINES; i++)
		if (line_irq[i].node == n)
			return true;
	return false;
}

bool irq_line_wait(struct node *n, uint64_t deadline)
{
	struct pollfd p = {.fd = line_efd, .events = POLLIN};
	struct timespec ts, *tsp = NULL;
	uint64_t buf;

	if (!line_any_bound(n)) {
		if (deadline == UINT64_MAX)
			return false;
		ts.tv_sec = (time_t)(deadline / 1000000u);
		ts.tv_nsec = (long)(deadline % 1000000u) * 1000;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
		       EINTR)
			;
		return true;
	}
	if (atomic_load(&irq_line_pending))
		return true;
	if (deadline != UINT64_MAX) {
		uint64_t now = timeout_now(), d = deadline > now ? deadline - now : 0;
		ts.tv_sec = (time_t)(d / 1000000u);
		ts.tv_nsec = (long)(d % 1000000u) * 1000;
		tsp = &ts;
	}
	if (ppoll(&p, 1, tsp, NULL) > 0)
		while (read(line_efd, &buf, sizeof buf) > 0)
			;
	return true;
}
