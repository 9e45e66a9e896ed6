/*
 * A migration's first round built while it arrives (restore_prebuild.c,
 * docs/migration-performance.md "What a round costs"): the destination's listener
 * hands the monitor a FIFO next to the round's spool file
 * (round-1.img.pipe) as soon as the file has its first bytes, and writes
 * a byte into it each time it wrote more of the file
 * (tools/migrate_prebuild.c), instead of handing over the file once all
 * of it is in.  The monitor reads the file as it grows, and at its end
 * waits on the FIFO; the FIFO's end is the file's.  The image's records come before its
 * memory, so the copy's PD, CPU session and dataspaces are made once the records are
 * read, and each chunk of pages is then written straight into its dataspace as it comes:
 * the build takes about as long as the receive, not as long again after it (a 256 MiB
 * round 1 was received in 1.4 s and then built in 3 s at load 9).
 *
 * The reads wait for the sender, so they run on the host worker, never
 * on the entrypoint (the node's thread): the entrypoint blocks in
 * host_worker_wait meanwhile and the node runs on.  The image is checked
 * as image_read checks a file (image/read_pipe.c); a stream that ends
 * early (the listener closes the FIFO when the connection fails) or
 * fails a check fails the round, and prebuild_round ends the copy.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <base/host_worker.h>
#include <capsule/control.h>

#include "monitor/checkpoint.h"
#include "monitor/restore_prebuild.h"

struct stream_job {
	const char *path;
	int fd, wait_fd; /* the spool file, the FIFO */
	struct image_pipe *pipe;
	struct image_model *im;
	const struct prebuild_fill *fill; /* the copy's dataspaces */
	unsigned nfill;
	uint64_t cpu_us; /* the host worker's, both jobs */
	char err[400];
};

int prebuild_is_pipe(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISFIFO(st.st_mode);
}

/* Host worker: open the FIFO and the file, read the header and the
 * records. */
static int records_job(void *arg)
{
	struct stream_job *j = arg;
	uint64_t c0 = mon_cpu_us();
	size_t n = strlen(j->path);
	char file[CONTROL_PATH_MAX];
	int rc;

	if (n <= 5 || n - 5 >= sizeof file || strcmp(j->path + n - 5, ".pipe")) {
		snprintf(j->err, sizeof j->err, "%.300s: not FILE.pipe", j->path);
		return -EINVAL;
	}
	snprintf(file, sizeof file, "%.*s", (int)(n - 5), j->path);
	/* not a blocked open: the listener may have closed its end already
	 * (the file then has all it will have) */
	if ((j->wait_fd = open(j->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0 ||
	    fcntl(j->wait_fd, F_SETFL, 0) ||
	    (j->fd = open(file, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(j->err, sizeof j->err, "%.300s: %s",
			 j->wait_fd < 0 ? j->path : file, strerror(errno));
		return -errno;
	}
	rc = image_pipe_begin(j->fd, j->wait_fd, file, &j->pipe, &j->im, j->err,
			      sizeof j->err);
	j->cpu_us += mon_cpu_us() - c0;
	return rc;
}

/* The memory of dataspace ds_id: the copy's (image_pipe_finish). */
static void *dest_of(void *arg, uint64_t ds_id, uint64_t size)
{
	const struct stream_job *j = arg;

	for (unsigned i = 0; i < j->nfill; i++)
		if (j->fill[i].id == ds_id && j->fill[i].size == size)
			return j->fill[i].dst;
	return NULL;
}

/* Host worker: the memory sections into the copy, the rest checked. */
static int memory_job(void *arg)
{
	struct stream_job *j = arg;
	uint64_t c0 = mon_cpu_us();
	int rc = image_pipe_finish(j->pipe, dest_of, j, j->err, sizeof j->err);

	j->cpu_us += mon_cpu_us() - c0;
	return rc;
}

int prebuild_stream_first(struct monitor *mon, const char *path, struct image_model **out,
			  uint64_t *pages)
{
	struct prebuild_fill fill[MON_MAX_REGIONS];
	struct stream_job j = {.path = path, .fd = -1, .wait_fd = -1, .fill = fill};
	uint64_t t0 = mon_now_us(), t1, t2;
	int rc;

	*out = NULL;
	if (mon->worker)
		host_worker_set_nice(mon->worker, 0); /* the migration waits for it */
	if ((rc = host_worker_run(mon->worker, records_job, &j))) {
		monitor_why(mon, "restore refused: %s", j.err);
		goto out;
	}
	t1 = mon_now_us();
	if (j.im->flags & IMAGE_F_INCREMENTAL) {
		monitor_why(mon, "prebuild: %s: the first round must be a full image",
			    path);
		rc = -EINVAL;
		goto out;
	}
	if ((rc = prebuild_first_open(mon, path, j.im, 1, fill, &j.nfill, pages)))
		goto out;
	t2 = mon_now_us();
	if ((rc = host_worker_run(mon->worker, memory_job, &j))) {
		monitor_why(mon, "prebuild: %s", j.err);
		goto out;
	}
	prebuild_first_unused(mon, j.im);
	for (uint32_t k = 0; k < j.im->nmemory; k++)
		*pages += j.im->memory[k].pages;
	env_log(mon->env,
		"monitor: prebuild: round 1 read as it arrived: its records in %llu us, "
		"the copy made in %llu us, its memory in %llu us (the host worker's cpu "
		"%llu us)",
		(unsigned long long)(t1 - t0), (unsigned long long)(t2 - t1),
		(unsigned long long)(mon_now_us() - t2), (unsigned long long)j.cpu_us);
	*out = j.im;
	j.im = NULL;
out:
	image_pipe_end(j.pipe, 0);
	if (j.im)
		image_model_free(j.im);
	if (j.fd >= 0)
		close(j.fd);
	if (j.wait_fd >= 0)
		close(j.wait_fd);
	return rc;
}
