/*
 * The threads of a migration's paused copy (restore_prebuild.c), made
 * while the rounds arrive: each round's image names the target's
 * threads (number, UTCB address, name); the copy's CPU session gets
 * them, created and never started, at their old numbers in ascending
 * order (with threads made only to reach a number the target had freed,
 * as restore.c makes them), with their kernel-thread caps.  A round
 * whose threads are the ones made keeps them; one with other threads
 * ends them all and makes its own.  The restore of the final image then
 * takes them (restore.c asks prebuild_take_thread) and only writes
 * their UTCBs and registers in the stop; if the final image has other
 * threads, they are ended before that restore, which makes its own.
 * Nothing of this runs before the commit starts the threads.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "monitor/checkpoint.h"
#include "monitor/restore_prebuild_threads.h"

static void kill_thread(cap_t cpu, cap_t thread)
{
	struct msg m;

	msg_reset(&m, CPU_KILL);
	msg_put_cap(&m, thread);
	rpc_call(cpu, &m);
}

/* The name a restore gives the thread (mon_model_thread's). */
static void name_of(const struct image_thread *it, char *out, size_t n)
{
	snprintf(out, n, "%.*s", (int)sizeof it->name, it->name);
}

void pre_threads_end(struct pre_threads *pt, cap_t cpu)
{
	for (unsigned i = 0; i < pt->n; i++) {
		if (pt->t[i].taken)
			continue;
		if (cpu.idx && pt->t[i].obj.idx)
			kill_thread(cpu, pt->t[i].obj);
		if (pt->t[i].obj.idx)
			cap_release(pt->t[i].obj);
		if (pt->t[i].kthread.idx)
			cap_release(pt->t[i].kthread);
	}
	for (unsigned i = 0; i < pt->nfill; i++) {
		if (cpu.idx)
			kill_thread(cpu, pt->fill[i]);
		cap_release(pt->fill[i]);
	}
	memset(pt, 0, sizeof *pt);
}

static const struct pre_thread *made(const struct pre_threads *pt, uint64_t nr)
{
	for (unsigned i = 0; i < pt->n; i++)
		if (pt->t[i].nr == nr)
			return &pt->t[i];
	return NULL;
}

int pre_threads_fit(const struct pre_threads *pt, const struct image_model *im)
{
	char name[32];

	if (!pt->n || pt->n != im->nthreads)
		return 0;
	for (uint32_t i = 0; i < im->nthreads; i++) {
		const struct pre_thread *t = made(pt, im->threads[i].nr);
		name_of(&im->threads[i], name, sizeof name);
		if (!t || t->utcb != im->threads[i].utcb_addr || strcmp(t->name, name))
			return 0;
	}
	return 1;
}

/* The next thread of im in ascending number, after those done. */
static const struct image_thread *next_of(const struct image_model *im, uint64_t after,
					  int first)
{
	const struct image_thread *best = NULL;

	for (uint32_t i = 0; i < im->nthreads; i++) {
		const struct image_thread *it = &im->threads[i];
		if ((first || it->nr > after) && (!best || it->nr < best->nr))
			best = it;
	}
	return best;
}

/* One thread at its number (threads for the freed numbers below it
 * into pt->fill).  0 or -errno. */
static int make_one(struct pre_threads *pt, cap_t cpu, cap_t pd,
		    const struct image_thread *it)
{
	struct pre_thread *t = &pt->t[pt->n];
	uint64_t nr, utcb, badge;
	cap_t obj;
	int rc;

	*t = (struct pre_thread){.nr = it->nr};
	name_of(it, t->name, sizeof t->name);
	for (;;) {
		if ((rc = cpu_create_thread(cpu, pd, t->name[0] ? t->name : "restored",
					    &obj, &nr, &utcb, &badge)))
			return rc;
		if (nr == it->nr)
			break;
		if (nr > it->nr || pt->nfill == MON_MAX_THREADS) {
			kill_thread(cpu, obj);
			cap_release(obj);
			return -EADDRINUSE;
		}
		pt->fill[pt->nfill++] = obj;
	}
	t->obj = obj;
	t->utcb = utcb;
	t->badge = badge;
	pt->n++;
	if (utcb != it->utcb_addr)
		return -EADDRINUSE;
	return cpu_thread_cap(cpu, obj, CPU_KERNEL_THREAD, &t->kthread);
}

int pre_threads_make(struct pre_threads *pt, cap_t cpu, cap_t pd,
		     const struct image_model *im, unsigned *n)
{
	const struct image_thread *it = NULL;
	int rc;

	*n = 0;
	if (pre_threads_fit(pt, im))
		return 0;
	pre_threads_end(pt, cpu);
	if (im->nthreads > MON_MAX_THREADS)
		return -ENOSPC;
	for (uint32_t k = 0; k < im->nthreads; k++) {
		it = next_of(im, it ? it->nr : 0, !it);
		if ((rc = make_one(pt, cpu, pd, it))) {
			pre_threads_end(pt, cpu);
			return rc;
		}
	}
	*n = pt->n;
	return 0;
}

int pre_threads_take(struct pre_threads *pt, uint64_t nr, uint64_t utcb, const char *name,
		     cap_t *obj, cap_t *kthread, uint64_t *badge)
{
	for (unsigned i = 0; i < pt->n; i++) {
		struct pre_thread *t = &pt->t[i];
		if (t->taken || t->nr != nr || t->utcb != utcb || strcmp(t->name, name))
			continue;
		*obj = t->obj;
		*kthread = t->kthread;
		*badge = t->badge;
		t->taken = 1;
		return 0;
	}
	return -ENOENT;
}

unsigned pre_threads_take_fill(struct pre_threads *pt, cap_t *fill, unsigned room)
{
	unsigned n = 0;

	while (pt->nfill && n < room)
		fill[n++] = pt->fill[--pt->nfill];
	return n;
}
