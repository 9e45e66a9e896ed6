/*
 * A migration's first round written into the copy's dataspaces on two
 * threads (monitor/restore_prebuild.c): the host worker fills about half
 * of the bytes, the entrypoint the rest, at once.  The fill is mostly
 * the first touch of fresh memory and copying 256 MiB (0.4 s of CPU), a
 * step no one else waits for but the migration's total time: with two
 * threads it takes half of it on an idle host, and on a loaded one each
 * thread gets its own share of the CPUs (round 1 of the 256 MiB
 * bench_wset was built in 2.1 s for 0.42 s of CPU at load 9 on two
 * cores).  Each dataspace is written by one thread from the image's
 * mapping, which both only read (image_memory_fill; the file's pages it
 * drops are read again if the other thread still needs them).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <base/host_worker.h>

#include "monitor/restore_prebuild.h"

struct fill_part {
	const struct image_model *im;
	const struct prebuild_fill *ds;
	unsigned from, to; /* the dataspaces [from, to) of the list */
	char err[400];
};

/* Host worker job (or the entrypoint): image_memory_fill of the part. */
static int fill_part_run(void *arg)
{
	struct fill_part *p = arg;
	uint64_t n;
	int rc = 0;

	for (unsigned i = p->from; i < p->to && !rc; i++)
		rc = image_memory_fill(p->im, p->ds[i].id, p->ds[i].dst, p->ds[i].size,
				       &n, p->err, sizeof p->err);
	return rc;
}

int prebuild_fill_all(struct host_worker *w, const struct image_model *im,
		      const struct prebuild_fill *ds, unsigned n, char *err,
		      size_t errlen)
{
	struct fill_part here = {.im = im, .ds = ds, .from = 0, .to = n},
			 there = {.im = im, .ds = ds, .from = n, .to = n};
	uint64_t total = 0, tail = 0;
	int rc, rc2 = 0, started = 0;

	for (unsigned i = 0; i < n; i++)
		total += ds[i].size;
	/* the worker takes the last dataspaces, up to half of the bytes */
	while (there.from > 1 && 2 * (tail + ds[there.from - 1].size) <= total)
		tail += ds[--there.from].size;
	if (w && there.from < n && !host_worker_busy(w)) {
		host_worker_set_nice(w, 0); /* the migration waits for it */
		started = !host_worker_start(w, fill_part_run, &there, NULL, NULL);
	}
	here.to = started ? there.from : n;
	rc = fill_part_run(&here);
	if (started)
		rc2 = host_worker_wait(w);
	if (rc)
		snprintf(err, errlen, "%s", here.err[0] ? here.err : strerror(-rc));
	else if (rc2)
		snprintf(err, errlen, "%s", there.err[0] ? there.err : strerror(-rc2));
	return rc ? rc : rc2;
}
