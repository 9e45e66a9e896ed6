/*
 * The final image of a migration restored onto the prebuilt copy
 * (restore_prebuild.h, docs/migration.md): whether it fits the copy
 * (the same binary and quota, every dataspace carried whole by a
 * round), the copy's dataspaces and regions it no longer has freed, and
 * what the restore then takes of the copy instead of making it in the
 * stop — the PD and CPU session, the dataspaces with their attachments,
 * the threads, the sessions at the parent and the binary's check.  The
 * rounds' side is restore_prebuild.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/image_convert.h"
#include "monitor/page_channel.h"
#include "monitor/prebuild_state.h"
#include "monitor/restore.h"

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
		const struct pre_ds *d = prebuild_ds_find(pb, ds->id);

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
			prebuild_ds_free(mon, &pb->ds[k]);
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
		if (ds->kind != IMAGE_DS_RAM || prebuild_memory_of(im, ds->id))
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
	    ((mon->restore_postcopy && (im = page_channel_take_skeleton(path))) ||
	     !image_read_flags(path, IMAGE_READ_STREAM, &im, err, sizeof err)) &&
	    prebuild_continues(mon, im)) {
		if (misfit(mon, im, why, sizeof why)) {
			image_model_free(im);
			prebuild_end(mon, why);
			env_log(mon->env,
				"monitor: prebuild: restoring the whole chain of %s",
				path);
			return 0;
		}
		drop_gone(mon, im);
		prebuild_att_prune(pb, im);
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
	e = prebuild_memory_of(pb->final, old_badge);
	return !e || e->nonzero_pages * IMAGE_PAGE_SIZE <= PREBUILD_IN_PLACE_BYTES;
}

struct mon_model *prebuild_take_model(struct monitor *mon)
{
	struct mon_model *m = mon->prebuild ? mon->prebuild->model : NULL;

	if (m)
		mon->prebuild->model = NULL;
	return m;
}

void *prebuild_take_touched(struct monitor *mon, int which)
{
	struct mon_prebuild *pb = mon->prebuild;
	void *p = NULL;

	if (pb && pb->used && which >= 0 && which < PREBUILD_TOUCHED) {
		p = pb->touched[which];
		pb->touched[which] = NULL;
	}
	return p;
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
	struct pre_ds *d = pb && pb->used ? prebuild_ds_find(pb, old_badge) : NULL;

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
	int k =
	    pb && pb->used ? prebuild_att_find(pb, old_badge, at, off, size, perm) : -1;

	return k >= 0 && pb->att[k].taken;
}
