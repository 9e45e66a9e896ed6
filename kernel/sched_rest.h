/* Rests of a real-time node's thread (kernel/sched_rest.c). */
#ifndef KERNEL_SCHED_REST_H
#define KERNEL_SCHED_REST_H

#include <stdbool.h>
#include <stdint.h>

/* Per 1 us the node's thread runs, it owes 1 / REST_RATIO us of rest. */
#define REST_RATIO     10
#define REST_MIN_US    300  /* no rest shorter than this */
#define REST_MAX_US    1000 /* nor longer */
#define REST_OWED_MAX  2000 /* what it can owe at most (us) */
#define REST_MARGIN_US 1000 /* a rest ends this long before the next deadline */
/* what a timeout or line woke is not delayed by a rest for this long */
#define REST_EVENT_US 2000

/*
 * on: the node's thread runs under a real-time policy (else it never
 * rests); since: the time (us) up to which its running is accounted;
 * owed: the rest it owes (us); event_at: when a timeout or raised line
 * last woke threads, above: the highest priority of the work going on
 * before (-1: none).  count and rested_us: the rests taken and their
 * length, for tests and benchmarks.
 */
struct sched_rest {
	bool on;
	uint64_t since;
	uint64_t owed;
	uint64_t event_at;
	int above;
	uint64_t count;
	uint64_t rested_us;
};

/* Start accounting at now; on as above. */
void sched_rest_init(struct sched_rest *r, bool on, uint64_t now);
/* The thread ran from r->since until now: it owes for that. */
void sched_rest_ran(struct sched_rest *r, uint64_t now);
/* The thread was off the CPU from `from` until `to` (a rest, or idle with
 * nothing to run): that pays what it owes. */
void sched_rest_slept(struct sched_rest *r, uint64_t from, uint64_t to);
/* A timeout or a raised line wakes threads at now; above as above. */
void sched_rest_event(struct sched_rest *r, uint64_t now, int above);
/* May the node's thread rest before a thread of priority prio goes on,
 * nothing above prio being ready?  Yes if that is background work: at or
 * below what ran before the last event, or REST_EVENT_US after it. */
bool sched_rest_may(const struct sched_rest *r, uint64_t now, int prio);
/* How long (us) to rest at now, the next deadline being `next`
 * (UINT64_MAX: none): 0 for no rest. */
uint64_t sched_rest_due(const struct sched_rest *r, uint64_t now, uint64_t next);
/* Whether the calling host thread runs under SCHED_RR or SCHED_FIFO. */
bool sched_rest_wanted(void);

#endif
