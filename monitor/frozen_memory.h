/*
 * The frozen memory of a post-copy migration's source (docs/migration.md
 * "Post-copy"): once the freeze has paused the target for good, its
 * memory no longer changes, and the migration (tools/migrate_postcopy_*.c,
 * on a host thread of the same node) reads the pages it sends from the
 * monitor's attachments of the target's dataspaces in place, instead of
 * from a copy: the freeze carries no page and copies nothing.
 *
 *  - the monitor keeps the attachments its freeze made and publishes
 *    them under the endpoint's name (frozen_mem_take, frozen_mem_publish,
 *    on the entrypoint, target paused);
 *  - the migration claims them by that name (frozen_mem_claim) and reads
 *    between frozen_mem_hold and frozen_mem_release;
 *  - the monitor withdraws them before the target runs again or ends
 *    (THAW, RELEASE, its end: frozen_mem_end): that waits for a hold to
 *    be released, and every hold after it fails, so no page is read once
 *    the memory may change or is gone.
 *
 * Thread-safe between the monitor's entrypoint and one reader.
 */
#ifndef MONITOR_FROZEN_MEMORY_H
#define MONITOR_FROZEN_MEMORY_H

#include <stdint.h>

struct monitor;
struct mon_model;
struct frozen_mem;

/* A region of the frozen target's address space: size bytes at target
 * address at are those at offset off of dataspace ds_id (its image id). */
struct frozen_region {
	uint64_t at, size, off, ds_id;
};

/* Monitor: take model's streamed attachments (model->stream_at, one per
 * dataspace, sizes from its regions) as mon's frozen memory, with the
 * regions of the address space over them and the addresses of the cap
 * map and the checkpoint report; model keeps no attachment.  0 or
 * -errno (model unchanged). */
int frozen_mem_take(struct monitor *mon, struct mon_model *model);
/* Monitor: publish them under name (the endpoint's).  0 or -errno (none
 * taken, or name published already). */
int frozen_mem_publish(struct monitor *mon, const char *name);
/* Monitor: withdraw and detach what mon published (no-op if nothing). */
void frozen_mem_end(struct monitor *mon);

/* Reader: the memory published under name, one reference (NULL: none). */
struct frozen_mem *frozen_mem_claim(const char *name);
/* Reader: drop the reference. */
void frozen_mem_put(struct frozen_mem *fm);
/* Reader: 0 and the memory stays until frozen_mem_release, or -1 (it is
 * withdrawn: the target runs again or ended). */
int frozen_mem_hold(struct frozen_mem *fm);
void frozen_mem_release(struct frozen_mem *fm);
/* Reader, held: the bytes of dataspace id (its image id) and their size,
 * or NULL if it has none. */
const uint8_t *frozen_mem_at(const struct frozen_mem *fm, uint64_t id, uint64_t *size);
/* Reader: the region holding target address addr in a dataspace with
 * memory here, and the offset into that dataspace in *ds_off, or NULL.
 * (Not held: the table does not change once published.) */
const struct frozen_region *frozen_mem_find(const struct frozen_mem *fm, uint64_t addr,
					    uint64_t *ds_off);
/* Reader: the target addresses of its cap map and its checkpoint report
 * at the freeze (0: none). */
void frozen_mem_addrs(const struct frozen_mem *fm, uint64_t *cap_map, uint64_t *report);

#endif
