/*
 * Incremental checkpoints: dirty tracking of the target's RAM
 * dataspaces between checkpoints and the selection of the pages written
 * since (monitor/dirty_pages.h).  Tracking is core's (DS_DIRTY_START,
 * FETCH, STOP on the dataspace caps the monitor holds); a FETCH re-arms
 * what it reports, so each checkpoint sees what was written since the
 * one before, and the snapshot and the re-arm happen in the same pause.
 * The stage the pause copies the pages into is monitor/dirty_stage.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "monitor/dirty_state.h"
#include "monitor/restore.h"

#define PAGE INCR_PAGE

static struct mon_incr *incr_of(struct monitor *mon)
{
	if (!mon->incr && (mon->incr = calloc(1, sizeof *mon->incr)))
		mon->incr->payer = mon->env->pd;
	return mon->incr;
}

static struct incr_ds *ds_find(struct mon_incr *in, uint64_t badge)
{
	for (unsigned i = 0; i < in->nds; i++)
		if (in->ds[i].badge == badge)
			return &in->ds[i];
	return NULL;
}

/* The header's image id of the file at path: 0 or -1 with err. */
static int header_id(const char *path, uint64_t *id, char *err, size_t n)
{
	struct image_header h;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got = fd < 0 ? -1 : read(fd, &h, sizeof h);

	if (fd >= 0)
		close(fd);
	if (got != (ssize_t)sizeof h || h.magic != IMAGE_MAGIC) {
		snprintf(err, n, "parent %s: %s", path,
			 got < 0 ? strerror(errno) : "not a capsule image");
		return -1;
	}
	*id = h.image_id;
	return 0;
}

int incr_begin(struct monitor *mon, const struct incr_request *req, char *err,
	       size_t errlen)
{
	struct mon_incr *in = incr_of(mon);
	uint8_t hash[IMAGE_HASH_SIZE];
	struct stat sb;
	uint64_t id;

	if (!in) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	in->track = req->track || req->parent;
	in->incremental = 0;
	in->pages_copied = in->fetch_us = in->copy_us = 0;
	in->fetch_cpu_us = in->copy_cpu_us = 0;
	in->nlive = 0;
	in->sent_fresh = 1;
	if (in->stage)
		in->stage->n = in->stage->used = 0;
	if (!req->parent)
		return 0;
	if (!in->base_id) {
		snprintf(err, errlen,
			 "parent %s: no checkpoint of this target was taken with dirty "
			 "tracking since it started here",
			 req->parent);
		return -ENOENT;
	}
	/* a migration's round streamed through a FIFO (tools/migrate_send.c)
	 * has no file to read its id from: the path this monitor wrote it
	 * to names it, and its hash was taken as it was written */
	if (req->spool && !stat(req->parent, &sb) && S_ISFIFO(sb.st_mode))
		id = strcmp(req->parent, in->base_path) ? 0 : in->base_id;
	else if (header_id(req->parent, &id, err, errlen))
		return -EINVAL;
	if (id != in->base_id) {
		snprintf(err, errlen,
			 "parent %s is image %llu; pages are tracked since this "
			 "target's last checkpoint, image %llu (%s)",
			 req->parent, (unsigned long long)id,
			 (unsigned long long)in->base_id, in->base_path);
		return -EINVAL;
	}
	if (req->spool)
		memcpy(hash, in->base_hash, sizeof hash);
	else if (image_file_hash(req->parent, hash, err, errlen))
		return -EIO;
	if (memcmp(hash, in->base_hash, sizeof hash)) {
		snprintf(err, errlen, "parent %s changed since it was written",
			 req->parent);
		return -EINVAL;
	}
	if (in->base_depth + 1 >= IMAGE_CHAIN_MAX) {
		snprintf(err, errlen, "parent %s: a chain of %u images is the longest",
			 req->parent, IMAGE_CHAIN_MAX);
		return -E2BIG;
	}
	snprintf(in->base_path, sizeof in->base_path, "%s", req->parent);
	in->incremental = 1;
	return 0;
}

/* This checkpoint's dirty bitmap of ds d (taken once: core re-arms the
 * pages after its answer, out of the pause, and reports them again next
 * time; peeked: nothing is re-armed). */
static int fetch(struct incr_ds *d, int peek)
{
	int64_t n;

	if (d->bits)
		return 0;
	if (!(d->bits = calloc((d->pages + 63) / 64 + 1, sizeof *d->bits)))
		return -ENOMEM;
	n = peek ? ds_dirty_peek_all(d->cap, d->pages, d->bits)
		 : ds_dirty_take_all(d->cap, d->pages, d->bits);
	d->taken |= !peek && n >= 0;
	return n < 0 ? (int)n : 0;
}

/* Track ds from now on (or re-arm it); NULL if core will not (a ROM, no
 * quota for the bitmap): its regions are then copied whole. */
static struct incr_ds *track(struct mon_incr *in, cap_t cap, uint64_t badge,
			     uint64_t size)
{
	struct incr_ds *d = ds_find(in, badge);
	uint64_t pages;

	if (d) {
		free(d->bits);
		d->bits = NULL;
		return fetch(d, 0) ? NULL : d;
	}
	if (in->nds == MON_MAX_REGIONS || ds_dirty_start_paid(cap, in->payer, 0, &pages))
		return NULL;
	d = &in->ds[in->nds++];
	*d = (struct incr_ds){.badge = badge, .cap = cap, .pages = pages};
	(void)size;
	return d;
}

/* Read the cache lines of a page (into this core's caches). */
static void warm_page(const uint8_t *p)
{
	for (uint64_t o = 0; o < PAGE; o += 64)
		(void)*(const volatile uint64_t *)(p + o);
}

/* The pages written so far in the dataspaces tracked since an earlier
 * checkpoint (peeked: nothing taken, nothing re-armed); with warm, each
 * of them read once (see incr_warm). */
static uint64_t dirty_now(struct monitor *mon, struct mon_incr *in, int warm)
{
	uint64_t n = 0, *bits, host;

	for (unsigned i = 0; i < in->nds; i++) {
		struct incr_ds *d = &in->ds[i];
		int64_t k;

		if (d->fresh || !(bits = calloc((d->pages + 63) / 64 + 1, sizeof *bits)))
			continue;
		k = ds_dirty_peek_all(d->cap, d->pages, bits);
		n += k > 0 ? (uint64_t)k : 0;
		if (warm && !d->view &&
		    !pd_attach(mon->env->pd, d->cap, 0, 0, d->pages * PAGE, MEM_R, &host))
			d->view = host;
		for (uint64_t p = 0; warm && d->view && k > 0 && p < d->pages; p++)
			if ((bits[p / 64] >> (p % 64)) & 1)
				warm_page((const uint8_t *)(uintptr_t)d->view + p * PAGE);
		free(bits);
	}
	return n;
}

void incr_warm(struct monitor *mon)
{
	struct mon_incr *in = mon->incr;
	uint64_t n;

	if (!in || !in->track || !in->incremental)
		return;
	if (in->stage) /* the stage first: the pages are what the copy reads */
		for (uint64_t p = 0; p < in->last_copied && p < in->stage->cap; p++)
			warm_page(in->stage->buf + p * PAGE);
	n = dirty_now(mon, in, 1);
	incr_stage_room(in, n * 5 / 4 + 64);
}

void incr_warm_freeze(struct monitor *mon)
{
	struct mon_incr *in = mon->incr;

	if (!in || in->track || !in->stage || !in->sent.n ||
	    in->sent.image_id != in->base_id)
		return;
	uint64_t t0 = mon_now_us(), n;
	for (uint64_t p = 0; p < in->sent.n && p < in->stage->cap; p++)
		warm_page(in->stage->buf + p * PAGE);
	n = dirty_now(mon, in, 1);
	for (unsigned i = 0; i < in->nds; i++) {
		if (in->ds[i].view)
			pd_detach(mon->env->pd, in->ds[i].view);
		in->ds[i].view = 0;
	}
	env_log(mon->env,
		"monitor: before the freeze: %llu pages written and %u of the round "
		"before read into the caches in %llu us",
		(unsigned long long)n, in->sent.n,
		(unsigned long long)(mon_now_us() - t0));
}

void incr_prestart(struct monitor *mon)
{
	struct mon_incr *in = mon->incr;
	uint64_t pages;

	/* before the pause: room for as many pages as last time, and some
	 * (the first incremental checkpoint grew it in its pause, 655 pages
	 * written for the first time there: 12 ms of CPU on this host, see
	 * struct incr_stage) */
	if (in && in->track && in->incremental)
		incr_stage_room(
		    in,
		    (in->last_copied ? in->last_copied : dirty_now(mon, in, 0)) * 5 / 4 +
			64);

	for (int i = 0; in && in->track && i < MON_MAX_REGIONS; i++) {
		const struct mon_region *g = &mon->region[i];
		const struct mon_record *ds =
		    g->used ? record_find(mon, g->ds_badge) : NULL;
		if (!ds || ds->cls == MON_CLASS_MANAGED_DS || ds_find(in, g->ds_badge) ||
		    in->nds == MON_MAX_REGIONS ||
		    ds_dirty_start_paid(ds->cap, in->payer, 1, &pages))
			continue;
		in->ds[in->nds++] = (struct incr_ds){
		    .badge = g->ds_badge, .cap = ds->cap, .pages = pages, .fresh = 1};
	}
}

/* The negation of incr_region's test for a full copy. */
int incr_partial(struct monitor *mon, const struct mon_region *g)
{
	struct mon_incr *in = mon->incr;
	struct incr_ds *d;

	if (!in || !in->track || !in->incremental || g->off % PAGE || g->size % PAGE)
		return 0;
	d = ds_find(in, g->ds_badge);
	return d && !d->fresh;
}

int incr_region(struct monitor *mon, cap_t ds, const struct mon_region *g,
		struct mon_model_region *mr, int in_place)
{
	struct mon_incr *in = mon->incr;
	struct incr_ds *d;
	uint64_t host;
	int rc;

	if (!in || !in->track)
		return 0;
	d = ds_find(in, g->ds_badge);
	if (!in->incremental || !d || d->fresh || g->off % PAGE || g->size % PAGE) {
		/* a full copy: tracking starts (again) now */
		if (!d || !d->bits)
			track(in, ds, g->ds_badge, g->size);
		return 0;
	}
	uint64_t t0 = mon_now_us(), c0 = mon_cpu_us();
	if ((rc = fetch(d, in_place)))
		return rc;
	in->fetch_us += mon_now_us() - t0;
	in->fetch_cpu_us += mon_cpu_us() - c0;
	if (in_place) { /* the writer reads these pages where they are */
		int64_t k = incr_select_dirty(d, g, mr);

		if (k < 0)
			return (int)k;
		in->pages_copied += (uint64_t)k;
		return 2;
	}
	if (d->view) {
		host = d->view + g->off;
	} else {
		if (in->nlive == MON_MAX_REGIONS)
			return -ENOSPC;
		if ((rc = pd_attach(mon->env->pd, ds, 0, g->off, g->size, MEM_R, &host)))
			return rc;
		in->live[in->nlive++] = host;
	}
	mr->live = (uint8_t *)(uintptr_t)host;
	t0 = mon_now_us();
	c0 = mon_cpu_us();
	rc = incr_copy_dirty(in, d, g, mr, mr->live);
	in->copy_us += mon_now_us() - t0;
	in->copy_cpu_us += mon_cpu_us() - c0;
	return rc ? rc : 1; /* handled: the caller copies nothing more */
}

void incr_image(struct monitor *mon, struct image_model *im)
{
	struct mon_incr *in = mon->incr;

	if (!in)
		return;
	while (!in->image_id)
		if (getrandom(&in->image_id, sizeof in->image_id, 0) !=
		    sizeof in->image_id)
			in->image_id = (uint64_t)(uintptr_t)in ^ (uint64_t)time(NULL);
	im->image_id = in->image_id;
	if (!in->incremental)
		return;
	im->flags |= IMAGE_F_INCREMENTAL;
	im->parent_id = in->base_id;
	im->parent =
	    (struct image_parent){.id = in->base_id, .depth = in->base_depth + 1};
	memcpy(im->parent.hash, in->base_hash, sizeof im->parent.hash);
	snprintf(im->parent.path, sizeof im->parent.path, "%s", in->base_path);
}

void incr_drop_live(struct monitor *mon, struct mon_model *model)
{
	struct mon_incr *in = mon->incr;

	for (unsigned i = 0; i < model->nregions; i++)
		model->region[i].live = NULL;
	for (unsigned i = 0; in && i < in->nlive; i++)
		pd_detach(mon->env->pd, in->live[i]);
	if (in)
		in->nlive = 0;
}

void incr_rearm(struct monitor *mon)
{
	struct mon_incr *in = mon->incr;

	for (unsigned i = 0; in && i < in->nds; i++)
		if (in->ds[i].taken) {
			ds_dirty_rearm(in->ds[i].cap); /* failed: reported again */
			in->ds[i].taken = 0;
		}
}

void incr_rearm_resumed(struct monitor *mon)
{
	if (!mon->paused_since_us) /* monitor_resume clears it */
		incr_rearm(mon);
}

void incr_end(struct monitor *mon, struct mon_model *model, const char *path,
	      const uint8_t *hash, int rc)
{
	struct mon_incr *in = mon->incr;
	char err[300];

	if (!in)
		return;
	in->last_copied = in->incremental ? in->pages_copied : 0;
	if (in->incremental)
		env_log(
		    mon->env,
		    "monitor: incremental: %llu pages taken in the pause (dirty bitmaps "
		    "%llu us, CPU %llu us; copies %llu us, CPU %llu us)",
		    (unsigned long long)in->pages_copied,
		    (unsigned long long)in->fetch_us,
		    (unsigned long long)in->fetch_cpu_us, (unsigned long long)in->copy_us,
		    (unsigned long long)in->copy_cpu_us);
	incr_drop_live(mon, model);
	incr_rearm(mon);
	for (unsigned i = 0; i < in->nds; i++) {
		free(in->ds[i].bits);
		in->ds[i].bits = NULL;
		in->ds[i].fresh = 0;
		if (in->ds[i].view)
			pd_detach(mon->env->pd, in->ds[i].view);
		in->ds[i].view = 0;
	}
	if (in->track && !rc && path &&
	    (hash ? !!memcpy(in->base_hash, hash, sizeof in->base_hash)
		  : !image_file_hash(path, in->base_hash, err, sizeof err))) {
		in->base_depth = in->incremental ? in->base_depth + 1 : 0;
		in->base_id = in->image_id;
		snprintf(in->base_path, sizeof in->base_path, "%s", path);
		if (!in->sent_fresh) /* its staged pages are what it carries */
			sent_pages_seal(&in->sent, in->image_id);
	} else if (in->track) {
		/* the pages fetched are re-armed: no image holds them, so
		 * no later image may build on an earlier one */
		in->base_id = 0;
	}
	if (!in->sent_fresh && in->sent.image_id != in->base_id)
		sent_pages_seal(&in->sent, 0); /* not written: no base */
	in->sent_fresh = 1;
	in->image_id = 0;
	in->track = in->incremental = 0;
}

void incr_forget(struct monitor *mon)
{
	struct mon_incr *in = mon->incr;

	if (!in)
		return;
	/* no DS_DIRTY_STOP: the target is destroyed next (its only caller,
	 * monitor_target_ended), and core ends the tracking with each
	 * dataspace without making its pages writable again, which cost
	 * the node's thread 3-11 ms for 256 MiB */
	for (unsigned i = 0; i < in->nds; i++) {
		if (in->ds[i].view)
			pd_detach(mon->env->pd, in->ds[i].view);
		free(in->ds[i].bits);
	}
	if (in->stage)
		free(in->stage->buf);
	free(in->stage);
	sent_pages_free(&in->sent);
	free(in);
	mon->incr = NULL;
}

uint64_t incr_last_pages(const struct monitor *mon)
{
	return mon->incr ? mon->incr->pages_copied : 0;
}
