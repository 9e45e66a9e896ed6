/*
 * Badge allocator: node-unique ids that core imprints into IPC gates and
 * uses as cap map ids (docs/design.md, "Badges").
 */
#ifndef CORE_BADGE_H
#define CORE_BADGE_H

#include <stdint.h>

#define BADGE_STEP  4ULL       /* low 2 bits carry rights in a label */
#define BADGE_FIRST BADGE_STEP /* 0 means "unused" in a cap map */
/* Labels with bit 63 set are libbase's irq labels (base/platform.h):
 * badges stay below them, and so below CAP_ID_INVALID. */
#define BADGE_LAST ((1ULL << 63) - BADGE_STEP)

/* Invariants: first, next, last are multiples of BADGE_STEP, 0 < first <=
 * last; the badges handed out are exactly [first, next) (or [first, last]
 * once exhausted), so none is ever handed out twice. */
struct badge_alloc {
	uint64_t first;
	uint64_t next;
	uint64_t last;
	int exhausted;
};

/* Hand out badges first, first+4, ..., last (multiples of 4, 0 < first <=
 * last <= BADGE_LAST).  0 or -EINVAL for a bad range. */
int badge_alloc_init(struct badge_alloc *b, uint64_t first, uint64_t last);
/* Next badge, or 0 when the range is exhausted (never wraps, never
 * reuses). */
uint64_t badge_alloc_next(struct badge_alloc *b);
/* 1 if badge was handed out by b. */
int badge_alloc_issued(const struct badge_alloc *b, uint64_t badge);
/* How many badges b handed out so far (only grows). */
uint64_t badge_alloc_count(const struct badge_alloc *b);

#endif
