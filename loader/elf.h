/*
 * Parsing a static x86-64 ELF executable into the regions a child's PD
 * gets (loader/loader.h loads them).  Parsing is separate from loading so
 * that it can be tested on plain memory.
 */
#ifndef LOADER_ELF_H
#define LOADER_ELF_H

#include <stdint.h>
#include <base/ipc.h>

#define ELF_MAX_PHDRS	64
#define ELF_MAX_REGIONS 16
#define ELF_PAGE	0x1000ULL

/* One page-aligned piece of the child's image: the union of the PT_LOAD
 * segments whose pages overlap, with their permissions or'ed.
 * Invariants: start and end page aligned, start < end, regions sorted and
 * disjoint, all inside [ELF_PAGE, GUEST_UTCB_AREA). */
struct elf_region {
	uint64_t start, end;
	unsigned perm; /* MEM_R | MEM_W | MEM_X */
};

/* The file part of one PT_LOAD segment (memsz beyond it is zero). */
struct elf_segment {
	uint64_t vaddr, offset, filesz;
};

/* A validated image: every PT_LOAD's file bytes lie inside the image and
 * its memory inside one region; entry lies in an executable region. */
struct elf_image {
	const uint8_t *data; /* the file, as mapped in the loading component */
	uint64_t size;
	uint64_t entry;
	int nregions;
	struct elf_region region[ELF_MAX_REGIONS];
	int nsegments;
	struct elf_segment segment[ELF_MAX_PHDRS];
};

/*
 * Validate the ELF file at data (size bytes) as a static ET_EXEC EM_X86_64
 * executable and compute its regions.  0, or -ENOEXEC with *why set to a
 * short static description ("not an ELF file", "segment out of bounds").
 */
int elf_parse(const void *data, uint64_t size, struct elf_image *img, const char **why);

/* Copy the file bytes of every segment inside region r into host (the
 * region's r->end - r->start bytes, zeroed first). */
void elf_fill_region(const struct elf_image *img, const struct elf_region *r,
		     uint8_t *host);

#endif
