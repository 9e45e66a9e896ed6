/*
 * The checkpoint's copy of the target's memory, with the target paused
 * for as little of it as possible.
 *
 * Before the pause (target running): a buffer per attached RAM region,
 * allocated and pre-faulted on the host worker; core's dirty tracking is
 * started on each region's dataspace (DS_DIRTY_START) and the worker
 * copies every region once (the pre-copy).  In the pause: the pages
 * written since the tracking began (DS_DIRTY_FETCH) are copied again, and
 * only those; a region whose dataspace cannot be tracked (already tracked
 * by someone else, no quota for the bitmap, not a RAM dataspace) is
 * copied whole.  Every copy is a memcpy from the monitor's attachment of
 * the dataspace (seed 000, approach 1) run on the host worker, in place
 * when it is small; the node's other components run on meanwhile.
 *
 * Why the result is the memory at the pause: a page not written after
 * the tracking began holds at the pause what it held when the pre-copy
 * read it (after the start), and every page written after the start is
 * marked and copied in the pause.  Core's tracking sees guest stores and
 * the node's own writes (core/dirty.h); when it falls back it marks a
 * whole range dirty, which only makes the paused copy longer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <base/host_worker.h>

#include "monitor/checkpoint.h"
#include "monitor/checkpoint_memory.h"

#define PAGE 4096ULL
/* Up to this many bytes a copy (and the buffers' allocation) runs in
 * place: a memcpy of 1 MiB takes ~0.1-0.3 ms, less than handing it to a
 * host thread on a loaded machine (1-15 ms seen with the load at 5 per
 * core), and short enough for the node's other components. */
#define INLINE_BYTES (1ULL << 20)

struct copy {
	void *dst;
	const void *src;
	uint64_t size;
};

/* Invariants: for region i (indexed like mon->region) buf[i] has size[i]
 * bytes; host[i] is the monitor's attachment of [off, off + size) of its
 * dataspace or 0; tracked[i]: this checkpoint started the dataspace's
 * dirty tracking (stopped by ckpt_mem_free), pages[i] its pages and
 * bits[i] room for their bitmap. */
struct ckpt_mem {
	uint64_t size[MON_MAX_REGIONS];
	uint8_t *buf[MON_MAX_REGIONS];
	uint64_t host[MON_MAX_REGIONS];
	cap_t ds[MON_MAX_REGIONS];
	int tracked[MON_MAX_REGIONS];
	uint64_t pages[MON_MAX_REGIONS];
	uint64_t *bits[MON_MAX_REGIONS];
	struct copy *copy;
	unsigned ncopies, maxcopies;
	uint64_t copy_bytes;
};

/* fn(cm) here or on the worker (by the bytes it moves), at nice value
 * nice (host_worker_set_nice). */
static int mem_job(struct monitor *mon, host_job_fn fn, struct ckpt_mem *cm,
		   uint64_t bytes, int nice)
{
	host_worker_set_nice(mon->worker, nice);
	return host_worker_run(bytes > INLINE_BYTES ? mon->worker : NULL, fn, cm);
}

static int copy_add(struct ckpt_mem *cm, void *dst, const void *src, uint64_t size)
{
	struct copy *c = cm->ncopies ? &cm->copy[cm->ncopies - 1] : NULL;

	if (c && (uint8_t *)c->dst + c->size == dst &&
	    (const uint8_t *)c->src + c->size == src) {
		c->size += size; /* a run of pages */
	} else {
		if (cm->ncopies == cm->maxcopies) {
			unsigned n = cm->maxcopies ? 2 * cm->maxcopies : 64;
			struct copy *p = realloc(cm->copy, n * sizeof *p);
			if (!p)
				return -ENOMEM;
			cm->copy = p;
			cm->maxcopies = n;
		}
		cm->copy[cm->ncopies++] = (struct copy){dst, src, size};
	}
	cm->copy_bytes += size;
	return 0;
}

static int copy_job(void *arg)
{
	struct ckpt_mem *cm = arg;

	for (unsigned i = 0; i < cm->ncopies; i++)
		memcpy(cm->copy[i].dst, cm->copy[i].src, cm->copy[i].size);
	return 0;
}

/* Worker job, target running: the buffers, then the pre-copy of the
 * tracked regions. */
static int precopy_job(void *arg)
{
	struct ckpt_mem *cm = arg;

	for (int i = 0; i < MON_MAX_REGIONS; i++) {
		if (!cm->size[i])
			continue;
		/* a region copied now faults its buffer in as it goes; one
		 * copied in the pause gets it pre-faulted */
		cm->buf[i] = malloc(cm->size[i]);
		if (!cm->buf[i])
			cm->size[i] = 0;
		else if (cm->tracked[i])
			memcpy(cm->buf[i], (const void *)(uintptr_t)cm->host[i],
			       cm->size[i]);
		else
			mon_buf_prefault(cm->buf[i], cm->size[i]);
	}
	return 0;
}

/* Start tracking region i's dataspace and attach the region. */
static void track(struct monitor *mon, struct ckpt_mem *cm, int i,
		  const struct mon_region *g)
{
	uint64_t pages;

	if (ds_dirty_start(cm->ds[i], &pages))
		return; /* copied whole in the pause */
	cm->tracked[i] = 1;
	cm->pages[i] = pages;
	cm->bits[i] = malloc((pages + 63) / 64 * sizeof(uint64_t));
	if (!cm->bits[i] ||
	    pd_attach(mon->env->pd, cm->ds[i], 0, g->off, g->size, MEM_R, &cm->host[i])) {
		ds_dirty_stop(cm->ds[i]);
		cm->tracked[i] = 0;
		cm->host[i] = 0;
	}
}

struct ckpt_mem *ckpt_mem_prepare(struct monitor *mon)
{
	struct ckpt_mem *cm = calloc(1, sizeof *cm);
	uint64_t bytes = 0;

	if (!cm)
		return NULL;
	for (int i = 0; i < MON_MAX_REGIONS; i++) {
		const struct mon_region *g = &mon->region[i];
		const struct mon_record *ds =
		    g->used ? record_find(mon, g->ds_badge) : NULL;
		if (!g->used || !g->size || !ds || ds->cls == MON_CLASS_MANAGED_DS)
			continue;
		bytes += cm->size[i] = g->size;
		cm->ds[i] = ds->cap;
		track(mon, cm, i, g);
	}
	mem_job(mon, precopy_job, cm, bytes, MON_WORKER_NICE);
	return cm;
}

/* Region i's copies in the pause: its dirty pages, or all of it. */
static int region_copies(struct monitor *mon, struct ckpt_mem *cm, int i,
			 const struct mon_region *g, const struct mon_record *ds,
			 uint8_t *dst, int precopied)
{
	uint64_t first = g->off / PAGE, n = g->size / PAGE;
	int64_t dirty;
	int rc;

	if (!precopied || g->off % PAGE || g->size % PAGE ||
	    (dirty = ds_dirty_fetch_all(cm->ds[i], cm->pages[i], cm->bits[i])) < 0 ||
	    first + n > cm->pages[i]) {
		if (!cm->host[i] && (rc = pd_attach(mon->env->pd, ds->cap, 0, g->off,
						    g->size, MEM_R, &cm->host[i])))
			return rc;
		return copy_add(cm, dst, (const void *)(uintptr_t)cm->host[i], g->size);
	}
	for (uint64_t p = 0; p < n && dirty; p++) {
		uint64_t q = first + p;
		if (!(cm->bits[i][q / 64] >> (q % 64) & 1))
			continue;
		if ((rc = copy_add(cm, dst + p * PAGE,
				   (const uint8_t *)(uintptr_t)cm->host[i] + p * PAGE,
				   PAGE)))
			return rc;
	}
	return 0;
}

int ckpt_mem_copy(struct monitor *mon, struct ckpt_mem *cm, struct mon_model *model)
{
	int rc = 0, precopied;

	model->nregions = 0;
	cm->ncopies = 0;
	cm->copy_bytes = 0;
	for (int i = 0; i < MON_MAX_REGIONS && !rc; i++) {
		struct mon_region *g = &mon->region[i];
		struct mon_record *ds = g->used ? record_find(mon, g->ds_badge) : NULL;
		struct mon_model_region *mr = &model->region[model->nregions];

		if (!g->used)
			continue;
		if (!ds || !g->size) { /* e.g. a dataspace from another component */
			env_log(
			    mon->env,
			    "monitor: checkpoint: region 0x%llx (%llu bytes): dataspace "
			    "badge 0x%llx fits no class",
			    (unsigned long long)g->at, (unsigned long long)g->size,
			    (unsigned long long)g->ds_badge);
			return -ENOTRECOVERABLE;
		}
		*mr = (struct mon_model_region){.rm = g->rm,
						.at = g->at,
						.off = g->off,
						.size = g->size,
						.perm = g->perm,
						.ds_badge = g->ds_badge,
						.ds_size = record_ds_size(mon, ds)};
		model->nregions++;
		if (ds->cls == MON_CLASS_MANAGED_DS)
			continue; /* its memory is what the map holds */
		precopied = 0;
		if (cm->buf[i] && cm->size[i] == g->size &&
		    cm->ds[i].idx == ds->cap.idx) {
			mr->data = cm->buf[i];
			cm->buf[i] = NULL;
			precopied = cm->tracked[i];
		} else { /* changed since the pre-copy: all of it */
			mr->data = malloc(g->size);
		}
		if (!mr->data)
			return -ENOMEM;
		rc = region_copies(mon, cm, i, g, ds, mr->data, precopied);
	}
	if (!rc)
		rc = mem_job(mon, copy_job, cm, cm->copy_bytes,
			     0); /* paused: full speed */
	return rc;
}

uint64_t ckpt_mem_copied(const struct ckpt_mem *cm)
{
	return cm->copy_bytes;
}

void ckpt_mem_free(struct monitor *mon, struct ckpt_mem *cm)
{
	if (!cm)
		return;
	for (int i = 0; i < MON_MAX_REGIONS; i++) {
		if (cm->tracked[i])
			ds_dirty_stop(cm->ds[i]);
		if (cm->host[i])
			pd_detach(mon->env->pd, cm->host[i]);
		free(cm->buf[i]);
		free(cm->bits[i]);
	}
	free(cm->copy);
	free(cm);
}
