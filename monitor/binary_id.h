/* Which ELF a target runs: its hash and GNU build-id (binary_id.c). */
#ifndef MONITOR_BINARY_ID_H
#define MONITOR_BINARY_ID_H

#include <stddef.h>
#include <stdint.h>
#include <base/capability.h>

#define BINARY_HASH_SIZE     16 /* XXH3-128 */
#define BINARY_BUILD_ID_SIZE 32

struct binary_id {
	uint8_t hash[BINARY_HASH_SIZE]; /* canonical (big-endian) XXH3-128 */
	uint8_t build_id[BINARY_BUILD_ID_SIZE];
	uint32_t build_id_len; /* 0: the ELF has no NT_GNU_BUILD_ID note */
};

/* The identity of the file at data (size bytes).  The build-id is looked
 * for in the PT_NOTE segments, then the SHT_NOTE sections; a malformed
 * ELF just has none (the hash covers every byte all the same). */
void binary_id_of(const void *data, uint64_t size, struct binary_id *id);
/* The identity of a ROM session's module, read through a temporary
 * attachment in own_pd.  0 or -errno. */
int binary_id_rom(cap_t rom, cap_t own_pd, struct binary_id *id);
/* "xxh3-128 HEX" and, if it has one, " build-id HEX". */
void binary_id_str(const struct binary_id *id, char *buf, size_t size);

#endif
