/*
 * The parent subsystem: the one record by which an incremental image
 * names the image it builds on (id, XXH3-128 of its file, where it was
 * found, the chain's depth).  A full image has none.  Following the chain
 * is image/chain.c's.
 */
#include <errno.h>
#include <string.h>

#include "image/internal.h"

int image_parent_checkpoint(struct image_writer *w, const struct image_model *m)
{
	if (!(m->flags & IMAGE_F_INCREMENTAL))
		return 0;
	return image_put_records(w, IMAGE_SEC_parent, &m->parent, 1, sizeof(m->parent));
}

int image_parent_restore(struct image_reader *r, struct image_model *m,
			 const void *payload, uint64_t len)
{
	if (len != sizeof(m->parent))
		return image_reader_fail(r, "length %llu, expected one %zu-byte record",
					 (unsigned long long)len, sizeof(m->parent));
	memcpy(&m->parent, payload, sizeof(m->parent));
	if (!m->parent.id)
		return image_reader_fail(r, "parent id 0");
	return 0;
}

void image_parent_undo(struct image_model *m)
{
	memset(&m->parent, 0, sizeof(m->parent));
}

int image_parent_check(struct image_reader *r, const struct image_model *m)
{
	static const uint8_t none[IMAGE_HASH_SIZE];
	const struct image_parent *p = &m->parent;

	if (!(m->flags & IMAGE_F_INCREMENTAL)) {
		if (p->id)
			return image_reader_fail(r, "a full image names a parent");
		return 0;
	}
	if (!p->id)
		return image_reader_fail(r, "an incremental image without its parent "
					    "record");
	if (p->id != m->parent_id)
		return image_reader_fail(r, "parent id %llu, the header's is %llu",
					 (unsigned long long)p->id,
					 (unsigned long long)m->parent_id);
	if (!memcmp(p->hash, none, sizeof(none)))
		return image_reader_fail(r, "no hash of the parent");
	if (!p->depth || p->depth >= IMAGE_CHAIN_MAX)
		return image_reader_fail(r, "chain depth %u (1..%u)", p->depth,
					 IMAGE_CHAIN_MAX - 1);
	if (p->reserved)
		return image_reader_fail(r, "parent reserved field 0x%x", p->reserved);
	if (!image_str_ok(p->path, sizeof(p->path)) || !p->path[0])
		return image_reader_fail(r, "parent path empty or unterminated");
	return 0;
}

uint64_t image_parent_sections(const struct image_model *m)
{
	return (m->flags & IMAGE_F_INCREMENTAL) ? 1 : 0;
}
