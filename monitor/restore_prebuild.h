/*
 * A migration's destination builds the target while the pre-copy rounds
 * arrive (restore_prebuild.c, docs/migration.md): round 1 (a full image)
 * gets the target's PD and CPU sessions and its RAM dataspaces, written;
 * each later round (incremental) writes the pages it carries into them;
 * the restore of the final image then takes these (restore.c asks
 * prebuild_take_pd / prebuild_take_ds) and writes only the final image's
 * pages, so that the source's stop covers the last pages, UTCBs,
 * registers and caps, not all of the memory; each round also makes the
 * image's threads (never started) and opens its sessions at the parent,
 * which that restore takes too (prebuild_take_thread, prebuild_session).
 * Nothing of it runs and nothing is committed before that restore.
 */
#ifndef MONITOR_RESTORE_PREBUILD_H
#define MONITOR_RESTORE_PREBUILD_H

#include "image/image.h"
#include "monitor/model.h"
#include "monitor/monitor.h"

/* CONTROL_PREBUILD: build the paused copy from the full image at path,
 * or apply the next round (an incremental image whose parent is the
 * last image applied).  0, or -errno with the reason in mon->why; on a
 * failure nothing of the copy is left. */
int prebuild_round(struct monitor *mon, const char *path);

/* End the copy being built (why: logged; NULL after a restore that took
 * it): what the restore did not take is freed and the monitor's config
 * is as before the first round. */
void prebuild_end(struct monitor *mon, const char *why);

/* At the restore of the image at path, if a copy is being built: 1 with
 * *out the image read whole, when it is the next round and the copy
 * fits it (the restore then takes the copy: prebuild_use); 0 when the
 * copy was ended because it does not fit (logged: the chain is restored
 * as without one); -EBUSY (mon->why) when the image is not the next
 * round of the migration that builds it. */
int prebuild_final(struct monitor *mon, const char *path, struct image_model **out);
/* The model of that image: its fill writes the image's pages over the
 * copy's (a new dataspace: from zero), and restore.c takes the copy. */
void prebuild_use(struct monitor *mon, struct mon_model *model);

/* Are the final image's pages of that dataspace few enough to be
 * written into the copy in place, on the entrypoint, rather than on
 * the host worker (whose hand-over costs more, on a loaded host, than
 * copying a few MB)?  1 or 0; 0 without a copy the restore takes. */
#define PREBUILD_IN_PLACE_BYTES (16ULL << 20)
int prebuild_fill_in_place(struct monitor *mon, uint64_t old_badge);

/* restore_image.c: a zeroed model for the restore, its pages touched
 * before the stop (the caller owns it), or NULL. */
struct mon_model *prebuild_take_model(struct monitor *mon);
/* restore.c: zeroed memory for the restore's state (PREBUILD_RS) or its
 * working copy of the model (PREBUILD_WORK), its pages touched before
 * the stop (the caller owns it: free), or NULL (then calloc it). */
enum { PREBUILD_RS, PREBUILD_WORK, PREBUILD_TOUCHED };
void *prebuild_take_touched(struct monitor *mon, int which);
/* restore.c: the bytes of its state (struct rs), for the above */
size_t restore_state_size(void);
/* restore.c: the copy's PD and CPU sessions / the dataspace that was
 * old_badge (of size bytes) with its attachment in the monitor, handed
 * over (the restore owns them from here).  0, or -ENOENT: none. */
int prebuild_take_pd(struct monitor *mon, cap_t *pd, cap_t *cpu);
int prebuild_take_ds(struct monitor *mon, uint64_t old_badge, uint64_t size, cap_t *cap,
		     uint64_t *host);
/* restore_image.c: is im the final image the restore takes the copy
 * for, of the binary round 1 checked at this node's ROM (same name and
 * XXH3-128)?  1 (mon->binary is that identity again) or 0. */
int prebuild_binary_checked(struct monitor *mon, const struct image_model *im);
/* restore_image.c: a session at the monitor's parent, the one the copy
 * opened with that service and args while the rounds came if the
 * restore of the final image takes the copy, else opened now
 * (parent_session's answer). */
int prebuild_session(struct monitor *mon, const char *service, const char *args,
		     cap_t *out);
/* restore_image.c: the binary's dataspace at ROM session rom: the one
 * the copy fetched at that session while the rounds came, else
 * rom_dataspace's. */
int prebuild_rom_dataspace(struct monitor *mon, cap_t rom, cap_t *ds, uint64_t *size);
/* restore.c: thread nr (with that UTCB and name) of the copy, made and
 * never started, with its kernel thread and that one's badge; the
 * threads made only to reach the numbers (up to room, into fill: how
 * many).  0, or -ENOENT: none. */
int prebuild_take_thread(struct monitor *mon, uint64_t nr, uint64_t utcb,
			 const char *name, cap_t *obj, cap_t *kthread, uint64_t *badge);
unsigned prebuild_take_fill(struct monitor *mon, cap_t *fill, unsigned room);
/* Is that region (of the PD's own address space) attached already in
 * the PD the restore took, to the dataspace it took?  1 or 0. */
int prebuild_attached(struct monitor *mon, uint64_t old_badge, uint64_t at, uint64_t off,
		      uint64_t size, unsigned perm);

/* The first round's memory into the copy's dataspaces (ds[i].dst, attached
 * in the monitor), on the host worker w (NULL, or busy: here alone) and
 * here at once (monitor/prebuild_fill.c).  0, or -errno with one line in
 * err. */
struct host_worker;
struct prebuild_fill {
	uint64_t id, size;
	void *dst;
};
int prebuild_fill_all(struct host_worker *w, const struct image_model *im,
		      const struct prebuild_fill *ds, unsigned n, char *err,
		      size_t errlen);

/* Round 1's checks (as a restore's), the copy's PD and CPU sessions and
 * a dataspace for each RAM dataspace of im that it has memory of (all:
 * each one, the memory not read yet), attached in the monitor, into
 * fill (room for MON_MAX_REGIONS: *nfill), and their pages (those read)
 * added to *pages.  0, or -errno with the reason in mon->why. */
int prebuild_first_open(struct monitor *mon, const char *path,
			const struct image_model *im, int all, struct prebuild_fill *fill,
			unsigned *nfill, uint64_t *pages);
/* The copy's dataspaces im has no memory of: freed. */
void prebuild_first_unused(struct monitor *mon, const struct image_model *im);

/* Round 1 from a pipe, built while it arrives (prebuild_stream.c): is
 * path a FIFO (1 or 0)?  Its records read and checked, the copy made
 * (prebuild_first_open), then its pages read straight into the copy's
 * dataspaces, on the host worker: 0 with *out (the image, its memory
 * the copy's) and *pages, or -errno with the reason in mon->why. */
int prebuild_is_pipe(const char *path);
int prebuild_stream_first(struct monitor *mon, const char *path, struct image_model **out,
			  uint64_t *pages);

#endif
