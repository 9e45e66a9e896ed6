/*
 * Badge allocator: a counter that only moves up.  A badge is never reused
 * while the node runs, so a revoked gate's badge can never come back as
 * the label of a different object (a stale cap map entry stays stale).
 */
#include <errno.h>
#include "core/badge.h"

int badge_alloc_init(struct badge_alloc *b, uint64_t first, uint64_t last)
{
	if (first == 0 || first % BADGE_STEP || last % BADGE_STEP || last < first ||
	    last > BADGE_LAST)
		return -EINVAL;
	b->first = first;
	b->next = first;
	b->last = last;
	b->exhausted = 0;
	return 0;
}

uint64_t badge_alloc_next(struct badge_alloc *b)
{
	uint64_t badge;

	if (b->exhausted)
		return 0;
	badge = b->next;
	if (badge == b->last)
		b->exhausted = 1; /* next stays: no arithmetic past last */
	else
		b->next = badge + BADGE_STEP;
	return badge;
}

int badge_alloc_issued(const struct badge_alloc *b, uint64_t badge)
{
	if (badge < b->first || badge % BADGE_STEP)
		return 0;
	return b->exhausted ? badge <= b->last : badge < b->next;
}

uint64_t badge_alloc_count(const struct badge_alloc *b)
{
	uint64_t end = b->exhausted ? b->last + BADGE_STEP : b->next;

	return (end - b->first) / BADGE_STEP;
}
