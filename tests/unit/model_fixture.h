/*
 * For tests that build a checkpoint model from host data: turn a pointer
 * field of the model's copy into the target address it stands for, as
 * the target itself would hold it.  The monitor never needs this (it
 * only reads target addresses), so it lives with the tests.
 */
#ifndef TESTS_MODEL_FIXTURE_H
#define TESTS_MODEL_FIXTURE_H

#include <errno.h>
#include <stdint.h>

#include "monitor/model.h"

/* Host pointer field -> target address in place (NULL stays NULL);
 * -EFAULT if it points outside the model's regions. */
static inline int model_h2g_ptr(const struct mon_model *model, void **field)
{
	const uint8_t *p = *field;

	if (!p)
		return 0;
	for (unsigned i = 0; i < model->nregions; i++) {
		const struct mon_model_region *r = &model->region[i];
		if (r->rm || !r->data)
			continue;
		if (p >= r->data && p < r->data + r->size) {
			*field = (void *)(uintptr_t)(r->at + (uint64_t)(p - r->data));
			return 0;
		}
	}
	return -EFAULT;
}

#endif
