/*
 * A checkpoint into an image file while the rest of the node runs on.
 *
 * What runs where:
 *   - on the monitor's entrypoint, target paused: pause, signals,
 *     registers, UTCBs, region and cap records (monitor_checkpoint), the
 *     image's records (model_to_image_records: they read the monitor's
 *     proxies, which change once the target runs);
 *   - on the host worker, target paused: the copy of its memory
 *     (monitor_checkpoint's read_memory: plain memcpys from the monitor's
 *     attachments); none for a target kept paused until its image is
 *     written (a migration's freeze, --stop, then="exit"): the writer
 *     reads its dataspaces in place (monitor_checkpoint_mode's stream);
 *   - then the target resumes (unless it is kept paused for a migration);
 *   - on the host worker, target running: the memory into the image,
 *     zero-page elision, compression, writing and fsync (write_job);
 *   - on the entrypoint again: the log lines and the answer (write_done).
 * The entrypoint waits for the worker only while the target is paused;
 * otherwise it serves the target (and the control plane's next request
 * is told it is busy) until the worker's interrupt says the file is done.
 *
 * "Paused" is the time the target's threads were stopped: from the pause
 * that held to the resume (monitor_resume), or, for a target kept
 * paused, up to the start of the write.  It goes into the image's stats
 * (paused_ns) and into the log line and answer, next to the total time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <base/host_worker.h>
#include <capsule/control.h>
#include "config/test_env.h"

#include "image/image.h"
#include "monitor/image_convert.h"
#include "monitor/checkpoint.h"
#include "monitor/dirty_pages.h"
#include "monitor/frozen_memory.h"

#define MON_PAGE	4096ULL
#define MON_SPOOL_FLUSH (64u << 10)
/* a migration's final image: some 70 KB of page differences go into
 * the FIFO in one piece once written; a bigger one (whole pages) in
 * pieces of this size, its send overlapping the rest of its write.  In
 * pieces of 16 KiB each piece woke the sending thread, which took the
 * CPU from this writer (its short slice, transport/prompt.c) on a busy
 * two-core host: the freeze's median went from 1.4 to 2.7 ms at load 15 */
#define MON_FINAL_FLUSH (256u << 10)
/* a paused target's spool image of at most this much memory: written on
 * the entrypoint (monitor_checkpoint_image_start) */
#define MON_INLINE_BYTES (16ull << 20)

/* Invariant: while mon->writing == this, the worker runs write_job on it
 * and model/im belong to the job. */
struct ckpt_write {
	struct monitor *mon;
	struct mon_model *model;
	struct image_model im;
	struct image_stats st;
	char path[4096];
	char err[4400];
	int keep_paused;
	int state;  /* MON_CKPT_STATE: no memory in the image */
	int incr;   /* an incr_request was given: incr_end when written */
	int hashed; /* hash is the written file's (write_job) */
	int delta;  /* pages as differences to the round before's */
	uint8_t hash[IMAGE_HASH_SIZE];
	struct incr_stage *stage; /* the pages copied in the pause, staged */
	struct mon_ckpt_figures fig;
	uint64_t convert_us, write_us; /* write_job's phases */
	uint64_t cpu_us;	       /* write_job's CPU time */
	uint64_t slow_us_per_mib;      /* the test build's (meter_slowed) */
	mon_ckpt_done_fn done;
	void *arg;
};

/* The test build's CAPSULE_TEST_WRITE_US_PER_MIB=N (1-100000): each
 * MiB of an image written takes N us longer, so that a client sees its
 * progress redrawn with the bytes on a host that writes 256 MiB within
 * one redraw (tests/cli/progress.sh); the image is the same. */
static void meter_slowed(void *arg, uint64_t bytes)
{
	struct ckpt_write *cw = arg;

	monitor_meter_add(cw->mon, bytes);
	usleep((useconds_t)((bytes * cw->slow_us_per_mib) >> 20));
}

static void slow_meter(struct ckpt_write *cw)
{
	const char *v = test_env("CAPSULE_TEST_WRITE_US_PER_MIB");
	long us = v ? strtol(v, NULL, 10) : 0;

	if (us <= 0 || us > 100000)
		return;
	cw->slow_us_per_mib = (uint64_t)us;
	cw->im.progress = meter_slowed;
	cw->im.progress_arg = cw;
}

static void cw_free(struct ckpt_write *cw)
{
	image_model_release(&cw->im);
	incr_stage_give(cw->mon, cw->stage);
	if (cw->model) {
		monitor_stream_detach(cw->mon, cw->model);
		model_free(cw->model);
	}
	free(cw->model);
	free(cw);
}

/* Host worker job, the target running: memory into the image, compress,
 * write, fsync. */
static int write_job(void *arg)
{
	struct ckpt_write *cw = arg;
	uint64_t t0 = mon_now_us(), c0 = mon_cpu_us();
	int rc = incr_stage_settle(cw->stage);

	if (!rc && !cw->state)
		rc = model_memory_to_image(cw->model, &cw->im);
	uint64_t total = 0;

	cw->convert_us = mon_now_us() - t0;

	for (uint32_t k = 0; !rc && k < cw->im.nmemory; k++)
		total += cw->im.memory[k].size;
	cw->im.progress = monitor_meter_add; /* the client's progress line */
	cw->im.progress_arg = cw->mon;
	slow_meter(cw);
	monitor_meter_start(cw->mon, total);
	if (rc)
		snprintf(cw->err, sizeof cw->err,
			 "image %s: cannot convert the memory: %s", cw->path,
			 strerror(-rc));
	else
		rc = image_write(cw->path, &cw->im, &cw->st, cw->err, sizeof cw->err);
	cw->write_us = mon_now_us() - t0 - cw->convert_us;
	cw->cpu_us = mon_cpu_us() - c0;
	/* the base of a next incremental image: hashed as it was written
	 * (hash_out), here and not on the node's thread; reading the file
	 * again took 7-16 ms of a migration's freeze for 2.7 MB */
	cw->hashed = !rc && cw->incr;
	image_model_release(&cw->im);
	model_free(cw->model); /* the copies: no longer needed */
	return rc;
}

/* On the entrypoint: the write has ended with rc. */
static void write_done(void *arg, int rc)
{
	struct ckpt_write *cw = arg;
	struct monitor *mon = cw->mon;

	mon->writing = NULL;
	cw->fig.total_us = mon_now_us() - cw->fig.total_us;
	cw->fig.image_bytes = rc ? 0 : cw->st.image_bytes;
	if (!rc && mon->endpoint && control_cancelled(mon->endpoint)) {
		unlink(cw->path); /* the client gave up (Ctrl-C): leave no file */
		rc = -ECANCELED;
		cw->fig.image_bytes = 0;
		env_log(mon->env, "monitor: image: %s: cancelled, removed", cw->path);
		if (cw->keep_paused && mon->state == MON_RUNNING)
			monitor_resume(mon);
	} else if (rc) {
		monitor_why(mon, "image: %s", cw->err);
		if (cw->keep_paused && mon->state == MON_RUNNING)
			monitor_resume(mon); /* it was to stay paused for its image */
	} else {
		env_log(
		    mon->env,
		    "monitor: image: %llu bytes written to %s, total %llu us, paused "
		    "%llu us, %llu bytes, %llu pages%s (convert %llu us, write and "
		    "hash %llu us, cpu %llu us)",
		    (unsigned long long)cw->st.image_bytes, cw->path,
		    (unsigned long long)cw->fig.total_us,
		    (unsigned long long)cw->fig.paused_us,
		    (unsigned long long)cw->fig.bytes, (unsigned long long)cw->fig.pages,
		    cw->delta ? ", those the round before carried as differences to it"
			      : "",
		    (unsigned long long)cw->convert_us, (unsigned long long)cw->write_us,
		    (unsigned long long)cw->cpu_us);
	}
	if (cw->incr) /* the base of the next incremental image, if written */
		incr_end(mon, cw->model, rc ? NULL : cw->path,
			 cw->hashed ? cw->hash : NULL, rc);
	if (cw->done)
		cw->done(mon, rc, &cw->fig, cw->arg);
	cw_free(cw);
}

void monitor_write_settle(struct monitor *mon)
{
	struct ckpt_write *cw = mon->writing;

	if (cw)
		write_done(cw, host_worker_wait(mon->worker));
}

/* On the entrypoint: the snapshot and the image's records; the target
 * is resumed (unless keep_paused) before this returns.  0 with *out
 * ready for write_job, or -errno (logged) with the target running. */
static int snapshot(struct monitor *mon, const char *path, int keep_paused,
		    const struct incr_request *req, struct ckpt_write **out)
{
	struct ckpt_write *cw;
	char err[600];
	int rc, live;

	if (mon->state != MON_RUNNING)
		return -ESRCH;
	if (strlen(path) >= sizeof cw->path)
		return -ENAMETOOLONG;
	monitor_write_settle(mon);
	cw = calloc(1, sizeof *cw);
	if (!cw || !(cw->model = calloc(1, sizeof *cw->model))) {
		free(cw);
		return -ENOMEM;
	}
	cw->mon = mon;
	cw->keep_paused = keep_paused & MON_CKPT_PAUSED;
	cw->state = !!(keep_paused & MON_CKPT_STATE);
	cw->incr = req != NULL;
	if (req && (rc = incr_begin(mon, req, err, sizeof err))) {
		monitor_why(mon, "checkpoint refused: %s", err);
		free(cw->model);
		free(cw);
		return rc;
	}
	snprintf(cw->path, sizeof cw->path, "%s", path);
	cw->fig.total_us = mon_now_us();
	monitor_progress(mon, "pausing %s", mon->cfg.binary);
	/* a target that stays paused until the image is written is read in
	 * place: no copy of its memory (the node needs the target's size
	 * plus the writer's buffers, not twice the target) */
	/* a migration's first round (a spool file, full, tracked from this
	 * snapshot on) is read in place too, while the target runs: a page
	 * it writes meanwhile is dirty and goes in the next round, so no
	 * buffers of its size are made and nothing is copied in the pause
	 * (256 MiB: 50-130 ms of pause, some 300 ms of buffers before it) */
	live = !cw->keep_paused && (keep_paused & MON_CKPT_SPOOL) && req && req->track &&
	       !req->parent;
	/* state only: the pause's readers read the memory in place, and
	 * nothing reads it after them */
	if ((rc = monitor_checkpoint_mode(mon, cw->model,
					  cw->keep_paused || live || cw->state))) {
		if (req)
			incr_end(mon, cw->model, NULL, NULL, rc);
		free(cw->model); /* freed by the failed checkpoint */
		free(cw);
		return rc;
	}
	uint64_t tr = mon_now_us();
	if ((rc = model_to_image_records(mon, cw->model, &cw->im))) {
		monitor_why(mon, "image: cannot convert: %s", strerror(-rc));
		if (req)
			incr_end(mon, cw->model, NULL, NULL, rc);
		monitor_resume(mon);
		cw_free(cw);
		return rc;
	}
	/* a post-copy source's freeze: its memory is read in place by the
	 * migration (frozen_memory.h), not written; its other images state
	 * only too */
	if (cw->state) {
		cw->im.flags |= IMAGE_F_PARTIAL;
		if (cw->keep_paused && (rc = frozen_mem_take(mon, cw->model))) {
			monitor_why(mon, "freeze: cannot keep its memory: %s",
				    strerror(-rc));
			monitor_resume(mon);
			cw_free(cw);
			return rc;
		}
	}
	cw->im.no_sync = !!(keep_paused & MON_CKPT_SPOOL);
	/* a migration's image goes through a FIFO to the socket as it is
	 * written: in pieces of a message, not of 1 MiB (the final image's
	 * first bytes came out 2-26 ms after the freeze began) */
	cw->im.flush_bytes = !(keep_paused & MON_CKPT_SPOOL) ? 0
			     : cw->keep_paused		     ? MON_FINAL_FLUSH
							     : MON_SPOOL_FLUSH;
	cw->im.live = live;
	/* a migration's final image: the target waits for this write */
	cw->im.no_compress = cw->keep_paused && (keep_paused & MON_CKPT_SPOOL);
	cw->im.hash_out = req ? cw->hash : NULL;
	/* an incremental image names its parent; the live views of the
	 * target's memory (read by the conversion) end before it resumes */
	if (req) {
		incr_image(mon, &cw->im);
		incr_drop_live(mon, cw->model);
		cw->stage = incr_stage_take(mon);
		/* the final image: what changed in each page the round
		 * before carried, some tens of bytes a page instead of 4 KiB
		 * (the stop's 2.7 MB of bench_migrate's final image were most
		 * of its write, send, receive and apply) */
		if (cw->im.no_compress && !cw->stage)
			cw->delta = incr_delta(mon, &cw->im);
	}
	for (unsigned i = 0; i < cw->model->nregions; i++) {
		const struct mon_model_region *r = &cw->model->region[i];
		/* incremental: present says which were written (their data
		 * is staged until the writer settles it) */
		uint64_t n = !cw->state && (r->data || r->stream || r->present)
				 ? r->size / MON_PAGE
				 : 0;
		if (r->present) /* a bit at a time was 45-80 us of the pause */
			n = incr_present_pages(r);
		cw->fig.pages += n;
	}
	cw->fig.bytes = cw->fig.pages * MON_PAGE;
	cw->fig.caps = cw->model->ncaps;
	cw->fig.threads = cw->model->nthreads;
	monitor_progress(mon, "writing %llu bytes of memory",
			 (unsigned long long)cw->fig.bytes);
	tr = mon_now_us() - tr;
	if (!cw->keep_paused && !mon->hold) {
		uint64_t t = mon_now_us();
		monitor_resume(mon);
		env_log(mon->env,
			"monitor: snapshot: image records %llu us, resume %llu us",
			(unsigned long long)tr, (unsigned long long)(mon_now_us() - t));
		cw->fig.paused_us = mon->paused_us;
	} else {
		cw->fig.paused_us = mon_now_us() - mon->paused_since_us;
	}
	cw->im.stats.paused_ns = cw->fig.paused_us * 1000;
	*out = cw;
	return 0;
}

int monitor_checkpoint_image_start(struct monitor *mon, const char *path, int keep_paused,
				   const struct incr_request *req, mon_ckpt_done_fn done,
				   void *arg)
{
	struct ckpt_write *cw;
	int rc = snapshot(mon, path, keep_paused, req, &cw);

	if (rc)
		return rc;
	cw->done = done;
	cw->arg = arg;
	/* no worker, no memory to write (MON_CKPT_STATE), or a target
	 * paused for a few MB of a migration's image (the final image, its
	 * pages mostly differences of some tens of bytes: 1 ms of CPU, no
	 * fsync): written here, answered at once; the hand-over to the
	 * worker and back took longer than that in the stop on a loaded
	 * host.  A file of its own (fsynced) still goes to the worker: the
	 * entrypoint would wait for the disk */
	if (!mon->worker || cw->state ||
	    (cw->keep_paused && cw->im.no_sync && cw->fig.bytes <= MON_INLINE_BYTES)) {
		incr_rearm_resumed(mon);
		write_done(cw, write_job(cw));
		return 0;
	}
	mon->writing = cw;
	/* a target kept paused (a migration's freeze) waits for this write,
	 * and a migration's round (a spool file) for its send: the node's
	 * priority, not the background's */
	host_worker_set_nice(mon->worker,
			     cw->keep_paused || cw->im.no_sync ? 0 : MON_WORKER_NICE);
	if ((rc = host_worker_start(mon->worker, write_job, cw, write_done, cw))) {
		mon->writing = NULL;
		snprintf(cw->err, sizeof cw->err, "image %s: no worker: %s", path,
			 strerror(-rc));
		write_done(cw, rc);
		return 0;
	}
	incr_rearm_resumed(mon); /* after the writer's start: not before it */
	return 0;
}

static void sync_done(struct monitor *mon, int rc, const struct mon_ckpt_figures *f,
		      void *arg)
{
	*(int *)arg = rc;
}

int monitor_checkpoint_image(struct monitor *mon, const char *path, int keep_paused,
			     const struct incr_request *req)
{
	int result = -EINPROGRESS;
	int rc = monitor_checkpoint_image_start(mon, path, keep_paused, req, sync_done,
						&result);

	if (rc)
		return rc;
	monitor_write_settle(mon);
	return result;
}
