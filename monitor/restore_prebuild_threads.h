/*
 * The threads of a migration's paused copy, made while the rounds
 * arrive (restore_prebuild_threads.c): created, never started, at the
 * numbers and UTCBs of the round's image; taken by the restore of the
 * final image when it has the same threads.
 */
#ifndef MONITOR_RESTORE_PREBUILD_THREADS_H
#define MONITOR_RESTORE_PREBUILD_THREADS_H

#include "image/image.h"
#include "monitor/limits.h"
#include "monitor/monitor.h"

struct pre_thread {
	uint64_t nr, utcb, badge; /* badge: of its kernel thread */
	char name[32];
	cap_t obj, kthread;
	int taken; /* the restore owns it */
};

struct pre_threads {
	unsigned n, nfill;
	struct pre_thread t[MON_MAX_THREADS];
	cap_t fill[MON_MAX_THREADS]; /* made only to reach a number */
};

/* Does pt hold exactly im's threads (number, UTCB, name)?  1 or 0. */
int pre_threads_fit(const struct pre_threads *pt, const struct image_model *im);
/* Make im's threads in the copy's sessions, unless pt holds them (the
 * others ended first); the number made into *n.  0, or -errno with
 * none left. */
int pre_threads_make(struct pre_threads *pt, cap_t cpu, cap_t pd,
		     const struct image_model *im, unsigned *n);
/* End (kill and release) those not taken.  cpu: the session they are
 * in, or CAP_INVALID if it is closed already. */
void pre_threads_end(struct pre_threads *pt, cap_t cpu);
/* Hand thread nr (with that UTCB and name) over: 0, or -ENOENT. */
int pre_threads_take(struct pre_threads *pt, uint64_t nr, uint64_t utcb, const char *name,
		     cap_t *obj, cap_t *kthread, uint64_t *badge);
/* Hand the number-filling threads over (up to room): how many. */
unsigned pre_threads_take_fill(struct pre_threads *pt, cap_t *fill, unsigned room);

#endif
