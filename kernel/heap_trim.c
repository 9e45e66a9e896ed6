/*
 * Give the heap's free pages back to the host once components have
 * ended.  malloc_trim returns the whole free pages of the arenas, but
 * not the blocks a thread's tcache keeps (glibc: up to 7 of each size up
 * to 1 KiB) for its next malloc: freed where an exited component's
 * blocks were, each pins a page, 730 kB after 100 counters had exited
 * (40 kB with the tcache off).  heap_trim empties the calling thread's
 * tcache first: it takes those blocks out with malloc and has a thread
 * of its own free them, whose tcache goes back to the arenas when it
 * ends.
 */
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include "kernel/backend.h"

#define TCACHE_BINS  64 /* sizes 32 .. 1040 a block, 16 apart */
#define TCACHE_COUNT 7
#define HEAP_HELD    (TCACHE_BINS * TCACHE_COUNT)
#define HELPER_STACK (64 * 1024)

static void *heap_free_held(void *arg)
{
	void **p = arg;

	for (unsigned i = 0; i < HEAP_HELD; i++)
		free(p[i]);
	return NULL;
}

/* Free p's blocks on a thread that then ends: 0, or -1 if none could be
 * started (signals stay with the node's own threads). */
static int heap_free_elsewhere(void **p)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t t;
	int rc;

	if (pthread_attr_init(&attr))
		return -1;
	pthread_attr_setstacksize(&attr, HELPER_STACK);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&t, &attr, heap_free_held, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (rc)
		return -1;
	pthread_join(t, NULL);
	return 0;
}

void heap_trim(void)
{
	/* more than the tcache takes, so it comes from the arena */
	void **p = malloc(HEAP_HELD * sizeof *p);

	if (p) {
		/* a block of 24 + 16 b bytes is one of tcache bin b: the
		 * first TCACHE_COUNT of each size come out of the tcache */
		for (unsigned b = 0, k = 0; b < TCACHE_BINS; b++)
			for (unsigned i = 0; i < TCACHE_COUNT; i++)
				p[k++] = malloc(24 + 16 * (size_t)b);
		if (heap_free_elsewhere(p))
			heap_free_held(p); /* back into our tcache: nothing won */
		free(p);
	}
	malloc_trim(0);
}
