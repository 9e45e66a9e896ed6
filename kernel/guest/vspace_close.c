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
 * thread of the kernel, started when the first comes and ending when
 * none came for 100 ms, closes the engines in the order they came.  An
 * engine handed over is never run again: its task has no thread left and
 * nothing of the node holds the vspace.
 *
 * At most CLOSE_QUEUE_MAX engines wait: beyond that (a guest opening and
 * closing PD sessions faster than they can be closed) the caller closes
 * its own, as it does when the thread cannot be started or the queue's
 * entry not allocated, so the engines waiting never pile up.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include "kernel/guest/guest.h"

#define CLOSE_QUEUE_MAX 16
#define CLOSER_STACK	(256 * 1024)
#define LINGER_NS	100000000L /* 100 ms */

struct closing {
	struct closing *next;
	struct vspace *vs;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;
static pthread_cond_t more; /* on CLOCK_MONOTONIC (closer_start) */
/* under lock: the queue (oldest first), its length, whether a closer
 * thread runs (it looks at the queue again before it ends), and the
 * counts (vspace_close_counts) */
static struct closing *head, **tail = &head;
static unsigned queued;
static bool closer_on;
static uint64_t closed_away, closed_here;

/* Close what is queued; end after LINGER_NS without any more: the blocks
 * of the engines that the thread's tcache keeps go back to the heap as
 * it ends (a thread that stayed kept 250-290 kB of them after 32
 * counters had ended, which the node's idle trim, kernel/heap_trim.c,
 * cannot reach), and a batch of tasks ending one after the other is
 * closed by one thread (one after each made the node keep 2.2 MB more
 * after 100 counters had ended: threads started while the last one was
 * still ending each took a malloc arena of their own). */
static void *closer(void *arg)
{
	struct timespec until;

	(void)arg;
	pthread_mutex_lock(&lock);
	for (;;) {
		struct closing *c = head;

		if (!c) {
			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_nsec += LINGER_NS;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			while (!head &&
			       pthread_cond_timedwait(&more, &lock, &until) != ETIMEDOUT)
				;
			if (!head)
				break;
			continue;
		}
		head = c->next;
		if (!head)
			tail = &head;
		queued--;
		pthread_mutex_unlock(&lock);
		vspace_free(c->vs);
		free(c);
		pthread_mutex_lock(&lock);
		closed_away++;
		pthread_cond_broadcast(&done);
	}
	closer_on = false;
	pthread_cond_broadcast(&done);
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* A closer thread (detached, no signals: they stay with the node's own
 * threads).  0 or -1. */
static pthread_once_t more_once = PTHREAD_ONCE_INIT;

static void more_init(void)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&more, &a);
	pthread_condattr_destroy(&a);
}

static int closer_start(void)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t t;
	int rc;

	pthread_once(&more_once, more_init);
	if (pthread_attr_init(&attr))
		return -1;
	pthread_attr_setstacksize(&attr, CLOSER_STACK);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&t, &attr, closer, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return rc ? -1 : 0;
}

void vspace_close_away(struct vspace *vs)
{
	struct closing *c = NULL;

	pthread_mutex_lock(&lock);
	if (queued < CLOSE_QUEUE_MAX && (c = malloc(sizeof *c))) {
		c->vs = vs;
		c->next = NULL;
		*tail = c;
		tail = &c->next;
		queued++;
		if (closer_on)
			pthread_cond_signal(&more);
		else if (!closer_start())
			closer_on = true;
		if (!closer_on) {
			/* no closer ran, so the queue held only c */
			head = NULL;
			tail = &head;
			queued = 0;
			free(c);
			c = NULL;
		}
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
	while (head || closer_on)
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
