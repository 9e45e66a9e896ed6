/* The monitor's model <-> image/'s struct image_model (image_convert.c,
 * memory_convert.c, image_to_model.c). */
#ifndef MONITOR_IMAGE_CONVERT_H
#define MONITOR_IMAGE_CONVERT_H

#include "image/image.h"
#include "monitor/checkpoint.h"

/* The note of an announced root's gate: this, then the service name. */
#define IMAGE_NOTE_ANNOUNCE "announce="
/* The services the image's target announced (IMAGE_NOTE_ANNOUNCE) into
 * mon->announced, with their roots' old badges.  0 or -errno. */
int image_announced(const struct image_model *im, struct monitor *mon);

/* Fill im (arrays malloc'd: free with image_model_release) from the
 * checkpoint m of mon's target.  0 or -errno. */
int model_to_image(const struct monitor *mon, const struct mon_model *m,
		   struct image_model *im);
/* The same in two steps: every record (reads mon: on its entrypoint,
 * with the target paused), then the memory (m only: any thread).  The
 * second takes over each region copy that is a whole dataspace as that
 * dataspace's memory (m's region then has no data) rather than copy it:
 * a checkpoint holds the target's memory once, not twice, until written. */
int model_to_image_records(const struct monitor *mon, const struct mon_model *m,
			   struct image_model *im);
int model_memory_to_image(struct mon_model *m, struct image_model *im);
void image_model_release(struct image_model *im);
/* Fill m from an image (as image_read returns it) for a restore by mon.
 * The regions' bytes are not copied: m->fill writes each dataspace from
 * im at the restore, so im must outlive m's restore.  0 or -errno
 * (-EINVAL: the image names what it does not contain). */
int image_to_model(const struct image_model *im, const struct monitor *mon,
		   struct mon_model *m);
/* The same into an m that is all zeros (calloc'd, or a prebuilt copy's,
 * prebuild_take_model): not cleared again, so that only the parts
 * written are touched (clearing its 187 KB was 90-150 us of a
 * migration's stop). */
int image_to_model_zeroed(const struct image_model *im, const struct monitor *mon,
			  struct mon_model *m);
/* Before anything is opened: the image's RAM dataspaces (each once)
 * within its component's ram_quota, that within this monitor's free RAM
 * and MON_RESTORE_MAX_BYTES (restore_budget.c).  0, or -E2BIG with one
 * line in err naming the section and field. */
int restore_budget(struct monitor *mon, const struct image_model *im, const char *path,
		   char *err, size_t n);
/* Give m copies of its regions' bytes from im (read whole, not streamed),
 * so that m no longer needs im.  0 or -errno. */
int image_model_copy_memory(const struct image_model *im, struct mon_model *m);

#endif
