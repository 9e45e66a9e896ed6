/*
 * Loading a static x86-64 ELF executable into a child's PD.  Parsing is
 * separate from loading so that it can be tested on plain memory.
 */
#ifndef INIT_ELF_H
#define INIT_ELF_H

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
	const uint8_t *data; /* the file, as mapped in init */
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

/*
 * Load img into the PD session child_pd: per region a RAM dataspace from
 * child_pd, filled through a temporary attachment in init's own PD
 * (own_pd, a native PD: attach returns a host pointer), then attached in
 * the child at the region's address with its permissions.  0 or -errno
 * with *why set; on failure the dataspaces allocated so far stay charged
 * to child_pd (freed when that session is closed).
 */
int elf_load(const struct elf_image *img, cap_t own_pd, cap_t child_pd, const char **why);

#endif
