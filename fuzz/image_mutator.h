/*
 * A structure-aware mutator for capsule images (fuzz/image_mutator.c),
 * for libFuzzer's LLVMFuzzerCustomMutator: it mutates one part of an
 * image (the header, one section's payload, a memory chunk's header or
 * its uncompressed pages, the section list) and then rewrites the framing
 * the reader checks first (section lengths and count, zstd compression of
 * memory chunks, the section and header xxhash checksums), so that most
 * mutants get past the framing to the semantic checks.
 */
#ifndef FUZZ_IMAGE_MUTATOR_H
#define FUZZ_IMAGE_MUTATOR_H

#include <stddef.h>
#include <stdint.h>

/* Mutate data[0..size) in place (capacity max); the new size. */
size_t image_mutate(uint8_t *data, size_t size, size_t max, unsigned seed);

/* The same for a group image (fuzz/group_mutator.c): a header field, a
 * member record or a member-object record, checksums sealed again. */
size_t group_mutate(uint8_t *data, size_t size, size_t max, unsigned seed);

/* libFuzzer's own mutation of a byte range (the fuzzer runtime). */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max);

#endif
