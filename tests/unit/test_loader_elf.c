/* init's ELF parser: a static x86-64 executable is accepted with the
 * right regions; every malformed header or segment is rejected by name. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "loader/elf.h"

#define IMG_SIZE 0x3000

/* A minimal image: header, two program headers (text RX at 0x400000,
 * data RW at 0x401010 with bss), bytes "TEXT" and "DATA". */
static uint8_t img[IMG_SIZE];

static Elf64_Ehdr *eh(void)
{
	return (Elf64_Ehdr *)img;
}

static Elf64_Phdr *ph(int i)
{
	return (Elf64_Phdr *)(img + sizeof(Elf64_Ehdr)) + i;
}

static void build(void)
{
	memset(img, 0, sizeof img);
	memcpy(eh()->e_ident, ELFMAG, SELFMAG);
	eh()->e_ident[EI_CLASS] = ELFCLASS64;
	eh()->e_ident[EI_DATA] = ELFDATA2LSB;
	eh()->e_ident[EI_VERSION] = EV_CURRENT;
	eh()->e_type = ET_EXEC;
	eh()->e_machine = EM_X86_64;
	eh()->e_version = EV_CURRENT;
	eh()->e_entry = 0x400100;
	eh()->e_phoff = sizeof(Elf64_Ehdr);
	eh()->e_ehsize = sizeof(Elf64_Ehdr);
	eh()->e_phentsize = sizeof(Elf64_Phdr);
	eh()->e_phnum = 2;
	*ph(0) = (Elf64_Phdr){.p_type = PT_LOAD,
			      .p_flags = PF_R | PF_X,
			      .p_offset = 0x1000,
			      .p_vaddr = 0x400000,
			      .p_filesz = 0x200,
			      .p_memsz = 0x200};
	*ph(1) = (Elf64_Phdr){.p_type = PT_LOAD,
			      .p_flags = PF_R | PF_W,
			      .p_offset = 0x2010,
			      .p_vaddr = 0x401010,
			      .p_filesz = 0x10,
			      .p_memsz = 0x3000};
	memcpy(img + 0x1000, "TEXT", 4);
	memcpy(img + 0x2010, "DATA", 4);
}

static void good_image_regions(void **state)
{
	struct elf_image e;
	const char *why = NULL;

	build();
	assert_int_equal(elf_parse(img, sizeof img, &e, &why), 0);
	assert_int_equal(e.entry, 0x400100);
	assert_int_equal(e.nregions, 2);
	assert_int_equal(e.region[0].start, 0x400000);
	assert_int_equal(e.region[0].end, 0x401000);
	assert_int_equal(e.region[0].perm, MEM_R | MEM_X);
	assert_int_equal(e.region[1].start, 0x401000);
	assert_int_equal(e.region[1].end, 0x405000); /* 0x401010 + 0x3000, rounded */
	assert_int_equal(e.region[1].perm, MEM_R | MEM_W);
	assert_int_equal(e.nsegments, 2);
}

static void segments_sharing_a_page_merge(void **state)
{
	struct elf_image e;
	const char *why = NULL;

	build();
	ph(1)->p_vaddr = 0x400800; /* same page as the end of text */
	ph(1)->p_memsz = 0x10;
	assert_int_equal(elf_parse(img, sizeof img, &e, &why), 0);
	assert_int_equal(e.nregions, 1);
	assert_int_equal(e.region[0].start, 0x400000);
	assert_int_equal(e.region[0].end, 0x401000);
	assert_int_equal(e.region[0].perm, MEM_R | MEM_W | MEM_X);
}

/* One corruption of the good image and the reason it must produce. */
struct bad_case {
	const char *intent;
	void (*corrupt)(void);
	uint64_t size;
	const char *why;
};

static void bad_magic(void)
{
	img[1] = 'X';
}
static void class32(void)
{
	eh()->e_ident[EI_CLASS] = ELFCLASS32;
}
static void big_endian(void)
{
	eh()->e_ident[EI_DATA] = ELFDATA2MSB;
}
static void shared_object(void)
{
	eh()->e_type = ET_DYN;
}
static void arm(void)
{
	eh()->e_machine = EM_AARCH64;
}
static void bad_version(void)
{
	eh()->e_version = 7;
}
static void bad_phentsize(void)
{
	eh()->e_phentsize = 12;
}
static void no_phdrs(void)
{
	eh()->e_phnum = 0;
}
static void phdrs_outside(void)
{
	eh()->e_phoff = IMG_SIZE - 8;
}
static void phoff_huge(void)
{
	eh()->e_phoff = ~0ULL - 8;
}
static void filesz_over_memsz(void)
{
	ph(1)->p_filesz = 0x4000;
}
static void offset_outside(void)
{
	ph(0)->p_offset = IMG_SIZE - 0x10;
}
static void offset_wraps(void)
{
	ph(0)->p_offset = ~0ULL - 0x100;
}
static void vaddr_zero_page(void)
{
	ph(0)->p_vaddr = 0x10;
}
static void vaddr_in_utcb_area(void)
{
	ph(1)->p_vaddr = GUEST_UTCB_AREA;
}
static void memsz_wraps(void)
{
	ph(1)->p_memsz = ~0ULL - 0x1000;
}
static void entry_in_data(void)
{
	eh()->e_entry = 0x401010;
}
static void interp(void)
{
	ph(1)->p_type = PT_INTERP;
}
static void tls(void)
{
	ph(1)->p_type = PT_TLS;
}
static void bad_flags(void)
{
	ph(0)->p_flags |= 0x100;
}
static void nothing_loadable(void)
{
	ph(0)->p_type = ph(1)->p_type = PT_NOTE;
}
static void none(void)
{
}

static const struct bad_case bad_cases[] = {
    {"wrong magic", bad_magic, IMG_SIZE, "not an ELF file"},
    {"shorter than a header", none, 10, "not an ELF file"},
    {"32-bit class", class32, IMG_SIZE, "not a 64-bit ELF file"},
    {"big endian", big_endian, IMG_SIZE, "not a little-endian ELF file"},
    {"shared object", shared_object, IMG_SIZE, "not a static executable (ET_EXEC)"},
    {"other machine", arm, IMG_SIZE, "not an x86-64 executable"},
    {"unknown version", bad_version, IMG_SIZE, "unknown ELF version"},
    {"odd program header size", bad_phentsize, IMG_SIZE, "unexpected ELF header sizes"},
    {"no program headers", no_phdrs, IMG_SIZE, "bad number of program headers"},
    {"program headers past the end", phdrs_outside, IMG_SIZE,
     "program headers out of bounds"},
    {"program header offset wraps", phoff_huge, IMG_SIZE,
     "program headers out of bounds"},
    {"file size above memory size", filesz_over_memsz, IMG_SIZE,
     "segment file size exceeds its memory size"},
    {"segment bytes past the end", offset_outside, IMG_SIZE,
     "segment out of bounds of the file"},
    {"segment offset wraps", offset_wraps, IMG_SIZE, "segment out of bounds of the file"},
    {"segment in the zero page", vaddr_zero_page, IMG_SIZE,
     "segment outside the guest image area"},
    {"segment over the UTCB area", vaddr_in_utcb_area, IMG_SIZE,
     "segment outside the guest image area"},
    {"segment size wraps", memsz_wraps, IMG_SIZE, "segment outside the guest image area"},
    {"entry in a data segment", entry_in_data, IMG_SIZE,
     "entry point not in an executable segment"},
    {"dynamic interpreter", interp, IMG_SIZE, "dynamically linked (not supported)"},
    {"thread-local storage", tls, IMG_SIZE, "thread-local storage (not supported)"},
    {"unknown segment flags", bad_flags, IMG_SIZE, "unknown segment flags"},
    {"nothing to load", nothing_loadable, IMG_SIZE, "no loadable segment"},
};

static void bad_images_are_rejected(void **state)
{
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		struct elf_image e;
		const char *why = NULL;
		print_message("case: %s\n", bad_cases[i].intent);
		build();
		bad_cases[i].corrupt();
		assert_int_equal(elf_parse(img, bad_cases[i].size, &e, &why), -ENOEXEC);
		assert_non_null(why);
		assert_string_equal(why, bad_cases[i].why);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(good_image_regions),
	    cmocka_unit_test(segments_sharing_a_page_merge),
	    cmocka_unit_test(bad_images_are_rejected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
