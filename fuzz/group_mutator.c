/*
 * The structure-aware mutation of a group image (image/group.h) for
 * fuzz_image: one of the header's fields before its checksums, one
 * member record or one member-object record is changed by libFuzzer's
 * own mutation, in place (the file keeps its size), and the table and
 * header checksums are computed again, so that mutants reach the
 * reader's checks of the records and of the table against the members'
 * images instead of stopping at a checksum.
 */
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "fuzz/image_mutator.h"
#include "image/group.h"

/* Mutate the n bytes at p in place: libFuzzer may shorten them; what it
 * cut keeps its old bytes. */
static void mutate_in_place(uint8_t *p, size_t n)
{
	uint8_t tmp[sizeof(struct image_group_header)];

	if (n > sizeof tmp)
		n = sizeof tmp;
	memcpy(tmp, p, n);
	memcpy(p, tmp, LLVMFuzzerMutate(tmp, n, n));
}

size_t group_mutate(uint8_t *data, size_t size, size_t max, unsigned seed)
{
	struct image_group_header h;
	size_t members, table, pick;

	if (size < sizeof h)
		return LLVMFuzzerMutate(data, size, max);
	memcpy(&h, data, sizeof h);
	members = (size_t)h.nmembers * sizeof(struct image_group_member);
	table = members + (size_t)h.nrefs * sizeof(struct image_member_ref);
	if (h.nmembers > IMAGE_GROUP_MAX || h.nrefs > IMAGE_GROUP_REFS ||
	    table > size - sizeof h)
		return LLVMFuzzerMutate(data, size, max);
	pick = seed % (1 + h.nmembers + h.nrefs);
	if (!pick) /* the header before its checksums */
		mutate_in_place(data,
				offsetof(struct image_group_header, table_checksum));
	else if (pick <= h.nmembers)
		mutate_in_place(data + sizeof h +
				    (pick - 1) * sizeof(struct image_group_member),
				sizeof(struct image_group_member));
	else
		mutate_in_place(data + sizeof h + members +
				    (pick - 1 - h.nmembers) *
					sizeof(struct image_member_ref),
				sizeof(struct image_member_ref));
	memcpy(&h, data, sizeof h);
	members = (size_t)h.nmembers * sizeof(struct image_group_member);
	table = members + (size_t)h.nrefs * sizeof(struct image_member_ref);
	if (h.nmembers <= IMAGE_GROUP_MAX && table <= size - sizeof h)
		h.table_checksum = XXH3_64bits(data + sizeof h, table);
	h.checksum = XXH3_64bits(&h, offsetof(struct image_group_header, checksum));
	memcpy(data, &h, sizeof h);
	return size;
}
