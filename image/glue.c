/*
 * The glue generated from image/subsystems.def: the section table, the
 * full checkpoint (every subsystem's _checkpoint in list order), the full
 * restore (sections dispatched to their subsystem's _restore, rolled back
 * through every _undo on the first failing return) and the check pass.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image/internal.h"
#include "image/memory_plan.h"

const struct image_subsystem image_subsystems[] = {
#define IMAGE_SUBSYSTEM(sub, type_, record, flags_)                                      \
	{.type = type_,                                                                  \
	 .flags = flags_,                                                                \
	 .name = #sub,                                                                   \
	 .record_size = sizeof(record),                                                  \
	 .checkpoint = image_##sub##_checkpoint,                                         \
	 .restore = image_##sub##_restore,                                               \
	 .undo = image_##sub##_undo,                                                     \
	 .check = image_##sub##_check,                                                   \
	 .sections = image_##sub##_sections},
#include "image/subsystems.def"
#undef IMAGE_SUBSYSTEM
};
const unsigned image_nsubsystems = sizeof(image_subsystems) / sizeof(image_subsystems[0]);

const struct image_subsystem *image_subsystem_of(uint32_t type)
{
	for (unsigned i = 0; i < image_nsubsystems; i++)
		if (image_subsystems[i].type == type)
			return &image_subsystems[i];
	return NULL;
}

const char *image_section_name(uint32_t type)
{
	const struct image_subsystem *s = image_subsystem_of(type);
	return s ? s->name : "?";
}

uint64_t image_count_sections(const struct image_writer *w, const struct image_model *m)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < image_nsubsystems; i++)
		n += image_subsystems[i].type == IMAGE_SEC_memory && w->plan
			 ? w->plan->sections /* counted as the plan was made */
			 : image_subsystems[i].sections(m);
	return n;
}

int image_checkpoint_all(struct image_writer *w, const struct image_model *m)
{
	for (unsigned i = 0; i < image_nsubsystems; i++) {
		int rc = image_subsystems[i].checkpoint(w, m);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void image_undo_all(struct image_model *m)
{
	for (unsigned i = image_nsubsystems; i-- > 0;)
		image_subsystems[i].undo(m);
}

int image_check_all(struct image_reader *r, const struct image_model *m)
{
	for (unsigned i = 0; i < image_nsubsystems; i++) {
		image_reader_at(r, image_subsystems[i].type);
		int rc = image_subsystems[i].check(r, m);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Order and multiplicity of one more section of `s`; o->last is the list
 * position of the previous section's subsystem (-1 before the first). */
static int order_ok(struct image_reader *r, const struct image_subsystem *s,
		    struct image_order *o)
{
	int pos = (int)(s - image_subsystems);
	if (pos < o->last)
		return image_reader_fail(r, "%s section after a %s section (wrong order)",
					 s->name, image_subsystems[o->last].name);
	if ((s->flags & IMAGE_SUB_ONCE) && o->seen[pos])
		return image_reader_fail(r, "second %s section", s->name);
	if (!o->seen[pos]++) {
		r->sec_at_index[s->type] = r->sec_index;
		r->sec_at_off[s->type] = r->sec_off;
	}
	o->last = pos;
	return 0;
}

int image_restore_section(struct image_reader *r, struct image_model *m,
			  const struct image_section *h, const uint8_t *payload,
			  struct image_order *o)
{
	if (image_section_checksum(h, payload) != h->checksum)
		return image_reader_fail(r, "checksum mismatch");
	const struct image_subsystem *s = image_subsystem_of(h->type);
	if (!s)
		return image_reader_fail(r, "unknown type 0x%x", h->type);
	r->sec_type = h->type;
	if (h->flags)
		return image_reader_fail(r, "unknown flags 0x%x", h->flags);
	int rc = order_ok(r, s, o);
	return rc < 0 ? rc : s->restore(r, m, payload, h->length);
}

int image_restore_required(struct image_reader *r, const struct image_order *o)
{
	for (unsigned i = 0; i < image_nsubsystems; i++)
		if ((image_subsystems[i].flags & IMAGE_SUB_REQUIRED) && !o->seen[i])
			return image_reader_fail(r, "no %s section",
						 image_subsystems[i].name);
	return 0;
}

int image_restore_all(struct image_reader *r, struct image_model *m, uint64_t off,
		      uint32_t count)
{
	struct image_order o = {.last = -1};
	int rc = 0;

	for (uint32_t i = 0; i < count; i++) {
		struct image_section h;
		r->sec_index = i;
		r->sec_off = off;
		r->sec_type = 0;
		if (r->size - off < sizeof(h)) {
			rc = image_reader_fail(
			    r, "truncated section header (%zu of %zu bytes)",
			    (size_t)(r->size - off), sizeof(h));
			goto err;
		}
		memcpy(&h, r->base + off, sizeof(h));
		uint64_t left = r->size - off - sizeof(h);
		if (h.length > left) {
			rc = image_reader_fail(
			    r, "truncated: length %llu, %llu bytes left",
			    (unsigned long long)h.length, (unsigned long long)left);
			goto err;
		}
		rc = image_restore_section(r, m, &h, r->base + off + sizeof(h), &o);
		if (rc < 0)
			goto err;
		off += sizeof(h) + h.length;
	}
	r->sec_index = UINT32_MAX;
	r->sec_type = 0;
	if (off != r->size) {
		rc = image_reader_fail(r, "%llu trailing bytes after the last section",
				       (unsigned long long)(r->size - off));
		goto err;
	}
	rc = image_restore_required(r, &o);
	if (rc < 0)
		goto err;
	rc = image_check_all(r, m);
	if (rc < 0)
		goto err;
	return 0;
err:
	image_undo_all(m);
	return rc;
}
