/*
 * The paused copy a migration's destination builds while the pre-copy
 * rounds arrive (restore_prebuild.h, docs/migration.md).
 *
 * Round 1, the full image, is checked as a restore checks it (what this
 * monitor can recreate, its budget, the binary), then the target's PD
 * and CPU sessions are opened and each RAM dataspace of the image is
 * allocated in that PD, attached in the monitor and written straight
 * from the image.  Each later round must name the last image applied
 * as its parent (id and XXH3-128 of the file): the pages it carries are
 * written over the copy's, zero pages as zeros, so the copy's memory is
 * the merge of the chain so far (image_memory_apply).  A dataspace new
 * in a round is made when the round carries all of it.
 *
 * The final image is then restored as any image (monitor_restore_image),
 * with its own records (threads, regions, caps, sessions, signals and
 * timers as they were at the stop), except that the restore takes the
 * copy's PD, CPU session and dataspaces instead of making new ones, and
 * writes only the final image's pages into them.  The memory the
 * restore then fixes up and verifies is exactly the chain's.  If the
 * final image does not fit the copy (another quota, a dataspace that
 * no round carried whole), the copy is ended and the chain is restored
 * from its files, as without a copy.
 *
 * Each round also makes the image's threads in the copy's CPU session,
 * created and never started (restore_prebuild_threads.c), and opens at
 * the monitor's parent the sessions a restore opens there, with the
 * binary's ROM dataspace (restore_prebuild_sessions.c); the restore of
 * the final image takes those instead of making them in the stop, and
 * does not check round 1's binary again.
 *
 * The final image's restore onto the copy, and what it takes of it, is
 * restore_prebuild_final.c.
 *
 * Nothing of the copy runs before the commit starts its threads, and
 * the final restore is all or nothing (its rollback ends what it took;
 * prebuild_end what it did not).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/test_env.h"
#include "monitor/image_convert.h"
#include "monitor/checkpoint.h"
#include "monitor/lazy_fill.h"
#include "monitor/postcopy_pages.h"
#include "monitor/restore.h"
#include "monitor/prebuild_state.h"

/* Detach attachment k from the copy's PD (while it has the PD). */
static void att_drop(struct mon_prebuild *pb, unsigned k)
{
	if (pb->pd.idx)
		pd_detach(pb->pd, pb->att[k].at);
	pb->att[k] = pb->att[--pb->natt];
}

/* Detach and free one dataspace of the copy (and its regions): at the
 * copy's PD, or at the target's once a restore took the PD (its quota
 * comes back). */
void prebuild_ds_free(struct monitor *mon, struct pre_ds *d)
{
	struct mon_prebuild *pb = mon->prebuild;
	cap_t pd = pb->pd.idx ? pb->pd : mon->pd;

	for (unsigned k = pb->natt; k-- > 0;)
		if (d->cap.idx && pb->att[k].ds_id == d->old_badge && !pb->att[k].taken)
			att_drop(pb, k);
	if (d->cap.idx && mon->lazy) /* a post-copy copy's, lazy at core */
		lazy_fill_drop(mon, d->cap);
	if (d->host)
		pd_detach(mon->env->pd, d->host);
	if (d->cap.idx && pd.idx)
		pd_free_ram(pd, d->cap);
	if (d->cap.idx)
		cap_release(d->cap);
	memset(d, 0, sizeof *d);
}

struct pre_ds *prebuild_ds_find(struct mon_prebuild *pb, uint64_t old_badge)
{
	for (unsigned i = 0; i < pb->nds; i++)
		if (pb->ds[i].cap.idx && pb->ds[i].old_badge == old_badge)
			return &pb->ds[i];
	return NULL;
}

/* A new dataspace of the copy, attached in the monitor (zeros). */
static int ds_new(struct monitor *mon, uint64_t old_badge, uint64_t size,
		  struct pre_ds **out)
{
	struct mon_prebuild *pb = mon->prebuild;
	struct pre_ds *d = NULL;
	int rc;

	for (unsigned i = 0; i < pb->nds && !d; i++)
		if (!pb->ds[i].cap.idx)
			d = &pb->ds[i];
	if (!d && pb->nds == MON_MAX_REGIONS)
		return -ENOSPC;
	if (!d)
		d = &pb->ds[pb->nds++];
	*d = (struct pre_ds){.old_badge = old_badge, .size = size};
	if ((rc = pd_alloc_ram(pb->pd, size, &d->cap)) ||
	    (rc = pd_attach(mon->env->pd, d->cap, 0, 0, size, MEM_R | MEM_W, &d->host))) {
		prebuild_ds_free(mon, d);
		return rc;
	}
	*out = d;
	return 0;
}

/* The test build's CAPSULE_TEST_PREBUILD_END_MS=N (1-10000): the end of
 * a copy the restore took is N ms slower (loopback.sh: that end is not
 * in the stop, monitor_restore_after). */
static void end_stall(void)
{
	const char *v = test_env("CAPSULE_TEST_PREBUILD_END_MS");
	long ms = v ? strtol(v, NULL, 10) : 0;

	if (ms > 0 && ms <= 10000)
		usleep((useconds_t)ms * 1000);
}

void prebuild_end(struct monitor *mon, const char *why)
{
	struct mon_prebuild *pb = mon->prebuild;

	if (!pb)
		return;
	if (!why && pb->used) { /* what the stop did not have to make */
		env_log(mon->env,
			"monitor: prebuild: the restore took %u threads, %u sessions and "
			"%u dataspaces of the copy",
			pb->took_threads, pb->took_sessions, pb->took_ds);
		end_stall();
	}
	pre_threads_end(&pb->thr, pb->cpu);
	pre_sessions_end(&pb->ses, mon);
	for (unsigned i = 0; i < pb->nds; i++)
		prebuild_ds_free(mon, &pb->ds[i]);
	if (pb->postcopy && !pb->used) /* the restore did not take its fill */
		lazy_fill_free(mon);
	if (pb->cpu.idx)
		target_close_session(mon, &pb->cpu);
	if (pb->pd.idx)
		target_close_session(mon, &pb->pd);
	free(pb->model);
	for (int i = 0; i < PREBUILD_TOUCHED; i++)
		free(pb->touched[i]);
	if (why) { /* the monitor is as before the first round */
		mon->cfg = pb->cfg;
		env_log(mon->env, "monitor: prebuilt copy ended after %u rounds: %s",
			pb->rounds, why);
	}
	free(pb);
	mon->prebuild = NULL;
}

const struct image_memory *prebuild_memory_of(const struct image_model *im, uint64_t id)
{
	for (uint32_t k = 0; k < im->nmemory; k++)
		if (im->memory[k].ds_id == id)
			return &im->memory[k];
	return NULL;
}

/* A post-copy pre-skeleton (no page): every RAM dataspace a region of
 * it attaches is made lazy at core, as the restore would make it in the
 * pause (a dataspace allocated, made lazy and attached in the PD and in
 * the monitor for the fill, about 10 us each: 0.7 ms of a 1 GiB
 * bench_wset's pause), and then attached to the PD (attach_regions).
 * Their pages come from the migration's page channel after the commit;
 * the fault handler of the fill is made here for them. */
static int build_lazy(struct monitor *mon, const struct image_model *im)
{
	struct mon_prebuild *pb = mon->prebuild;
	int rc;

	if ((rc = lazy_fill_new(mon)))
		return rc;
	pb->postcopy = 1;
	for (uint32_t i = 0; i < im->ndataspaces; i++) {
		const struct image_dataspace *ds = &im->dataspaces[i];
		struct pre_ds *d = NULL;
		int attached = 0;

		for (uint32_t k = 0; k < im->nregions && !attached; k++)
			attached = im->regions[k].ds_id == ds->id;
		if (ds->kind != IMAGE_DS_RAM || !attached || prebuild_ds_find(pb, ds->id))
			continue;
		for (unsigned k = 0; k < pb->nds && !d; k++)
			if (!pb->ds[k].cap.idx)
				d = &pb->ds[k];
		if (!d && pb->nds == MON_MAX_REGIONS)
			return -ENOSPC;
		if (!d)
			d = &pb->ds[pb->nds++];
		*d = (struct pre_ds){.old_badge = ds->id, .size = ds->size};
		if ((rc = pd_alloc_ram(pb->pd, ds->size, &d->cap)) ||
		    (rc = lazy_fill_add(mon, d->cap, ds->size))) {
			prebuild_ds_free(mon, d);
			return rc;
		}
	}
	return lazy_fill_attach(mon);
}

int prebuild_first_open(struct monitor *mon, const char *path,
			const struct image_model *im, int all, struct prebuild_fill *fill,
			unsigned *nfill, uint64_t *pages)
{
	struct mon_prebuild *pb = mon->prebuild;
	char err[400];
	int rc;

	*nfill = 0;
	if ((rc = restore_image_check(mon, im, path, 1, err, sizeof err))) {
		monitor_why(mon, "restore refused: %s", err);
		return rc;
	}
	pb->binary = mon->binary; /* checked: the final restore need not again */
	memcpy(pb->binary_hash, im->component.binary_hash, sizeof pb->binary_hash);
	snprintf(mon->cfg.binary, sizeof mon->cfg.binary, "%s", im->component.binary);
	mon->cfg.ram = im->component.ram_quota;
	mon->cfg.caps = im->component.cap_quota;
	if ((rc = target_open_pd_cpu(mon, &pb->pd, &pb->cpu))) {
		monitor_why(mon, "prebuild: cannot open the target's PD and CPU: %s",
			    strerror(-rc));
		return rc;
	}
	if ((im->flags & IMAGE_F_PARTIAL) && (rc = build_lazy(mon, im))) {
		monitor_why(mon, "prebuild: its lazy dataspaces: %s", strerror(-rc));
		return rc;
	}
	for (uint32_t i = 0; i < im->ndataspaces; i++) {
		const struct image_dataspace *ds = &im->dataspaces[i];
		const struct image_memory *e = prebuild_memory_of(im, ds->id);
		struct pre_ds *d;

		if (ds->kind != IMAGE_DS_RAM || (!e && !all))
			continue; /* the final restore has it, or refuses it */
		if (*nfill == MON_MAX_REGIONS ||
		    (rc = ds_new(mon, ds->id, ds->size, &d))) {
			rc = rc ? rc : -ENOSPC;
			monitor_why(mon, "prebuild: dataspace %llu: %s",
				    (unsigned long long)ds->id, strerror(-rc));
			return rc;
		}
		fill[(*nfill)++] = (struct prebuild_fill){
		    .id = ds->id, .size = ds->size, .dst = (void *)(uintptr_t)d->host};
		*pages += e ? e->pages : 0;
	}
	return 0;
}

void prebuild_first_unused(struct monitor *mon, const struct image_model *im)
{
	struct mon_prebuild *pb = mon->prebuild;

	for (unsigned k = 0; k < pb->nds; k++)
		if (pb->ds[k].cap.idx && !prebuild_memory_of(im, pb->ds[k].old_badge))
			prebuild_ds_free(mon, &pb->ds[k]);
}

/* Round 1 from its file: the sessions and every RAM dataspace the image
 * has memory of, written from the (streamed) image.  Pages into *pages. */
static int build_first(struct monitor *mon, const char *path,
		       const struct image_model *im, uint64_t *pages)
{
	struct prebuild_fill fill[MON_MAX_REGIONS];
	unsigned nfill = 0;
	char err[400];
	int rc;

	if ((rc = prebuild_first_open(mon, path, im, 0, fill, &nfill, pages)))
		return rc;
	/* their memory on two threads at once (monitor/prebuild_fill.c) */
	if ((rc = prebuild_fill_all(mon->worker, im, fill, nfill, err, sizeof err)))
		monitor_why(mon, "prebuild: %s", err);
	return rc;
}

/* Does im continue the copy (its parent is the last image applied)?  A
 * post-copy skeleton continues a copy built from its pre-skeleton alone
 * (no dataspaces: the restore makes them lazy, their pages come from
 * the migration's page channel). */
int prebuild_continues(const struct monitor *mon, const struct image_model *im)
{
	const struct mon_prebuild *pb = mon->prebuild;

	if (mon->restore_postcopy)
		return (im->flags & IMAGE_F_PARTIAL) && pb->rounds == 1 && pb->postcopy;
	return (im->flags & IMAGE_F_INCREMENTAL) && im->parent_id == pb->image_id &&
	       !memcmp(im->parent.hash, pb->hash, sizeof pb->hash);
}

/* A later round: its pages over the copy's.  Pages into *pages. */
static int apply_round(struct monitor *mon, const char *path,
		       const struct image_model *im, uint64_t *pages)
{
	struct mon_prebuild *pb = mon->prebuild;
	char err[400] = "";
	int rc = 0;

	if (!prebuild_continues(mon, im) || im->component.ram_quota != mon->cfg.ram ||
	    im->component.cap_quota != mon->cfg.caps) {
		monitor_why(mon,
			    "prebuild: %s is not the next round of image %llu (or "
			    "changes the quota)",
			    path, (unsigned long long)pb->image_id);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < im->ndataspaces && !rc; i++) {
		const struct image_dataspace *ds = &im->dataspaces[i];
		struct pre_ds *d = prebuild_ds_find(pb, ds->id);
		uint64_t n = 0;

		if (ds->kind != IMAGE_DS_RAM || !prebuild_memory_of(im, ds->id))
			continue;		/* nothing of it written since */
		if (d && d->size != ds->size) { /* another one under that id */
			prebuild_ds_free(mon, d);
			d = NULL;
		}
		if (!d && !image_memory_whole(im, ds->id))
			continue; /* only the final restore can have it: the chain */
		if (!d && (rc = ds_new(mon, ds->id, ds->size, &d)))
			break;
		rc = image_memory_apply(im, ds->id, (void *)(uintptr_t)d->host, ds->size,
					&n, err, sizeof err);
		*pages += n;
	}
	if (rc)
		monitor_why(mon, "prebuild: %s: %s", path, err[0] ? err : strerror(-rc));
	return rc;
}

int prebuild_att_find(const struct mon_prebuild *pb, uint64_t ds_id, uint64_t at,
		      uint64_t off, uint64_t size, unsigned perm)
{
	for (unsigned k = 0; k < pb->natt; k++)
		if (pb->att[k].ds_id == ds_id && pb->att[k].at == at &&
		    pb->att[k].off == off && pb->att[k].size == size &&
		    pb->att[k].perm == perm)
			return (int)k;
	return -1;
}

/* The regions of im in the PD's own address space (not those of a
 * managed region map, which the final restore makes) whose dataspace
 * the copy has, attached to the copy's PD now: the final restore then
 * attaches none of them in the stop (a 256 MiB region took most of its
 * time).  Those im no longer has are detached.  A region that cannot
 * be attached here is left to the final restore, which refuses it if
 * it must.  The number attached now into *n. */
void prebuild_att_prune(struct mon_prebuild *pb, const struct image_model *im)
{
	for (unsigned k = pb->natt; k-- > 0;) {
		int kept = 0;
		for (uint32_t i = 0; i < im->nregions && !kept; i++) {
			const struct image_region *r = &im->regions[i];
			kept = r->rm_kind != IMAGE_RM_MANAGED &&
			       r->ds_id == pb->att[k].ds_id && r->addr == pb->att[k].at &&
			       r->offset == pb->att[k].off &&
			       r->size == pb->att[k].size && r->perms == pb->att[k].perm;
		}
		if (!kept)
			att_drop(pb, k);
	}
}

static void attach_regions(struct monitor *mon, const struct image_model *im, unsigned *n)
{
	struct mon_prebuild *pb = mon->prebuild;

	prebuild_att_prune(pb, im);
	for (uint32_t i = 0; i < im->nregions && pb->natt < MON_MAX_REGIONS; i++) {
		const struct image_region *r = &im->regions[i];
		const struct pre_ds *d = prebuild_ds_find(pb, r->ds_id);
		uint64_t at = 0;

		if (r->rm_kind == IMAGE_RM_MANAGED || !d ||
		    prebuild_att_find(pb, r->ds_id, r->addr, r->offset, r->size,
				      r->perms) >= 0)
			continue;
		if (pd_attach(pb->pd, d->cap, r->addr, r->offset, r->size, r->perms, &at))
			continue;
		if (at != r->addr) {
			pd_detach(pb->pd, at);
			continue;
		}
		pb->att[pb->natt++] = (struct pre_att){.ds_id = r->ds_id,
						       .at = at,
						       .off = r->offset,
						       .size = r->size,
						       .perm = r->perms};
		(*n)++;
	}
}

/* The restore's model, state and working model, zeroed and their pages
 * faulted in now, at the first round, rather than by their first
 * writes in the stop.  Not by a memset after malloc: the compiler makes
 * that a calloc, whose fresh pages are not touched (the stop's copy
 * into the "touched" model still took 100-200 us of page faults). */
static void prebuild_touch(struct mon_prebuild *pb)
{
	size_t size[PREBUILD_TOUCHED] = {[PREBUILD_RS] = restore_state_size(),
					 [PREBUILD_WORK] = sizeof(struct mon_model)};

	pb->model = mon_buf_prefault(calloc(1, sizeof *pb->model), sizeof *pb->model);
	for (int i = 0; i < PREBUILD_TOUCHED; i++)
		pb->touched[i] = mon_buf_prefault(calloc(1, size[i]), size[i]);
}

int prebuild_round(struct monitor *mon, const char *path)
{
	struct image_model *im = NULL;
	uint8_t hash[IMAGE_HASH_SIZE];
	uint64_t t0 = mon_now_us(), c0 = mon_cpu_us(), pages = 0;
	char err[400];
	int first = !mon->prebuild, rc;
	unsigned attached = 0, threads = 0, sessions = 0;

	if (mon->state == MON_RUNNING || mon->pd_proxy) {
		monitor_why(mon, "restore: this monitor runs '%s' already",
			    mon->cfg.binary);
		return -EBUSY;
	}
	if (first && !(mon->prebuild = calloc(1, sizeof *mon->prebuild)))
		return -ENOMEM;
	if (first) {
		mon->prebuild->cfg = mon->cfg;
		prebuild_touch(mon->prebuild);
	}
	/* a pipe: round 1 as it arrives, built while it comes
	 * (prebuild_stream.c) */
	if (first && prebuild_is_pipe(path)) {
		if ((rc = prebuild_stream_first(mon, path, &im, &pages)))
			goto fail;
	} else if ((rc = image_read_flags(path, IMAGE_READ_STREAM | IMAGE_READ_HASH, &im,
					  err, sizeof err))) {
		/* the file's hash (the next round names it as its parent's),
		 * from the read's mapping: no second read of a 256 MiB round */
		monitor_why(mon, "restore refused: %s", err);
		goto fail;
	} else if (first && (im->flags & IMAGE_F_INCREMENTAL)) {
		monitor_why(mon, "prebuild: %s: the first round must be a full image",
			    path);
		rc = -EINVAL;
		goto fail;
	} else if ((rc = first ? build_first(mon, path, im, &pages)
			       : apply_round(mon, path, im, &pages))) {
		goto fail;
	}
	memcpy(hash, im->file_hash, sizeof hash);
	attach_regions(mon, im, &attached);
	/* not made here: the final restore makes them */
	if ((rc = pre_threads_make(&mon->prebuild->thr, mon->prebuild->cpu,
				   mon->prebuild->pd, im, &threads)))
		env_log(mon->env, "monitor: prebuild: its threads not made: %s",
			strerror(-rc));
	pre_sessions_open(&mon->prebuild->ses, mon, im, &sessions);
	/* the record index of a fresh monitor is built on its first use,
	 * touching every record (3-4 ms of a post-copy's pause): here */
	record_find(mon, 1);
	mon->prebuild->image_id = im->image_id;
	memcpy(mon->prebuild->hash, hash, sizeof hash);
	mon->prebuild->rounds++;
	env_log(mon->env,
		"monitor: prebuild: round %u applied to the paused copy: %llu pages, "
		"%u regions attached, %u threads made, %u sessions opened, in %llu us "
		"(cpu %llu us)",
		mon->prebuild->rounds, (unsigned long long)pages, attached, threads,
		sessions, (unsigned long long)(mon_now_us() - t0),
		(unsigned long long)(mon_cpu_us() - c0));
	snprintf(mon->done_note, sizeof mon->done_note, ": round %u built, %llu pages",
		 mon->prebuild->rounds, (unsigned long long)pages);
	image_model_free(im);
	return 0;
fail:
	if (im)
		image_model_free(im);
	prebuild_end(mon, mon->why[0] ? mon->why : strerror(-rc));
	return rc;
}
