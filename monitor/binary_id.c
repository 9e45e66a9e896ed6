/*
 * The identity of the target's ELF, recorded in an image so that a
 * restore refuses a node whose ROM has a different binary under the same
 * name (its code would not match the registers and memory of the image).
 *
 * The hash is XXH3-128 of the whole file: xxhash is a dependency already,
 * 128 bits make an accidental match (another build, another component
 * copied under the name) practically impossible, and it costs well under
 * a millisecond for a guest binary.  It is not a cryptographic hash and
 * does not need to be one here: the image itself is protected by XXH3-64
 * checksums only, so whoever can forge a colliding binary can as well
 * rewrite the image; authenticity of images (signing) is a separate
 * matter.  The GNU build-id, where the ELF has one, names the build for
 * people (`capsule inspect`, the refusal message).
 */
#include <elf.h>
#include <stdio.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "monitor/monitor.h"

/* The NT_GNU_BUILD_ID descriptor in the notes [off, off + len) of the
 * file, if any (every length checked against the file). */
static int find_build_id(const uint8_t *d, uint64_t size, uint64_t off, uint64_t len,
			 struct binary_id *id)
{
	if (off > size || len > size - off)
		return 0;
	while (len >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr n;
		memcpy(&n, d + off, sizeof n);
		uint64_t name = ((uint64_t)n.n_namesz + 3) & ~3ULL;
		uint64_t desc = ((uint64_t)n.n_descsz + 3) & ~3ULL;
		if (name + desc > len - sizeof n)
			return 0;
		if (n.n_type == NT_GNU_BUILD_ID && n.n_namesz == 4 &&
		    !memcmp(d + off + sizeof n, "GNU", 4) && n.n_descsz &&
		    n.n_descsz <= BINARY_BUILD_ID_SIZE) {
			memcpy(id->build_id, d + off + sizeof n + name, n.n_descsz);
			id->build_id_len = n.n_descsz;
			return 1;
		}
		off += sizeof n + name + desc;
		len -= sizeof n + name + desc;
	}
	return 0;
}

/* Entry i of a header table at off, entsize each, inside the file. */
static const uint8_t *entry(const uint8_t *d, uint64_t size, uint64_t off,
			    uint64_t entsize, uint64_t i, size_t want)
{
	if (entsize < want || off > size || i >= (size - off) / entsize ||
	    size - off - i * entsize < want)
		return NULL;
	return d + off + i * entsize;
}

static void build_id_of(const uint8_t *d, uint64_t size, struct binary_id *id)
{
	Elf64_Ehdr eh;

	if (size < sizeof eh)
		return;
	memcpy(&eh, d, sizeof eh);
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64)
		return;
	for (uint64_t i = 0; i < eh.e_phnum; i++) {
		const uint8_t *p =
		    entry(d, size, eh.e_phoff, eh.e_phentsize, i, sizeof(Elf64_Phdr));
		Elf64_Phdr ph;
		if (!p)
			break;
		memcpy(&ph, p, sizeof ph);
		if (ph.p_type == PT_NOTE &&
		    find_build_id(d, size, ph.p_offset, ph.p_filesz, id))
			return;
	}
	for (uint64_t i = 0; i < eh.e_shnum; i++) {
		const uint8_t *p =
		    entry(d, size, eh.e_shoff, eh.e_shentsize, i, sizeof(Elf64_Shdr));
		Elf64_Shdr sh;
		if (!p)
			break;
		memcpy(&sh, p, sizeof sh);
		if (sh.sh_type == SHT_NOTE &&
		    find_build_id(d, size, sh.sh_offset, sh.sh_size, id))
			return;
	}
}

void binary_id_of(const void *data, uint64_t size, struct binary_id *id)
{
	XXH128_canonical_t c;

	memset(id, 0, sizeof *id);
	XXH128_canonicalFromHash(&c, XXH3_128bits(data, size));
	memcpy(id->hash, c.digest, sizeof id->hash);
	build_id_of(data, size, id);
}

int binary_id_rom(cap_t rom, cap_t own_pd, struct binary_id *id)
{
	uint64_t size, host = 0;
	cap_t ds = CAP_INVALID;
	int rc;

	if ((rc = rom_dataspace(rom, &ds, &size)) ||
	    (rc = pd_attach(own_pd, ds, 0, 0, 0, MEM_R, &host)))
		goto out;
	binary_id_of((const void *)(uintptr_t)host, size, id);
out:
	if (host)
		pd_detach(own_pd, host);
	if (cap_valid(ds))
		cap_release(ds);
	return rc;
}

static size_t hex(char *buf, size_t size, const uint8_t *b, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k + 2 < size; i++)
		k += (size_t)snprintf(buf + k, size - k, "%02x", b[i]);
	return k;
}

void binary_id_str(const struct binary_id *id, char *buf, size_t size)
{
	size_t k = (size_t)snprintf(buf, size, "xxh3-128 ");

	if (k >= size)
		return;
	k += hex(buf + k, size - k, id->hash, sizeof id->hash);
	if (!id->build_id_len || k + 11 >= size)
		return;
	k += (size_t)snprintf(buf + k, size - k, " build-id ");
	hex(buf + k, size - k, id->build_id, id->build_id_len);
}
