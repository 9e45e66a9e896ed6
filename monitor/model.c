/*
 * The checkpoint model's copy of the target's memory, addressed by target
 * address: a range inside one region (model_ptr), or read and written
 * across adjacent regions (a heap object may straddle two dataspaces
 * attached back to back).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/model.h"

/* The bytes [off, off + size) of r are there (a post-copy model). */
static int there(const struct mon_model *model, const struct mon_model_region *r,
		 uint64_t off, uint64_t size)
{
	if (!model->page_in)
		return 0;
	return model->page_in(model->page_ctx, r->ds_badge, r->off + off, size);
}

void *model_ptr(const struct mon_model *model, uint64_t addr, uint64_t size)
{
	for (unsigned i = 0; i < model->nregions; i++) {
		const struct mon_model_region *r = &model->region[i];
		if (r->rm || (!r->data && !r->live))
			continue;
		if (addr >= r->at && size <= r->size && addr - r->at <= r->size - size)
			return there(model, r, addr - r->at, size)
				   ? NULL
				   : (r->live ? r->live : r->data) + (addr - r->at);
	}
	return NULL;
}

void model_free(struct mon_model *model)
{
	for (unsigned i = 0; i < model->nregions; i++) {
		if (!model->page_in) /* else a page channel's buffers */
			free(model->region[i].data);
		free(model->region[i].present);
		free(model->region[i].packed);
		model->region[i].data = model->region[i].present = NULL;
		model->region[i].packed = NULL;
	}
	model->nregions = 0;
}

static int span(const struct mon_model *model, uint64_t g, void *buf, uint64_t size,
		int write)
{
	uint8_t *b = buf;

	while (size) {
		const struct mon_model_region *r = NULL;
		uint64_t n;

		for (unsigned i = 0; i < model->nregions && !r; i++)
			if (!model->region[i].rm &&
			    (model->region[i].data || model->region[i].live) &&
			    g >= model->region[i].at &&
			    g - model->region[i].at < model->region[i].size)
				r = &model->region[i];
		if (!r)
			return -EFAULT;
		n = r->size - (g - r->at);
		n = n < size ? n : size;
		if (there(model, r, g - r->at, n) || (write && !r->data))
			return -EFAULT; /* a streamed region is read only */
		if (write)
			memcpy(r->data + (g - r->at), b, n);
		else
			memcpy(b, (r->live ? r->live : r->data) + (g - r->at), n);
		g += n;
		b += n;
		size -= n;
	}
	return 0;
}

int model_read(const struct mon_model *model, uint64_t g, void *buf, uint64_t size)
{
	return span(model, g, buf, size, 0);
}

int model_write(const struct mon_model *model, uint64_t g, const void *buf, uint64_t size)
{
	return span(model, g, (void *)buf, size, 1);
}
