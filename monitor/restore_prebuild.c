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
 * Nothing of the copy runs before the commit starts its threads, and
 * the final restore is all or nothing (its rollback ends what it took;
 * prebuild_end what it did not).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "monitor/image_convert.h"
#include "monitor/checkpoint.h"
#include "monitor/lazy_fill.h"
#include "monitor/postcopy_pages.h"
#include "monitor/restore.h"
#include "monitor/restore_prebuild.h"
#include "monitor/restore_prebuild_sessions.h"
#include "monitor/restore_prebuild_threads.h"

struct pre_ds {
	uint64_t old_badge, size, host;
	cap_t cap;
};

/* A region of the copy's PD's own address space attached while the
 * rounds arrive; taken: the restore took its dataspace. */
struct pre_att {
	uint64_t ds_id, at, off, size;
	unsigned perm;
	int taken;
};

struct mon_prebuild {
	cap_t pd, cpu;
	struct monitor_config cfg; /* the monitor's, before round 1 */
	uint64_t image_id;	   /* the last image applied */
	uint8_t hash[IMAGE_HASH_SIZE];
	unsigned rounds, nds;
	int used; /* the restore of the final image takes the copy */
	/* built from a post-copy pre-skeleton: its dataspaces are lazy at
	 * core (mon->lazy, made here), no page written */
	int postcopy;
	unsigned took_threads, took_sessions, took_ds; /* the restore took */
	const struct image_model *final; /* that image, while it is restored */
	struct pre_ds ds[MON_MAX_REGIONS];
	struct pre_att att[MON_MAX_REGIONS];
	unsigned natt;
	struct binary_id binary; /* round 1's, checked at this node's ROM */
	uint8_t binary_hash[IMAGE_HASH_SIZE];
	struct pre_threads thr;	 /* restore_prebuild_threads.c */
	struct pre_sessions ses; /* restore_prebuild_sessions.c */
	/* the restore's model, its pages touched (zeroed) before the stop:
	 * 187 KB of new pages, whose first touches in the stop were 100-150
	 * us of it (prebuild_take_model) */
	struct mon_model *model;
};

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
static void ds_free(struct monitor *mon, struct pre_ds *d)
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

static struct pre_ds *ds_find(struct mon_prebuild *pb, uint64_t old_badge)
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
		ds_free(mon, d);
		return rc;
	}
	*out = d;
	return 0;
}

void prebuild_end(struct monitor *mon, const char *why)
{
	struct mon_prebuild *pb = mon->prebuild;

	if (!pb)
		return;
	if (!why && pb->used) /* what the stop did not have to make */
		env_log(mon->env,
			"monitor: prebuild: the restore took %u threads, %u sessions and "
			"%u dataspaces of the copy",
			pb->took_threads, pb->took_sessions, pb->took_ds);
	pre_threads_end(&pb->thr, pb->cpu);
	pre_sessions_end(&pb->ses, mon);
	for (unsigned i = 0; i < pb->nds; i++)
		ds_free(mon, &pb->ds[i]);
	if (pb->postcopy && !pb->used) /* the restore did not take its fill */
		lazy_fill_free(mon);
	if (pb->cpu.idx)
		target_close_session(mon, &pb->cpu);
	if (pb->pd.idx)
		target_close_session(mon, &pb->pd);
	free(pb->model);
	if (why) { /* the monitor is as before the first round */
		mon->cfg = pb->cfg;
		env_log(mon->env, "monitor: prebuilt copy ended after %u rounds: %s",
			pb->rounds, why);
	}
	free(pb);
	mon->prebuild = NULL;
}

static const struct image_memory *memory_of(const struct image_model *im, uint64_t id)
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
		if (ds->kind != IMAGE_DS_RAM || !attached || ds_find(pb, ds->id))
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
			ds_free(mon, d);
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
		const struct image_memory *e = memory_of(im, ds->id);
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
		if (pb->ds[k].cap.idx && !memory_of(im, pb->ds[k].old_badge))
			ds_free(mon, &pb->ds[k]);
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
static int continues(const struct monitor *mon, const struct image_model *im)
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

	if (!continues(mon, im) || im->component.ram_quota != mon->cfg.ram ||
	    im->component.cap_quota != mon->cfg.caps) {
		monitor_why(mon,
			    "prebuild: %s is not the next round of image %llu (or "
			    "changes the quota)",
			    path, (unsigned long long)pb->image_id);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < im->ndataspaces && !rc; i++) {
		const struct image_dataspace *ds = &im->dataspaces[i];
		struct pre_ds *d = ds_find(pb, ds->id);
		uint64_t n = 0;

		if (ds->kind != IMAGE_DS_RAM || !memory_of(im, ds->id))
			continue;		/* nothing of it written since */
		if (d && d->size != ds->size) { /* another one under that id */
			ds_free(mon, d);
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

static int att_find(const struct mon_prebuild *pb, uint64_t ds_id, uint64_t at,
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
static void att_prune(struct mon_prebuild *pb, const struct image_model *im)
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

	att_prune(pb, im);
	for (uint32_t i = 0; i < im->nregions && pb->natt < MON_MAX_REGIONS; i++) {
		const struct image_region *r = &im->regions[i];
		const struct pre_ds *d = ds_find(pb, r->ds_id);
		uint64_t at = 0;

		if (r->rm_kind == IMAGE_RM_MANAGED || !d ||
		    att_find(pb, r->ds_id, r->addr, r->offset, r->size, r->perms) >= 0)
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
		if ((mon->prebuild->model = malloc(sizeof *mon->prebuild->model)))
			memset(mon->prebuild->model, 0, sizeof *mon->prebuild->model);
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

/* Does the copy fit the final image im?  0, or 1 with why. */
static int misfit(struct monitor *mon, const struct image_model *im, char *why, size_t n)
{
	struct mon_prebuild *pb = mon->prebuild;

	if (im->component.ram_quota != mon->cfg.ram ||
	    im->component.cap_quota != mon->cfg.caps ||
	    strcmp(im->component.binary, mon->cfg.binary)) {
		snprintf(why, n, "another binary or quota than round 1's");
		return 1;
	}
	if (mon->restore_postcopy)
		return 0; /* its dataspaces are made lazy by the restore */
	for (uint32_t i = 0; i < im->ndataspaces; i++) {
		const struct image_dataspace *ds = &im->dataspaces[i];
		const struct pre_ds *d = ds_find(pb, ds->id);

		if (ds->kind != IMAGE_DS_RAM || (d && d->size == ds->size) ||
		    image_memory_whole(im, ds->id))
			continue;
		snprintf(why, n, "dataspace %llu was carried whole by no round",
			 (unsigned long long)ds->id);
		return 1;
	}
	return 0;
}

/* The copy's dataspaces the final image has no more: freed now, so that
 * the PD's quota has room for what the restore makes. */
static void drop_gone(struct monitor *mon, const struct image_model *im)
{
	struct mon_prebuild *pb = mon->prebuild;

	for (unsigned k = 0; k < pb->nds; k++) {
		int kept = 0;
		for (uint32_t i = 0; i < im->ndataspaces && !kept; i++)
			kept = im->dataspaces[i].id == pb->ds[k].old_badge &&
			       im->dataspaces[i].kind == IMAGE_DS_RAM &&
			       im->dataspaces[i].size == pb->ds[k].size;
		/* post-copy: the restore takes exactly those its regions
		 * name, and every one left is in the fill's count */
		if (kept && pb->postcopy) {
			kept = 0;
			for (uint32_t i = 0; i < im->nregions && !kept; i++)
				kept = im->regions[i].ds_id == pb->ds[k].old_badge;
		}
		if (!kept && pb->ds[k].cap.idx)
			ds_free(mon, &pb->ds[k]);
	}
}

/* A memory entry (no pages) for each RAM dataspace of im without one:
 * image_to_model wants one per region's dataspace, as in a merged chain. */
static int add_entries(struct image_model *im)
{
	if (!im->memory &&
	    !(im->memory = calloc((size_t)im->ndataspaces + 1, sizeof *im->memory)))
		return -ENOMEM;
	for (uint32_t i = 0; i < im->ndataspaces; i++) {
		const struct image_dataspace *ds = &im->dataspaces[i];
		if (ds->kind != IMAGE_DS_RAM || memory_of(im, ds->id))
			continue;
		if (im->nmemory >= im->ndataspaces)
			return -ENOSPC;
		im->memory[im->nmemory++] =
		    (struct image_memory){.ds_id = ds->id, .size = ds->size};
	}
	return 0;
}

int prebuild_final(struct monitor *mon, const char *path, struct image_model **out)
{
	struct mon_prebuild *pb = mon->prebuild;
	struct image_model *im = NULL;
	char err[400], why[200];
	int rc;

	*out = NULL;
	/* streamed: only the pages it carries are read, into the copy; a
	 * post-copy skeleton as the migration read it (read once) */
	if ((!mon->restore_lazy || mon->restore_postcopy) &&
	    ((mon->restore_postcopy && (im = postcopy_skeleton_take(path))) ||
	     !image_read_flags(path, IMAGE_READ_STREAM, &im, err, sizeof err)) &&
	    continues(mon, im)) {
		if (misfit(mon, im, why, sizeof why)) {
			image_model_free(im);
			prebuild_end(mon, why);
			env_log(mon->env,
				"monitor: prebuild: restoring the whole chain of %s",
				path);
			return 0;
		}
		drop_gone(mon, im);
		att_prune(pb, im);
		if (!pre_threads_fit(&pb->thr, im)) /* the restore makes them */
			pre_threads_end(&pb->thr, pb->cpu);
		if (!mon->restore_postcopy && (rc = add_entries(im))) {
			image_model_free(im);
			prebuild_end(mon, "out of memory");
			return rc;
		}
		*out = im;
		pb->final = im;
		return 1;
	}
	if (im)
		image_model_free(im);
	if (mon->restore_postcopy) { /* as without a copy */
		prebuild_end(mon, "the post-copy skeleton does not fit it");
		return 0;
	}
	monitor_why(mon,
		    "restore: a migration builds a copy of '%s' here (%s is not its next "
		    "round)",
		    mon->cfg.binary, path);
	return -EBUSY;
}

/* The model's fill: the final image's pages over the copy's. */
static int final_fill(const void *src, uint64_t ds_badge, void *dst, uint64_t size,
		      char *err, size_t errlen)
{
	uint64_t pages;

	return image_memory_apply(src, ds_badge, dst, size, &pages, err, errlen);
}

void prebuild_use(struct monitor *mon, struct mon_model *model)
{
	model->fill = final_fill;
	mon->prebuild->used = 1;
	env_log(mon->env,
		"monitor: prebuild: the restore of the final image takes the copy of %u "
		"rounds",
		mon->prebuild->rounds);
}

int prebuild_fill_in_place(struct monitor *mon, uint64_t old_badge)
{
	struct mon_prebuild *pb = mon->prebuild;
	const struct image_memory *e;

	if (!pb || !pb->used || !pb->final)
		return 0;
	e = memory_of(pb->final, old_badge);
	return !e || e->nonzero_pages * IMAGE_PAGE_SIZE <= PREBUILD_IN_PLACE_BYTES;
}

struct mon_model *prebuild_take_model(struct monitor *mon)
{
	struct mon_model *m = mon->prebuild ? mon->prebuild->model : NULL;

	if (m)
		mon->prebuild->model = NULL;
	return m;
}

int prebuild_take_pd(struct monitor *mon, cap_t *pd, cap_t *cpu)
{
	struct mon_prebuild *pb = mon->prebuild;

	if (!pb || !pb->used || !pb->pd.idx)
		return -ENOENT;
	*pd = pb->pd;
	*cpu = pb->cpu;
	pb->pd = pb->cpu = CAP_INVALID;
	return 0;
}

int prebuild_take_ds(struct monitor *mon, uint64_t old_badge, uint64_t size, cap_t *cap,
		     uint64_t *host)
{
	struct mon_prebuild *pb = mon->prebuild;
	struct pre_ds *d = pb && pb->used ? ds_find(pb, old_badge) : NULL;

	if (!d || d->size != size)
		return -ENOENT;
	for (unsigned k = 0; k < pb->natt; k++)
		pb->att[k].taken |= pb->att[k].ds_id == old_badge;
	*cap = d->cap;
	*host = d->host;
	memset(d, 0, sizeof *d);
	pb->took_ds++;
	return 0;
}

int prebuild_session(struct monitor *mon, const char *service, const char *args,
		     cap_t *out)
{
	struct mon_prebuild *pb = mon->prebuild;

	if (pb && pb->final && !pre_sessions_take(&pb->ses, service, args, out)) {
		pb->took_sessions++;
		return 0;
	}
	return parent_session(mon->env->parent, service, args, out);
}

int prebuild_rom_dataspace(struct monitor *mon, cap_t rom, cap_t *ds, uint64_t *size)
{
	struct mon_prebuild *pb = mon->prebuild;

	if (!pb || !pb->final)
		return rom_dataspace(rom, ds, size);
	return pre_sessions_rom_ds(&pb->ses, rom, ds, size);
}

int prebuild_binary_checked(struct monitor *mon, const struct image_model *im)
{
	struct mon_prebuild *pb = mon->prebuild;

	if (!pb || !pb->final || im != pb->final ||
	    strcmp(im->component.binary, mon->cfg.binary) ||
	    memcmp(im->component.binary_hash, pb->binary_hash, sizeof pb->binary_hash))
		return 0;
	mon->binary = pb->binary;
	return 1;
}

int prebuild_take_thread(struct monitor *mon, uint64_t nr, uint64_t utcb,
			 const char *name, cap_t *obj, cap_t *kthread, uint64_t *badge)
{
	struct mon_prebuild *pb = mon->prebuild;

	if (!pb || !pb->used ||
	    pre_threads_take(&pb->thr, nr, utcb, name, obj, kthread, badge))
		return -ENOENT;
	pb->took_threads++;
	return 0;
}

unsigned prebuild_take_fill(struct monitor *mon, cap_t *fill, unsigned room)
{
	struct mon_prebuild *pb = mon->prebuild;

	return pb && pb->used ? pre_threads_take_fill(&pb->thr, fill, room) : 0;
}

int prebuild_attached(struct monitor *mon, uint64_t old_badge, uint64_t at, uint64_t off,
		      uint64_t size, unsigned perm)
{
	struct mon_prebuild *pb = mon->prebuild;
	int k = pb && pb->used ? att_find(pb, old_badge, at, off, size, perm) : -1;

	return k >= 0 && pb->att[k].taken;
}
