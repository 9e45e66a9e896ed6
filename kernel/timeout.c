/*
 * Timeouts: blocked threads with a finite deadline, in a list sorted by
 * deadline (a node has tens of threads, so a sorted list is enough).
 */
#include <time.h>
#include "kernel/kernel.h"

uint64_t timeout_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t timeout_now_coarse(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void timeout_arm(struct thread *t, uint64_t deadline)
{
	struct klist *head = &t->obj.node->timeouts, *l;

	timeout_disarm(t);
	t->deadline = deadline;
	if (deadline == UINT64_MAX)
		return;
	/* from the back: new deadlines tend to be the latest */
	for (l = head->prev; l != head; l = l->prev)
		if (klist_entry(l, struct thread, timeout_link)->deadline <= deadline)
			break;
	klist_insert(l, &t->timeout_link);
}

void timeout_disarm(struct thread *t)
{
	klist_del(&t->timeout_link);
	t->deadline = UINT64_MAX;
}

void timeout_expire(struct node *n, uint64_t now)
{
	while (!klist_empty(&n->timeouts)) {
		struct thread *t =
		    klist_entry(n->timeouts.next, struct thread, timeout_link);

		if (t->deadline > now)
			break;
		ipc_complete(t, kres(KERR_TIMEOUT), 0, false);
	}
}

uint64_t timeout_next(struct node *n)
{
	if (klist_empty(&n->timeouts))
		return UINT64_MAX;
	return klist_entry(n->timeouts.next, struct thread, timeout_link)->deadline;
}
