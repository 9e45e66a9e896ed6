/*
 * Back from image/'s struct image_model to the monitor's model, for a
 * restore: sessions, dataspaces, threads, caps, region maps and memory by
 * the ids the image names them with (image_convert.c writes them).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "monitor/image_convert.h"
#include "monitor/restore.h"

#define PAGE 4096ULL

static const struct image_dataspace *find_ds(const struct image_model *im, uint64_t id)
{
	for (uint32_t i = 0; i < im->ndataspaces; i++)
		if (im->dataspaces[i].id == id)
			return &im->dataspaces[i];
	return NULL;
}

static uint64_t thread_badge(const struct image_model *im, uint64_t nr, int obj)
{
	for (uint32_t i = 0; i < im->ncaps; i++) {
		const struct image_cap *c = &im->caps[i];
		uint64_t idx = KCAP_INDEX(c->kcap);
		if (c->obj != nr)
			continue;
		if (!obj && c->class == IMAGE_CAP_FIXED && c->kcap == KCAP_THREAD(nr, 0))
			return c->badge;
		if (obj && c->class == IMAGE_CAP_THREAD && idx >= FIXED_USER_BASE)
			return c->badge;
	}
	return 0;
}

/* The signals queued for each context at the checkpoint (its signal
 * record's pending), submitted again after the restore. */
static int pending_from_image(const struct image_model *im, struct mon_model *m)
{
	for (uint32_t i = 0; i < im->nsignals; i++) {
		if (!im->signals[i].pending)
			continue;
		if (m->npending == MON_MAX_PENDING)
			return -E2BIG;
		m->pending[m->npending].imprint = im->signals[i].imprint;
		m->pending[m->npending++].count = im->signals[i].pending;
	}
	return 0;
}

static int cap_from_image(const struct image_model *im, const struct image_cap *c,
			  struct mon_model_cap *mc, const struct monitor *mon)
{
	const struct image_dataspace *d;
	struct proxy *p;

	*mc = (struct mon_model_cap){c->kcap, c->badge, 0, MON_CLASS_UNKNOWN};
	switch (c->class) {
	case IMAGE_CAP_FIXED:
		mc->cls =
		    KCAP_INDEX(c->kcap) == FIXED_TASK ? MON_CLASS_TASK : MON_CLASS_THREAD;
		mc->aux = c->obj;
		return 0;
	case IMAGE_CAP_SESSION:
		if (KCAP_INDEX(c->kcap) == FIXED_PARENT) {
			mc->cls = MON_CLASS_PARENT;
			return 0;
		}
		p = proxy_find((struct monitor *)mon, c->badge);
		mc->cls = MON_CLASS_SESSION;
		mc->aux = p ? (uint64_t)(p - mon->proxy) : 0;
		return 0;
	case IMAGE_CAP_OUTSIDE:
		mc->cls = MON_CLASS_ROUTED;
		return 0;
	case IMAGE_CAP_DATASPACE:
		d = find_ds(im, c->obj);
		if (!d)
			return -EINVAL;
		mc->cls = d->kind == IMAGE_DS_ROM	? MON_CLASS_ROM_DS
			  : d->kind == IMAGE_DS_MANAGED ? MON_CLASS_MANAGED_DS
							: MON_CLASS_DATASPACE;
		mc->aux = d->size;
		return 0;
	case IMAGE_CAP_REGION_MAP:
		mc->cls = MON_CLASS_REGION_MAP;
		mc->aux = c->arg == IMAGE_RM_STACK_AREA ? PD_STACK_AREA
			  : c->arg == IMAGE_RM_MANAGED	? RM_CREATE
							: PD_ADDRESS_SPACE;
		return 0;
	case IMAGE_CAP_THREAD:
		mc->cls = MON_CLASS_THREAD;
		mc->aux = c->obj;
		return 0;
	case IMAGE_CAP_RPC_GATE:
		mc->cls = MON_CLASS_RPC_GATE;
		mc->aux = thread_badge(im, c->arg, 0);
		return mc->aux ? 0 : -EINVAL;
	case IMAGE_CAP_SIGNAL_SOURCE:
		mc->cls = MON_CLASS_SIGNAL_SOURCE;
		p = proxy_find((struct monitor *)mon, c->badge);
		mc->aux = p ? (uint64_t)(p - mon->proxy) : 0;
		return 0;
	case IMAGE_CAP_SIGNAL_CONTEXT:
		mc->cls = MON_CLASS_SIGNAL_CONTEXT;
		mc->aux = c->arg;
		return 0;
	case IMAGE_CAP_SEMAPHORE_IRQ:
		mc->cls = MON_CLASS_SEMAPHORE;
		return 0;
	case IMAGE_CAP_MEMBER: /* a group member's: the group's restore maps it */
		mc->cls = MON_CLASS_MEMBER;
		mc->aux = c->obj;
		return 0;
	case IMAGE_CAP_DEAD:
		mc->cls = MON_CLASS_SKIPPED;
		mc->aux = c->badge && c->badge != CAP_ID_INVALID; /* a dead object's */
		return 0;
	}
	return -EINVAL;
}

static int rmap_add(struct mon_model *m, const struct mon_model_rmap *mr)
{
	if (m->nrmaps == MON_MAX_RMAPS)
		return -E2BIG;
	m->rmap[m->nrmaps++] = *mr;
	return 0;
}

/* The PD map of kind (PD_ADDRESS_SPACE / PD_STACK_AREA) gets the
 * dataspace d of the image: the one the target held a cap of, if any
 * (a map whose cap it dropped is keyed by the dataspace's id). */
static int pd_map_ds(const struct image_dataspace *d, struct mon_model *m)
{
	uint64_t kind =
	    d->managed.pd_map == IMAGE_RM_STACK_AREA ? PD_STACK_AREA : PD_ADDRESS_SPACE;

	for (unsigned i = 0; i < m->nrmaps; i++)
		if (m->rmap[i].kind == kind) {
			m->rmap[i].ds_badge = d->id;
			m->rmap[i].size = d->size;
			return 0;
		}
	return rmap_add(m, &(struct mon_model_rmap){.badge = d->id,
						    .kind = kind,
						    .size = d->size,
						    .ds_badge = d->id,
						    .nocap = 1});
}

/* The region maps: one per region-map cap, and one per managed dataspace
 * (keyed by its id where the target holds no cap of the map). */
static int rmaps_from_image(const struct image_model *im, struct mon_model *m)
{
	int rc;

	for (uint32_t i = 0; i < im->ncaps; i++) {
		const struct image_cap *c = &im->caps[i];
		if (c->class == IMAGE_CAP_REGION_MAP && c->arg != IMAGE_RM_MANAGED &&
		    (rc = rmap_add(
			 m, &(struct mon_model_rmap){.badge = c->badge,
						     .kind = c->arg == IMAGE_RM_STACK_AREA
								 ? PD_STACK_AREA
								 : PD_ADDRESS_SPACE})))
			return rc;
	}
	for (uint32_t i = 0; i < im->ndataspaces; i++) {
		const struct image_dataspace *d = &im->dataspaces[i];
		struct mon_model_rmap mr = {
		    d->id, RM_CREATE, d->size, d->managed.rm_session, d->id, 0, 1};
		if (d->kind != IMAGE_DS_MANAGED)
			continue;
		if (d->managed.pd_map) {
			if ((rc = pd_map_ds(d, m)))
				return rc;
			continue;
		}
		for (uint32_t k = 0; k < im->ncaps; k++) {
			const struct image_cap *c = &im->caps[k];
			if (c->class == IMAGE_CAP_REGION_MAP && c->obj == d->id) {
				mr.badge = c->badge;
				mr.nocap = 0;
			}
			if (d->managed.fault_kcap && c->kcap == d->managed.fault_kcap)
				mr.sigh = c->badge;
		}
		if ((rc = rmap_add(m, &mr)))
			return rc;
	}
	return 0;
}

static uint64_t rmap_of_ds(const struct mon_model *m, uint64_t ds_id)
{
	for (unsigned i = 0; i < m->nrmaps; i++)
		if (m->rmap[i].kind == RM_CREATE && m->rmap[i].ds_badge == ds_id)
			return m->rmap[i].badge;
	return 0;
}

/* The model's fill: a dataspace's bytes from an image.  A model read
 * with IMAGE_READ_STREAM decompresses them straight into dst; one read
 * whole has them in its memory entry. */
static int image_fill(const void *src, uint64_t ds_badge, void *dst, uint64_t size,
		      char *err, size_t errlen)
{
	const struct image_model *im = src;
	uint64_t written;

	if (im->stream)
		return image_memory_fill(im, ds_badge, dst, size, &written, err, errlen);
	for (uint32_t k = 0; k < im->nmemory; k++)
		if (im->memory[k].ds_id == ds_badge && im->memory[k].size == size &&
		    im->memory[k].data) {
			restore_fill(dst, im->memory[k].data, size);
			return 0;
		}
	snprintf(err, errlen, "image: no memory of dataspace %llu",
		 (unsigned long long)ds_badge);
	return -EINVAL;
}

int image_to_model(const struct image_model *im, const struct monitor *mon,
		   struct mon_model *m)
{
	memset(m, 0, sizeof *m);
	return image_to_model_zeroed(im, mon, m);
}

int image_to_model_zeroed(const struct image_model *im, const struct monitor *mon,
			  struct mon_model *m)
{
	int rc;

	if (im->nthreads > MON_MAX_THREADS || im->nregions > MON_MAX_REGIONS ||
	    im->ncaps > CAP_SLOTS)
		return -E2BIG;
	snprintf(m->binary, sizeof m->binary, "%s", im->component.binary);
	m->cap_map_addr = im->component.cap_map_addr;
	m->report_addr = im->component.cr_report_addr;
	m->abi_version = im->component.cr_abi_version;
	for (uint32_t i = 0; i < im->nthreads; i++) {
		struct mon_model_thread *t = &m->thread[m->nthreads++];
		t->nr = im->threads[i].nr;
		snprintf(t->name, sizeof t->name, "%.*s", (int)sizeof im->threads[i].name,
			 im->threads[i].name);
		t->state = im->threads[i].state;
		t->utcb = im->threads[i].utcb_addr;
		t->badge = thread_badge(im, t->nr, 0);
		t->obj_badge = thread_badge(im, t->nr, 1);
		t->regs = im->threads[i].regs;
		t->utcb_data = im->threads[i].utcb;
	}
	for (uint32_t i = 0; i < im->ncaps; i++) {
		if ((rc = cap_from_image(im, &im->caps[i], &m->cap[m->ncaps], mon)))
			goto err;
		m->count[m->cap[m->ncaps++].cls]++;
	}
	if ((rc = rmaps_from_image(im, m)) || (rc = pending_from_image(im, m)))
		goto err;
	for (uint32_t i = 0; i < im->nregions; i++) {
		const struct image_region *ir = &im->regions[i];
		const struct image_dataspace *d = find_ds(im, ir->ds_id);
		struct mon_model_region *r = &m->region[m->nregions];
		const struct image_memory *mem = NULL;

		for (uint32_t k = 0; k < im->nmemory; k++)
			if (im->memory[k].ds_id == ir->ds_id)
				mem = &im->memory[k];
		rc = -EINVAL;
		if (!d || (ir->rm_kind == IMAGE_RM_MANAGED && !rmap_of_ds(m, ir->rm_ds)))
			goto err;
		*r = (struct mon_model_region){
		    ir->rm_kind == IMAGE_RM_MANAGED ? rmap_of_ds(m, ir->rm_ds) : 0,
		    ir->addr,
		    ir->offset,
		    ir->size,
		    ir->ds_id,
		    d->size,
		    ir->perms,
		    NULL,
		    0,
		    NULL,
		    NULL,
		    NULL,
		    NULL,
		    d->kind == IMAGE_DS_MEMBER ? (int)d->member.owner + 1 : 0};
		/* no bytes of its own (another member's: group_restore.c) */
		if (d->kind == IMAGE_DS_MANAGED || d->kind == IMAGE_DS_MEMBER) {
			m->nregions++;
			continue;
		}
		/* a post-copy skeleton may carry no page of a dataspace */
		if (!mem && (im->flags & IMAGE_F_PARTIAL) && ir->offset <= d->size &&
		    ir->size <= d->size - ir->offset) {
			r->from_src = 1;
			m->nregions++;
			continue;
		}
		if (!mem || ir->offset > mem->size || ir->size > mem->size - ir->offset)
			goto err;
		/* no copy: the restore writes its dataspace from the image */
		r->from_src = 1;
		m->nregions++;
	}
	m->fill = image_fill;
	m->fill_src = im;
	return 0;
err:
	model_free(m);
	return rc;
}

int image_model_copy_memory(const struct image_model *im, struct mon_model *m)
{
	for (unsigned i = 0; i < m->nregions; i++) {
		struct mon_model_region *r = &m->region[i];
		const struct image_memory *mem = NULL;

		if (!r->from_src)
			continue;
		for (uint32_t k = 0; k < im->nmemory; k++)
			if (im->memory[k].ds_id == r->ds_badge)
				mem = &im->memory[k];
		if (!mem || !mem->data || r->off > mem->size ||
		    r->size > mem->size - r->off)
			return -EINVAL;
		if (!(r->data = malloc(r->size)))
			return -ENOMEM;
		memcpy(r->data, mem->data + r->off, r->size);
		r->from_src = 0;
	}
	m->fill = NULL;
	m->fill_src = NULL;
	return 0;
}

int image_announced(const struct image_model *im, struct monitor *mon)
{
	const size_t pre = sizeof IMAGE_NOTE_ANNOUNCE - 1;

	mon->nannounced = 0;
	for (uint32_t i = 0; i < im->ncaps; i++) {
		const struct image_cap *c = &im->caps[i];
		if (c->class != IMAGE_CAP_RPC_GATE ||
		    strncmp(c->note, IMAGE_NOTE_ANNOUNCE, pre))
			continue;
		if (!c->note[pre] || mon->nannounced == 4)
			return -EINVAL;
		snprintf(mon->announced[mon->nannounced].name, MON_NAME_MAX, "%s",
			 c->note + pre);
		mon->announced[mon->nannounced++].badge = c->badge;
	}
	return 0;
}
