/*
 * A task's engine closed off the node's thread.
 *
 * When a task ends, what is left of its address space is its engine: the
 * TLB its guest grew, its translation buffer, its memory regions, the
 * fault-locating probe engine.  uc_close of the engine of a 256 MiB target
 * after its migration took 0.5-5.6 ms of the node's thread, and the heap
 * trim after it 0.5 ms more (perf of the source node in bench_neighbour),
 * while every other component of the node waited.  vspace_destroy takes
 * the engine off everything the node's thread still reaches (the
 * watchdog's list, the record of shared code) and hands it here: one host
 * thread of the kernel closes the engines in the order they came.  An
 * engine handed over is never run again: its task has no thread left and
 * nothing of the node holds the vspace.
 *
 * At most CLOSE_QUEUE_MAX engines wait: beyond that (a guest opening and
 * closing PD sessions faster than they can be closed) the caller closes
 * its own, as it does when the thread cannot be started or the queue's
 * entry not allocated, so the engines waiting never pile up.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include "kernel/guest/guest.h"

#define CLOSE_QUEUE_MAX 16
#define CLOSER_STACK	(256 * 1024)

struct closing {
	struct closing *next;
	struct vspace *vs;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t more = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;
/* under lock: the queue (oldest first), its length, an engine being
 * closed, and the counts (vspace_close_counts) */
static struct closing *head, **tail = &head;
static unsigned queued;
static bool busy;
static uint64_t closed_away, closed_here;

static void *closer(void *arg)
{
	(void)arg;
	for (;;) {
		struct closing *c;

		pthread_mutex_lock(&lock);
		while (!head)
			pthread_cond_wait(&more, &lock);
		c = head;
		head = c->next;
		if (!head)
			tail = &head;
		queued--;
		busy = true;
		pthread_mutex_unlock(&lock);
		vspace_free(c->vs);
		free(c);
		pthread_mutex_lock(&lock);
		closed_away++;
		busy = false;
		pthread_cond_broadcast(&done);
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

/* The closer, once: running, or not if it cannot be started.  It takes
 * no signal: the run timer's and the node's stay with the node's
 * threads. */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool running;

static void closer_start(void)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t t;

	if (pthread_attr_init(&attr))
		return;
	pthread_attr_setstacksize(&attr, CLOSER_STACK);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	running = !pthread_create(&t, &attr, closer, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
}

void vspace_close_away(struct vspace *vs)
{
	struct closing *c = NULL;

	pthread_once(&once, closer_start);
	pthread_mutex_lock(&lock);
	if (running && queued < CLOSE_QUEUE_MAX && (c = malloc(sizeof *c))) {
		c->vs = vs;
		c->next = NULL;
		*tail = c;
		tail = &c->next;
		queued++;
		pthread_cond_signal(&more);
	}
	pthread_mutex_unlock(&lock);
	if (c)
		return;
	vspace_free(vs);
	pthread_mutex_lock(&lock);
	closed_here++;
	pthread_mutex_unlock(&lock);
}

void vspace_close_wait(void)
{
	pthread_mutex_lock(&lock);
	while (head || busy)
		pthread_cond_wait(&done, &lock);
	pthread_mutex_unlock(&lock);
}

void vspace_close_counts(uint64_t *away, uint64_t *here)
{
	pthread_mutex_lock(&lock);
	*away = closed_away;
	*here = closed_here;
	pthread_mutex_unlock(&lock);
}
