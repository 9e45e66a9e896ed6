/*
 * Incremental checkpoints: dirty tracking of the target's RAM
 * dataspaces between checkpoints and the selection of the pages written
 * since (monitor/dirty_pages.h).  Tracking is core's (DS_DIRTY_START,
 * FETCH, STOP on the dataspace caps the monitor holds); a FETCH re-arms
 * what it reports, so each checkpoint sees what was written since the
 * one before, and the snapshot and the re-arm happen in the same pause.
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

#include "monitor/checkpoint.h"
#include "monitor/dirty_pages.h"
#include "monitor/restore.h"
#include "monitor/sent_pages.h"

#define PAGE 4096ull

struct incr_ds {
	uint64_t badge; /* the dataspace's record */
	cap_t cap;
	uint64_t pages;
	uint64_t *bits; /* this checkpoint's fetch (NULL: not fetched yet) */
	int fresh;	/* started by this checkpoint's incr_prestart: copied whole */
	int taken;	/* fetched with TAKE: to re-arm (incr_rearm) */
	/* the whole dataspace attached by incr_warm (0: none), the pause's
	 * live views then are in it; detached by incr_end, with the target
	 * running (32 attach and detach calls were ~50 us of the pause) */
	uint64_t view;
};

/* The pages an incremental checkpoint copies in its pause, packed, in a
 * buffer kept from one checkpoint to the next: on this host the first
 * write to fresh memory costs ~6-8 us a page even after MADV_POPULATE_
 * WRITE (655 of them, with the region-sized copies' callocs, were ~9 ms
 * of CPU in a 1% checkpoint's pause); memory written before is not.  The
 * writer (incr_stage_settle, on the host worker, the target running)
 * moves them into the regions' own buffers. */
struct incr_stage {
	uint8_t *buf;
	uint64_t cap, used; /* pages */
	unsigned n;
	struct {
		struct mon_model_region *mr;
		uint64_t off, k; /* pages of buf */
	} e[MON_MAX_REGIONS];
};

/* Kept in the monitor between checkpoints. */
struct mon_incr {
	/* the base: the last image written with tracking on */
	uint64_t base_id;
	uint8_t base_hash[IMAGE_HASH_SIZE];
	uint32_t base_depth; /* 0: the base is a full image */
	char base_path[IMAGE_PARENT_PATH];
	/* the checkpoint under way */
	int track, incremental;
	uint64_t image_id, pages_copied, fetch_us, copy_us, fetch_cpu_us, copy_cpu_us;
	struct incr_ds ds[MON_MAX_REGIONS];
	unsigned nds;
	/* host views lent to the model (native attachments) */
	uint64_t live[MON_MAX_REGIONS];
	unsigned nlive;
	cap_t payer; /* the monitor's PD: core's bitmaps cost the target nothing */
	struct incr_stage *stage; /* NULL while a writer has it */
	uint64_t last_copied;	  /* pages, the last checkpoint's */
	/* the stage's pages by dataspace page, once written: the base of a
	 * next image's differences (incr_delta) */
	struct sent_pages sent;
	int sent_fresh; /* no page staged by this checkpoint yet */
};

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

/* Room for `pages` pages in the stage (NULL: no stage); 0 or -ENOMEM.
 * New room is written here, so that a copy into it faults nothing, and
 * it is made of huge pages where the host gives them: the pause's copy
 * then misses the TLB on its source pages only. */
static int stage_room(struct mon_incr *in, uint64_t pages)
{
	struct incr_stage *s = in->stage;
	uint64_t cap, huge = 2ull << 20;
	void *p;

	if (!s && !(s = in->stage = calloc(1, sizeof *s)))
		return -ENOMEM;
	if (pages <= s->cap)
		return 0;
	cap = pages > 2 * s->cap ? pages : 2 * s->cap;
	cap = (cap * PAGE + huge - 1) / huge * (huge / PAGE);
	if (posix_memalign(&p, huge, cap * PAGE))
		return -ENOMEM;
	mon_buf_prefault(p, cap * PAGE);
	if (s->cap) /* the pages of a next image's differences (incr_delta) */
		memcpy(p, s->buf, s->cap * PAGE);
	free(s->buf);
	s->buf = p;
	s->cap = cap;
	return 0;
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
	stage_room(in, n * 5 / 4 + 64);
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
		stage_room(in,
			   (in->last_copied ? in->last_copied : dirty_now(mon, in, 0)) *
				   5 / 4 +
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

/* Bits [b, b + 64) of a bitmap of `pages` bits (zero past its end). */
static uint64_t bits_at(const uint64_t *bits, uint64_t pages, uint64_t b)
{
	uint64_t w = b / 64, lo = bits[w] >> (b % 64);

	return b % 64 && w + 1 < (pages + 63) / 64 ? lo | bits[w + 1] << (64 - b % 64)
						   : lo;
}

uint64_t incr_select_bits(const uint64_t *bits, uint64_t pages, uint64_t first,
			  uint64_t n, uint8_t *present)
{
	uint64_t k = 0;

	if (first >= pages)
		return 0;
	if (n > pages - first)
		n = pages - first;
	for (uint64_t w = 0; w * 64 < n; w++) {
		uint64_t x = bits_at(bits, pages, first + 64 * w);

		if (n - w * 64 < 64)
			x &= (1ull << (n - w * 64)) - 1;
		for (unsigned j = 0; j < 8; j++) /* bit p % 8 of byte p / 8 */
			present[w * 8 + j] = (uint8_t)(x >> (8 * j));
		k += (uint64_t)__builtin_popcountll(x);
	}
	return k;
}

/* mr->present: the pages of region g that d's bitmap has (a bitmap of
 * the region's pages); their count.  A word at a time: 65536 pages bit
 * by bit were some 50 us of the pause. */
static int64_t select_dirty(const struct incr_ds *d, const struct mon_region *g,
			    struct mon_model_region *mr)
{
	uint64_t n = g->size / PAGE;

	if (!(mr->present = calloc(n / 8 + 8, 1)))
		return -ENOMEM;
	return (int64_t)incr_select_bits(d->bits, d->pages, g->off / PAGE, n,
					 mr->present);
}

uint64_t incr_present_pages(const struct mon_model_region *r)
{
	uint64_t n = r->size / PAGE, k = 0, x;

	for (uint64_t w = 0; r->present && w * 64 < n; w++) {
		memcpy(&x, r->present + w * 8, 8);	/* bits past n are clear */
		k += (uint64_t)__builtin_popcountll(x); /* in any byte order */
	}
	return k;
}

/* The pages written, in the pause: packed into the stage (see struct
 * incr_stage); mr->data and mr->packed are made by incr_stage_settle,
 * with the target running (a page fault here costs ~130 us under load,
 * 655 of them were ~90 ms of a 1% checkpoint's pause when the pages went
 * straight to their place in a fresh region-sized copy). */
static int copy_dirty(struct mon_incr *in, struct incr_ds *d, const struct mon_region *g,
		      struct mon_model_region *mr, const uint8_t *host)
{
	int64_t sel = select_dirty(d, g, mr);
	uint64_t n = g->size / PAGE, k = (uint64_t)sel;
	struct incr_stage *s;
	uint8_t *to;
	int rc;

	if (sel < 0)
		return (int)sel;
	if ((rc = stage_room(in, (in->stage ? in->stage->used : 0) + k)))
		return rc;
	if (in->sent_fresh) { /* the stage is overwritten from here on */
		sent_pages_reset(&in->sent);
		in->sent_fresh = 0;
	}
	s = in->stage;
	s->e[s->n].mr = mr;
	s->e[s->n].off = s->used;
	s->e[s->n++].k = k;
	to = k ? s->buf + s->used * PAGE : NULL;
	s->used += k;
	for (uint64_t p = 0, at = s->used - k; p < n; p++)
		if (!mr->present[p / 8])
			p |= 7; /* the next byte's */
		else if ((mr->present[p / 8] >> (p % 8)) & 1) {
			memcpy(to, host + p * PAGE, PAGE);
			to += PAGE;
			sent_pages_add(&in->sent, d->badge, g->off / PAGE + p, at++);
		}
	in->pages_copied += k;
	return 0;
}

struct incr_stage *incr_stage_take(struct monitor *mon)
{
	struct incr_stage *s = mon->incr ? mon->incr->stage : NULL;

	if (s && !s->n)
		return NULL; /* nothing staged: stays */
	if (s)
		mon->incr->stage = NULL;
	return s;
}

int incr_stage_settle(struct incr_stage *s)
{
	for (unsigned i = 0; s && i < s->n; i++) {
		struct mon_model_region *mr = s->e[i].mr;
		uint64_t bytes = s->e[i].k * PAGE;

		if (!(mr->data = calloc(1, mr->size)) ||
		    (bytes && !(mr->packed = malloc(bytes))))
			return -ENOMEM;
		if (bytes)
			memcpy(mr->packed, s->buf + s->e[i].off * PAGE, bytes);
	}
	if (s)
		s->n = s->used = 0;
	return 0;
}

void incr_stage_give(struct monitor *mon, struct incr_stage *s)
{
	if (!s)
		return;
	s->n = s->used = 0;
	if (mon->incr && !mon->incr->stage) {
		mon->incr->stage = s;
		return;
	}
	if (mon->incr) /* the pages it indexes go with this buffer */
		sent_pages_reset(&mon->incr->sent);
	free(s->buf);
	free(s);
}

void incr_unpack_region(struct mon_model_region *r)
{
	const uint8_t *from = r->packed;

	for (uint64_t p = 0; from && r->data && p < r->size / PAGE; p++)
		if ((r->present[p / 8] >> (p % 8)) & 1) {
			memcpy(r->data + p * PAGE, from, PAGE);
			from += PAGE;
		}
	free(r->packed);
	r->packed = NULL;
}

void incr_unpack(struct mon_model *m)
{
	for (unsigned i = 0; i < m->nregions; i++)
		incr_unpack_region(&m->region[i]);
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
		int64_t k = select_dirty(d, g, mr);

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
	rc = copy_dirty(in, d, g, mr, mr->live);
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

/* image_model.delta_base: the page as the parent carried it, from the
 * stage, or NULL. */
static const uint8_t *delta_base(void *arg, uint64_t ds, uint64_t page)
{
	const struct mon_incr *in = arg;
	int64_t at = sent_pages_find(&in->sent, in->base_id, ds, page);

	return at < 0 || !in->stage || (uint64_t)at >= in->stage->cap
		   ? NULL
		   : in->stage->buf + (uint64_t)at * PAGE;
}

int incr_delta(struct monitor *mon, struct image_model *im)
{
	struct mon_incr *in = mon->incr;

	if (!in || !in->incremental || !in->stage || !in->sent_fresh || !in->sent.n ||
	    in->sent.image_id != in->base_id)
		return 0;
	im->delta_base = delta_base;
	im->delta_arg = in;
	return 1;
}

void incr_forget(struct monitor *mon)
{
	struct mon_incr *in = mon->incr;

	if (!in)
		return;
	for (unsigned i = 0; i < in->nds; i++) {
		if (in->ds[i].view)
			pd_detach(mon->env->pd, in->ds[i].view);
		ds_dirty_stop(in->ds[i].cap);
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
