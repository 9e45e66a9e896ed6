/*
 * `capsule inspect --page ADDR IMAGE`: one page of the target as the
 * image holds it, as a hex dump (16 bytes a line, with their ASCII).
 * ADDR is an address in the target's address space; the page is found
 * through the region attached there (its dataspace and offset).  An
 * incremental image is read with its parents, so the page is the one a
 * restore would write.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "tools/inspect.h"

#define PAGE 4096ULL

/* The region of the address space holding addr, or NULL. */
static const struct image_region *region_at(const struct image_model *m, uint64_t addr)
{
	for (uint32_t i = 0; i < m->nregions; i++) {
		const struct image_region *r = &m->regions[i];
		if (r->rm_kind == IMAGE_RM_ADDRESS_SPACE && addr >= r->addr &&
		    addr - r->addr < r->size)
			return r;
	}
	return NULL;
}

static const struct image_memory *memory_of(const struct image_model *m, uint64_t ds)
{
	for (uint32_t k = 0; k < m->nmemory; k++)
		if (m->memory[k].ds_id == ds)
			return &m->memory[k];
	return NULL;
}

static void dump(const uint8_t *p, uint64_t at)
{
	for (unsigned l = 0; l < PAGE; l += 16) {
		printf("%#014llx: ", (unsigned long long)(at + l));
		for (unsigned i = 0; i < 16; i++)
			printf("%02x%s", p[l + i], i == 7 ? "  " : " ");
		printf(" |");
		for (unsigned i = 0; i < 16; i++)
			putchar(p[l + i] >= 0x20 && p[l + i] < 0x7f ? p[l + i] : '.');
		printf("|\n");
	}
}

/* Why there is no page at addr: one line naming it, exit status 1. */
static int no_page(const char *path, uint64_t addr, const char *why)
{
	fprintf(stderr, "capsule inspect: %s: page %#llx: %s\n", path,
		(unsigned long long)addr, why);
	return 1;
}

int inspect_page(const char *path, const char *addr_s)
{
	struct image_model *m;
	const struct image_region *r;
	const struct image_memory *mem;
	char err[512], *end;
	uint64_t addr, page, off;
	int rc = 1;

	errno = 0;
	addr = strtoull(addr_s, &end, 0);
	if (end == addr_s || *end || errno) {
		fprintf(stderr,
			"capsule inspect: --page %s: not an address (0x... or decimal; "
			"capsule inspect IMAGE lists its regions)\n",
			addr_s);
		return 2;
	}
	if (image_read_chain(path, &m, err, sizeof err) < 0) {
		fprintf(stderr, "capsule inspect: %s\n", err);
		return 1;
	}
	page = addr & ~(PAGE - 1);
	off = 0;
	if (!(r = region_at(m, addr))) {
		rc = no_page(path, addr,
			     "no region of the address space holds it (capsule inspect "
			     "--section regions IMAGE lists them)");
	} else if (!(mem = memory_of(m, r->ds_id)) || !mem->data) {
		rc = no_page(path, addr,
			     "its dataspace's memory is not in the image (a managed "
			     "dataspace: its pager's)");
	} else if ((off = r->offset + (page - r->addr)) + PAGE > mem->size) {
		rc = no_page(path, addr, "beyond its dataspace");
	} else if (mem->present &&
		   !(mem->present[off / PAGE / 8] >> (off / PAGE % 8) & 1)) {
		rc = no_page(path, addr, "not carried by the image");
	} else {
		printf("page %#llx: dataspace %llu offset %#llx\n",
		       (unsigned long long)page, (unsigned long long)mem->ds_id,
		       (unsigned long long)off);
		dump(mem->data + off, page);
		rc = 0;
	}
	image_model_free(m);
	return rc;
}
