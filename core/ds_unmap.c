/*
 * A dataspace's host memory given back off the node's thread.
 *
 * munmap of populated memory costs the calling thread about 0.1 ms per
 * MiB (17-23 ms for 256 MiB on a quiet two-core host): when a large
 * component ended after its migration, every other component of the
 * node stood still that long (bench_neighbour: a 10 ms timer 27-39 ms
 * late, on a node that was otherwise never 2 ms late).  Memory from
 * DS_UNMAP_AWAY bytes on is handed to one host thread of core's that
 * unmaps it; smaller is unmapped at once, and so is any when the thread
 * cannot be started or the queue's entry not allocated (as before).  The
 * memory is not written to on its way (a lazy or tracked dataspace's
 * pages may still be protected).
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include "core/core_internal.h"

#define DS_UNMAP_AWAY  (4ULL << 20)
#define UNMAPPER_STACK (64 * 1024)
#define UNMAP_PIECE    (2ULL << 20)

struct pending {
	struct pending *next;
	void *host;
	uint64_t size;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t more = PTHREAD_COND_INITIALIZER;
static struct pending *queue;

static void *unmapper(void *arg)
{
	(void)arg;
	for (;;) {
		struct pending *p;

		pthread_mutex_lock(&lock);
		while (!queue)
			pthread_cond_wait(&more, &lock);
		p = queue;
		queue = p->next;
		pthread_mutex_unlock(&lock);
		/* a piece at a time: munmap holds the process's memory map
		 * lock, which the node's thread needs for its own mmap,
		 * munmap and page faults (one of 256 MiB made each wait
		 * 1-1.5 ms, 8 ms in all, at a migrated target's end) */
		for (uint64_t off = 0; off < p->size; off += UNMAP_PIECE)
			munmap((char *)p->host + off,
			       p->size - off < UNMAP_PIECE ? p->size - off : UNMAP_PIECE);
		free(p);
	}
	return NULL;
}

/* The unmapper, once (pthread_once): running, or not if it cannot be
 * started.  It takes no signal: they stay with the node's own threads. */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int running;

static void unmapper_start(void)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t t;

	if (pthread_attr_init(&attr))
		return;
	pthread_attr_setstacksize(&attr, UNMAPPER_STACK);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	running = !pthread_create(&t, &attr, unmapper, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
}

void ds_host_free(void *host, uint64_t size)
{
	struct pending *p = NULL;

	if (size >= DS_UNMAP_AWAY) {
		pthread_once(&once, unmapper_start);
		if (running)
			p = malloc(sizeof *p);
	}
	if (!p) {
		munmap(host, size);
		return;
	}
	p->host = host;
	p->size = size;
	pthread_mutex_lock(&lock);
	p->next = queue;
	queue = p;
	pthread_cond_signal(&more);
	pthread_mutex_unlock(&lock);
}
