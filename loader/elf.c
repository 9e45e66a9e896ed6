/*
 * ELF parser for guest binaries (loader/elf.h).  Every field of the image
 * is checked before anything is allocated: a broken binary yields an error
 * naming what is wrong, never a crash of the component that loads it.
 * (Hand-written: the format is small and libelf would add a dependency
 * for three structs.)
 */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include <base/sessions.h>

#include "loader/elf.h"

#define PAGE_DOWN(x) ((x) & ~(ELF_PAGE - 1))

static int bad(const char **why, const char *what)
{
	*why = what;
	return -ENOEXEC;
}

static int check_header(const Elf64_Ehdr *eh, uint64_t size, const char **why)
{
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG))
		return bad(why, "not an ELF file");
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return bad(why, "not a 64-bit ELF file");
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return bad(why, "not a little-endian ELF file");
	if (eh->e_ident[EI_VERSION] != EV_CURRENT || eh->e_version != EV_CURRENT)
		return bad(why, "unknown ELF version");
	if (eh->e_type != ET_EXEC)
		return bad(why, "not a static executable (ET_EXEC)");
	if (eh->e_machine != EM_X86_64)
		return bad(why, "not an x86-64 executable");
	if (eh->e_ehsize != sizeof(Elf64_Ehdr) || eh->e_phentsize != sizeof(Elf64_Phdr))
		return bad(why, "unexpected ELF header sizes");
	if (eh->e_phnum == 0 || eh->e_phnum > ELF_MAX_PHDRS)
		return bad(why, "bad number of program headers");
	if (eh->e_phoff > size ||
	    (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > size - eh->e_phoff)
		return bad(why, "program headers out of bounds");
	return 0;
}

static unsigned perm_of(uint32_t flags)
{
	return (flags & PF_R ? MEM_R : 0) | (flags & PF_W ? MEM_W : 0) |
	       (flags & PF_X ? MEM_X : 0);
}

/* Add the page range of one segment, merging with overlapping regions. */
static int add_region(struct elf_image *img, uint64_t start, uint64_t end, unsigned perm,
		      const char **why)
{
	int i = 0, j;

	while (i < img->nregions && img->region[i].end <= start)
		i++;
	if (i < img->nregions && img->region[i].start < end) {
		/* overlaps region i (and maybe the following ones): merge */
		struct elf_region *r = &img->region[i];
		if (start < r->start)
			r->start = start;
		if (end > r->end)
			r->end = end;
		r->perm |= perm;
		for (j = i + 1; j < img->nregions && img->region[j].start < r->end; j++) {
			if (img->region[j].end > r->end)
				r->end = img->region[j].end;
			r->perm |= img->region[j].perm;
		}
		memmove(&img->region[i + 1], &img->region[j],
			(img->nregions - j) * sizeof img->region[0]);
		img->nregions -= j - i - 1;
		return 0;
	}
	if (img->nregions == ELF_MAX_REGIONS)
		return bad(why, "too many loadable segments");
	memmove(&img->region[i + 1], &img->region[i],
		(img->nregions - i) * sizeof img->region[0]);
	img->region[i] = (struct elf_region){start, end, perm};
	img->nregions++;
	return 0;
}

static int check_load(struct elf_image *img, const Elf64_Phdr *ph, const char **why)
{
	uint64_t end;

	if (ph->p_filesz > ph->p_memsz)
		return bad(why, "segment file size exceeds its memory size");
	if (ph->p_offset > img->size || ph->p_filesz > img->size - ph->p_offset)
		return bad(why, "segment out of bounds of the file");
	if (ph->p_flags & ~(uint32_t)(PF_R | PF_W | PF_X))
		return bad(why, "unknown segment flags");
	if (ph->p_memsz == 0)
		return 0;
	if (ph->p_vaddr < ELF_PAGE || ph->p_vaddr >= GUEST_UTCB_AREA ||
	    ph->p_memsz > GUEST_UTCB_AREA - ph->p_vaddr)
		return bad(why, "segment outside the guest image area");
	end = (ph->p_vaddr + ph->p_memsz + ELF_PAGE - 1) & ~(ELF_PAGE - 1);
	img->segment[img->nsegments++] =
	    (struct elf_segment){ph->p_vaddr, ph->p_offset, ph->p_filesz};
	return add_region(img, PAGE_DOWN(ph->p_vaddr), end, perm_of(ph->p_flags), why);
}

int elf_parse(const void *data, uint64_t size, struct elf_image *img, const char **why)
{
	Elf64_Ehdr eh;
	int rc, entry_ok = 0;

	memset(img, 0, sizeof *img);
	img->data = data;
	img->size = size;
	if (!data || size < sizeof eh)
		return bad(why, "not an ELF file");
	memcpy(&eh, data, sizeof eh);
	if ((rc = check_header(&eh, size, why)))
		return rc;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, (const uint8_t *)data + eh.e_phoff + i * sizeof ph,
		       sizeof ph);
		if (ph.p_type == PT_INTERP || ph.p_type == PT_DYNAMIC)
			return bad(why, "dynamically linked (not supported)");
		if (ph.p_type == PT_TLS)
			return bad(why, "thread-local storage (not supported)");
		if (ph.p_type == PT_LOAD && (rc = check_load(img, &ph, why)))
			return rc;
	}
	if (!img->nregions)
		return bad(why, "no loadable segment");
	img->entry = eh.e_entry;
	for (int i = 0; i < img->nregions; i++)
		entry_ok |= (img->region[i].perm & MEM_X) &&
			    eh.e_entry >= img->region[i].start &&
			    eh.e_entry < img->region[i].end;
	if (!entry_ok)
		return bad(why, "entry point not in an executable segment");
	return 0;
}

/* Fill one region's host copy from every segment that lies in it. */
void elf_fill_region(const struct elf_image *img, const struct elf_region *r,
		     uint8_t *host)
{
	memset(host, 0, r->end - r->start);
	for (int i = 0; i < img->nsegments; i++) {
		const struct elf_segment *s = &img->segment[i];
		if (s->vaddr < r->start || s->vaddr >= r->end)
			continue;
		memcpy(host + (s->vaddr - r->start), img->data + s->offset, s->filesz);
	}
}
