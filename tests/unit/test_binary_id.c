/* monitor/binary_id.c: the XXH3-128 and GNU build-id of an ELF file, read
 * from a PT_NOTE segment or an SHT_NOTE section; malformed or truncated
 * files give a hash and no build-id, never a read outside the file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "monitor/binary_id.h"

#define NOTE_OFF 0x100

static const uint8_t bid[20] = {0xab, 0x86, 0x44, 0x2c, 0x14, 0x02, 0x57,
				0x16, 0x4f, 0xc3, 0x9f, 0x8f, 0x29, 0x9f,
				0x1f, 0xb0, 0x41, 0xf4, 0xfa, 0xe9};

/* An ELF header, then (as asked) a PT_NOTE phdr or an SHT_NOTE shdr for
 * an unrelated note followed by the build-id note at NOTE_OFF. */
static size_t make_elf(uint8_t *f, int phdr, int shdr)
{
	Elf64_Ehdr eh = {.e_type = ET_EXEC, .e_machine = EM_X86_64};
	Elf64_Nhdr other = {4, 8, 1}, gnu = {4, sizeof bid, NT_GNU_BUILD_ID};
	size_t len = NOTE_OFF;

	memset(f, 0, 0x200);
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	memcpy(f + len, &other, sizeof other);
	memcpy(f + len + sizeof other, "ABC", 4);
	len += sizeof other + 4 + 8;
	memcpy(f + len, &gnu, sizeof gnu);
	memcpy(f + len + sizeof gnu, "GNU", 4);
	memcpy(f + len + sizeof gnu + 4, bid, sizeof bid);
	len += sizeof gnu + 4 + sizeof bid;
	if (phdr) {
		Elf64_Phdr ph = {
		    .p_type = PT_NOTE, .p_offset = NOTE_OFF, .p_filesz = len - NOTE_OFF};
		eh.e_phoff = sizeof eh;
		eh.e_phentsize = sizeof ph;
		eh.e_phnum = 1;
		memcpy(f + eh.e_phoff, &ph, sizeof ph);
	}
	if (shdr) {
		Elf64_Shdr sh = {.sh_type = SHT_NOTE,
				 .sh_offset = NOTE_OFF,
				 .sh_size = len - NOTE_OFF};
		eh.e_shoff = sizeof eh + sizeof(Elf64_Phdr);
		eh.e_shentsize = sizeof sh;
		eh.e_shnum = 1;
		memcpy(f + eh.e_shoff, &sh, sizeof sh);
	}
	memcpy(f, &eh, sizeof eh);
	return len;
}

static void hash_is_xxh3_128(const uint8_t *f, size_t len, const struct binary_id *id)
{
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, XXH3_128bits(f, len));
	assert_memory_equal(id->hash, c.digest, sizeof id->hash);
}

/* The build-id from a PT_NOTE segment or an SHT_NOTE section. */
static void build_id_found(void **state)
{
	uint8_t f[0x200];
	struct binary_id id;
	for (int how = 1; how <= 3; how++) {
		size_t len = make_elf(f, how & 1, how & 2);
		binary_id_of(f, len, &id);
		hash_is_xxh3_128(f, len, &id);
		assert_int_equal(id.build_id_len, sizeof bid);
		assert_memory_equal(id.build_id, bid, sizeof bid);
	}
	size_t len = make_elf(f, 0, 0); /* no note headers: none */
	binary_id_of(f, len, &id);
	assert_int_equal(id.build_id_len, 0);
	hash_is_xxh3_128(f, len, &id);
}

/* Every prefix of the file, and lying lengths: a hash, no stray read
 * (each prefix in a buffer of its exact size, for ASan). */
static void malformed_files(void **state)
{
	uint8_t f[0x200];
	struct binary_id id;
	size_t len = make_elf(f, 1, 1);
	for (size_t n = 0; n <= len; n++) {
		uint8_t *p = malloc(n + 1);
		memcpy(p, f, n);
		binary_id_of(p, n, &id);
		hash_is_xxh3_128(p, n, &id);
		assert_true(id.build_id_len == 0 || n == len);
		free(p);
	}
	Elf64_Nhdr huge = {4, 0xfffffff0u, NT_GNU_BUILD_ID};
	memcpy(f + NOTE_OFF, &huge, sizeof huge); /* the first note's size lies */
	binary_id_of(f, len, &id);
	assert_int_equal(id.build_id_len, 0);
	make_elf(f, 1, 0);
	Elf64_Ehdr eh;
	memcpy(&eh, f, sizeof eh);
	eh.e_phoff = ~0ull - 8; /* header table beyond the file */
	memcpy(f, &eh, sizeof eh);
	binary_id_of(f, len, &id);
	assert_int_equal(id.build_id_len, 0);
	binary_id_of("not an elf", 10, &id);
	assert_int_equal(id.build_id_len, 0);
}

static void printed_as_hex(void **state)
{
	uint8_t f[0x200];
	struct binary_id id;
	char s[128], want[80] = "xxh3-128 ";
	binary_id_of(f, make_elf(f, 1, 0), &id);
	binary_id_str(&id, s, sizeof s);
	for (int i = 0; i < BINARY_HASH_SIZE; i++)
		snprintf(want + 9 + 2 * i, 3, "%02x", id.hash[i]);
	assert_int_equal(strncmp(s, want, strlen(want)), 0);
	assert_string_equal(s + strlen(want),
			    " build-id ab86442c140257164fc39f8f299f1fb041f4fae9");
	id.build_id_len = 0;
	binary_id_str(&id, s, sizeof s);
	assert_string_equal(s, want);
	binary_id_str(&id, s, 12); /* cut short, terminated */
	assert_int_equal(strlen(s), 11);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(build_id_found),
	    cmocka_unit_test(malformed_files),
	    cmocka_unit_test(printed_as_hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
