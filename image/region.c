/*
 * The region subsystem: attachments of the address space, the stack area
 * and managed region maps.  Validation: every region names dataspaces of
 * the image, lies within the attached dataspace (and within its managed
 * region map), and regions of one region map do not overlap.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image/internal.h"

int image_region_checkpoint(struct image_writer *w, const struct image_model *m)
{
	return image_put_records(w, IMAGE_SEC_region, m->regions, m->nregions,
				 sizeof(*m->regions));
}

int image_region_restore(struct image_reader *r, struct image_model *m,
			 const void *payload, uint64_t len)
{
	return image_get_records(r, payload, len, sizeof(*m->regions),
				 (void **)&m->regions, &m->nregions);
}

void image_region_undo(struct image_model *m)
{
	free(m->regions);
	m->regions = NULL;
	m->nregions = 0;
}

uint64_t image_region_sections(const struct image_model *m)
{
	return 1;
}

static int one_region(struct image_reader *r, const struct image_model *m,
		      const struct image_ids *ds, const struct image_region *g)
{
	unsigned long long a = g->addr;
	if (!g->rm_kind || g->rm_kind >= IMAGE_RM_MAX_)
		return image_reader_fail(r, "region 0x%llx: unknown region map kind %u",
					 a, g->rm_kind);
	if (g->perms & ~(uint32_t)(MEM_R | MEM_W | MEM_X))
		return image_reader_fail(r, "region 0x%llx: unknown permissions 0x%x", a,
					 g->perms);
	if (!g->size || (g->addr | g->size | g->offset) % IMAGE_PAGE_SIZE ||
	    g->addr + g->size < g->addr)
		return image_reader_fail(
		    r, "region 0x%llx: field size/offset: bad size 0x%llx or alignment",
		    a, (unsigned long long)g->size);
	int64_t i = image_ids_find(ds, g->ds_id);
	if (i < 0)
		return image_reader_fail(r, "region 0x%llx: dataspace %llu not in image",
					 a, (unsigned long long)g->ds_id);
	const struct image_dataspace *d = &m->dataspaces[i];
	if (g->offset > d->size || g->size > d->size - g->offset)
		return image_reader_fail(r,
					 "region 0x%llx: field offset 0x%llx size "
					 "0x%llx: beyond dataspace %llu",
					 a, (unsigned long long)g->offset,
					 (unsigned long long)g->size,
					 (unsigned long long)d->id);
	if (g->rm_kind != IMAGE_RM_MANAGED) {
		if (g->rm_ds)
			return image_reader_fail(r, "region 0x%llx: rm_ds set", a);
		return 0;
	}
	i = image_ids_find(ds, g->rm_ds);
	if (i < 0 || m->dataspaces[i].kind != IMAGE_DS_MANAGED ||
	    m->dataspaces[i].managed.pd_map)
		return image_reader_fail(
		    r, "region 0x%llx: managed region map %llu not in image", a,
		    (unsigned long long)g->rm_ds);
	if (g->addr + g->size > m->dataspaces[i].size)
		return image_reader_fail(r, "region 0x%llx: beyond its region map %llu",
					 a, (unsigned long long)g->rm_ds);
	if (g->rm_ds == g->ds_id)
		return image_reader_fail(
		    r, "region 0x%llx: region map attached into itself", a);
	return 0;
}

/* order: region map (kind, rm_ds), then address */
static int region_cmp(const void *x, const void *y)
{
	const struct image_region *a = *(const struct image_region *const *)x;
	const struct image_region *b = *(const struct image_region *const *)y;
	if (a->rm_kind != b->rm_kind)
		return a->rm_kind < b->rm_kind ? -1 : 1;
	if (a->rm_ds != b->rm_ds)
		return a->rm_ds < b->rm_ds ? -1 : 1;
	return a->addr < b->addr ? -1 : a->addr > b->addr;
}

int image_region_check(struct image_reader *r, const struct image_model *m)
{
	struct image_ids ds = {0};
	const struct image_region **order = NULL;
	uint64_t dup;
	int rc =
	    image_ids_build(&ds, m->dataspaces, m->ndataspaces, sizeof(*m->dataspaces),
			    offsetof(struct image_dataspace, id), &dup);
	if (rc < 0) /* duplicates were refused by the dataspace check */
		goto out;
	order = malloc(((size_t)m->nregions + 1) * sizeof(*order));
	if (!order) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < m->nregions; i++) {
		rc = one_region(r, m, &ds, &m->regions[i]);
		if (rc < 0)
			goto out;
		order[i] = &m->regions[i];
	}
	if (m->nregions > 1)
		qsort(order, m->nregions, sizeof(*order), region_cmp);
	for (uint32_t i = 1; i < m->nregions; i++) {
		const struct image_region *p = order[i - 1], *g = order[i];
		if (p->rm_kind == g->rm_kind && p->rm_ds == g->rm_ds &&
		    p->addr + p->size > g->addr) {
			rc = image_reader_fail(
			    r, "regions 0x%llx+0x%llx and 0x%llx+0x%llx of %s overlap",
			    (unsigned long long)p->addr, (unsigned long long)p->size,
			    (unsigned long long)g->addr, (unsigned long long)g->size,
			    image_rm_kind_name(g->rm_kind));
			goto out;
		}
	}
out:
	free(order);
	image_ids_free(&ds);
	return rc;
}
