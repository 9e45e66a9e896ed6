/* The monitor's model <-> image/'s struct image_model (image_convert.c). */
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
 * with the target paused), then the memory (reads m only: any thread). */
int model_to_image_records(const struct monitor *mon, const struct mon_model *m,
			   struct image_model *im);
int model_memory_to_image(const struct mon_model *m, struct image_model *im);
void image_model_release(struct image_model *im);
/* Fill m from an image (as image_read returns it) for a restore by mon.
 * 0 or -errno (-EINVAL: the image names what it does not contain). */
int image_to_model(const struct image_model *im, const struct monitor *mon,
		   struct mon_model *m);

#endif
