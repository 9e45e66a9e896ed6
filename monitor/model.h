/*
 * The checkpoint model (model.c): what a checkpoint holds of its target
 * (threads, attached regions with a copy of their bytes, live caps and
 * their classes, region maps, drained signals), and access to the copy
 * of the target's memory by target address.
 */
#ifndef MONITOR_MODEL_H
#define MONITOR_MODEL_H

#include <stdint.h>
#include <base/env.h>

#include "monitor/limits.h"
#include "monitor/records.h"

/* One thread: its thread-area number, kernel-thread badge, UTCB address,
 * the state it was paused in and its registers. */
struct mon_model_thread {
	char name[32]; /* its name (an image's: given to the thread restored) */
	uint64_t nr, badge, utcb, state;
	uint64_t obj_badge; /* its CPU-thread object */
	struct cpu_regs regs;
	struct utcb utcb_data; /* its UTCB page's struct utcb */
	int utcb_read;	       /* utcb_data read by the pause's busy check */
};

/* One attached region: [at, at + size) of dataspace ds_badge (ds_size
 * bytes) from off, in the address space (rm 0) or in the managed region
 * map whose proxy badge is rm; its bytes in data (malloc'd, size bytes),
 * NULL where a managed dataspace is attached (its memory is what is
 * attached inside that map). */
struct mon_model_region {
	uint64_t rm, at, off, size, ds_badge, ds_size;
	unsigned perm;
	uint8_t *data;
	int from_src; /* data NULL: its bytes come from the model's fill */
	/* an incremental checkpoint (monitor/dirty_pages.c): data holds only
	 * the pages set in present (malloc'd bitmap, NULL: all), each at its
	 * place; live, while the target stays paused, is its memory itself,
	 * read in data's place */
	uint8_t *present;
	uint8_t *live;
	/* until incr_unpack: the pages set in present, in order (malloc'd;
	 * data is then allocated but not yet written) */
	uint8_t *packed;
	/* a streamed checkpoint (the target stays paused while its image is
	 * written): data is NULL, stream the monitor's attachment of the
	 * whole dataspace, which the image writer reads in place (listed in
	 * the model's stream_at, detached by the monitor once written) */
	uint8_t *stream;
	/* a group member's region of another member's dataspace: 1 + that
	 * member's index (no bytes here; a group restore attaches the
	 * owner's recreated dataspace, group_restore.c), else 0 */
	int owner;
};

/* One live cap map entry and its class (never MON_CLASS_UNKNOWN in a
 * model a checkpoint returned). */
struct mon_model_cap {
	uint64_t kcap, badge, aux;
	enum mon_class cls;
};

/* A region map the target holds, served by a proxy with badge `badge`:
 * state as in the proxy (RMAP_* in monitor.h). */
struct mon_model_rmap {
	uint64_t badge, kind, size, session, ds_badge, sigh;
	int nocap; /* from an image whose target held no cap of the map:
		      badge is then its dataspace's id, a key only */
};

/* A checkpoint.  Invariants: every count within its array; cap sorted by
 * kcap; regions do not overlap. */
struct mon_model {
	char binary[MON_NAME_MAX];
	/* what its libbase reported (<capsule/checkpoint_abi.h>) */
	uint64_t cap_map_addr, report_addr, abi_version;
	unsigned nthreads, nregions, ncaps, nrmaps;
	struct mon_model_rmap rmap[MON_MAX_RMAPS];
	struct mon_model_thread thread[MON_MAX_THREADS];
	struct mon_model_region region[MON_MAX_REGIONS];
	struct mon_model_cap cap[CAP_SLOTS];
	unsigned count[MON_CLASS_COUNT];
	/* signals queued at the source, drained at the checkpoint */
	unsigned npending;
	struct {
		uint64_t imprint, count;
	} pending[MON_MAX_PENDING];
	/* a model read from an image: the regions marked from_src hold no
	 * copy; a restore writes each of their dataspaces once with
	 * fill(fill_src, ds_badge, dst, ds_size), straight from the image
	 * into the new dataspace.  0, or -errno with one line in err. */
	int (*fill)(const void *fill_src, uint64_t ds_badge, void *dst, uint64_t size,
		    char *err, size_t errlen);
	const void *fill_src;
	/* a post-copy restore (monitor/postcopy_pages.c): the regions' data
	 * are buffers whose pages arrive from the migration's source; page_in
	 * makes [off, off + size) of dataspace ds_badge there before it is
	 * read or written (waiting for it): 0, or -EFAULT if it cannot come.
	 * NULL: all there.  With page_in, the regions' data are not the
	 * model's (model_free leaves them). */
	int (*page_in)(void *ctx, uint64_t ds_badge, uint64_t off, uint64_t size);
	void *page_ctx;
	/* a streamed checkpoint's attachments (host addresses), one per
	 * dataspace, and their dataspaces' badges */
	unsigned nstream;
	uint64_t stream_at[MON_MAX_REGIONS], stream_badge[MON_MAX_REGIONS];
	/* the caller of a restore gives the regions' copies up (it frees the
	 * model right after, whatever the outcome): the restore may move
	 * their pages into the new dataspaces instead of copying them
	 * (restore_fill_move), after which they read as zeros */
	int data_given;
};

/* Free the copies of the regions' bytes. */
void model_free(struct mon_model *model);
/* The host copy of target address [addr, addr + size) inside model's
 * regions, or NULL. */
void *model_ptr(const struct mon_model *model, uint64_t addr, uint64_t size);

/* Read / write size bytes at target address g in the copy, across
 * adjacent regions (a heap object may straddle two).  0 or -EFAULT. */
int model_read(const struct mon_model *model, uint64_t g, void *buf, uint64_t size);
int model_write(const struct mon_model *model, uint64_t g, const void *buf,
		uint64_t size);

#endif
