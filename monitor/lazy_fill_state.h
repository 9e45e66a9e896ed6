/*
 * A lazy restore's fill under way (lazy_fill.c makes and runs it,
 * lazy_fill_pages.c fills the pages): per restored RAM dataspace what is
 * there, and the model's bytes or the page channel it comes from.
 */
#ifndef MONITOR_LAZY_FILL_STATE_H
#define MONITOR_LAZY_FILL_STATE_H

#include <stdint.h>

#include <base/signal.h>
#include "monitor/monitor.h"

#define LAZY_PAGE  4096ULL
#define LAZY_BLOCK 16ULL /* pages filled for one fault: 64 KiB */
#define LAZY_RUN   64ULL /* pages filled at a time in a step: 256 KiB */
/* A background step's bound.  Between steps the fill sleeps in the
 * kernel so that the target (of the monitor's priority) runs: without
 * that the monitor's entrypoint never left the CPU, since each reply
 * from core (DS_LAZY_FILLED, the next step's submit; core runs above
 * it) put it first of its priority again on a slice of its own
 * (kernel/sched.c), and the target stood still until every page was
 * there (0 faults in every post-copy and lazy restore); an idle
 * post-copy step's host sleep (usleep) stopped the whole node. */
#define LAZY_STEP_US  2000
#define LAZY_YIELD_US 1	  /* after a step that filled: the others' turn */
#define LAZY_IDLE_US  200 /* post-copy, nothing arrived, no host worker */
/* post-copy, nothing arrived: the host worker waits this long at most
 * for pages (then the step looks again: its end is bounded, and a target
 * that ends meanwhile waits no longer for the worker) */
#define LAZY_WAIT_MS 20

/* Bytes of the model that belong in [off, off + size) of the dataspace. */
struct lazy_seg {
	uint64_t off, size;
	const uint8_t *data;
};

struct lazy_ds {
	cap_t cap;
	uint64_t badge, pages, left, cursor;
	uint8_t *host; /* the monitor's attachment */
	uint64_t *done;
	unsigned nseg;
	struct lazy_seg *seg;
	int chan; /* post-copy: its index in the page channel, -1: all zero */
};

struct lazy_fill {
	struct monitor *mon;
	struct signal_handler fault_h, step_h;
	unsigned nds;
	struct lazy_ds ds[MON_MAX_REGIONS];
	struct mon_model *model; /* owned from lazy_fill_run on */
	struct page_channel *ch; /* post-copy: where the pages arrive (owned) */
	int running, no_steps;
	int attached;	  /* every dataspace attached in the monitor (host) */
	int waiting;	  /* the host worker waits for pages (wait_job) */
	uint64_t arrived; /* the channel's arrived count at the step's start */
	uint64_t t0_us, total, left, demand, faults;
	uint64_t first_us; /* the first fault, from t0_us: the target ran */
};

/* The signal handlers of the fill (lazy_fill_pages.c): a thread waits
 * for a page (fault_h), the next background step (step_h). */
void lazy_on_fault(void *arg, unsigned count);
void lazy_on_step(void *arg, unsigned count);
/* Attach in the monitor the dataspaces not attached yet: 0 or -errno. */
int lazy_attach_some(struct lazy_fill *lf);

#endif
