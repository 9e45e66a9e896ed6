/*
 * What one image restore may make the node allocate, checked before it
 * opens or allocates anything: the RAM dataspaces the image describes
 * (each counted once, however many regions attach it) against the
 * component's own RAM quota, that quota against the RAM this monitor has
 * free, and both against MON_RESTORE_MAX_BYTES.  The memory itself then
 * streams from the image into the new dataspaces (image_memory_fill), so
 * a restore costs the target's pages with data and one chunk of scratch.
 */
#include <errno.h>
#include <stdio.h>

#include "image/image.h"
#include "monitor/image_convert.h"

int restore_budget(struct monitor *mon, const struct image_model *im, const char *path,
		   char *err, size_t n)
{
	uint64_t ram = 0, quota = im->component.ram_quota;
	struct pd_quota q;
	int rc;

	for (uint32_t i = 0; i < im->ndataspaces; i++) {
		const struct image_dataspace *d = &im->dataspaces[i];
		if (d->kind != IMAGE_DS_RAM)
			continue;
		if (d->size > MON_RESTORE_MAX_BYTES - ram) { /* no overflow */
			snprintf(err, n,
				 "image %s: dataspace section, field size: dataspace "
				 "%llu of %llu bytes takes the RAM dataspaces beyond "
				 "this monitor's limit of %llu bytes for one restore",
				 path, (unsigned long long)d->id,
				 (unsigned long long)d->size,
				 (unsigned long long)MON_RESTORE_MAX_BYTES);
			return -E2BIG;
		}
		ram += d->size;
	}
	if (ram > quota) {
		snprintf(err, n,
			 "image %s: dataspace section, field size: its RAM dataspaces "
			 "take %llu bytes, more than the component section's ram_quota "
			 "of %llu",
			 path, (unsigned long long)ram, (unsigned long long)quota);
		return -E2BIG;
	}
	if ((rc = pd_quota_get(mon->env->pd, &q))) {
		snprintf(err, n, "image %s: cannot ask for this monitor's quota: %d",
			 path, rc);
		return rc;
	}
	if (quota > MON_RESTORE_MAX_BYTES) {
		snprintf(err, n,
			 "image %s: component section, field ram_quota: %llu bytes, "
			 "more than one restore may take (%llu)",
			 path, (unsigned long long)quota,
			 (unsigned long long)MON_RESTORE_MAX_BYTES);
		return -E2BIG;
	}
	if (q.ram_used > q.ram_quota || quota > q.ram_quota - q.ram_used) {
		snprintf(err, n,
			 "image %s: component section, field ram_quota: the target "
			 "needs %llu KiB of RAM, more than this monitor has free (%llu "
			 "KiB): raise the RAM quantum of its <start>",
			 path, (unsigned long long)(quota >> 10),
			 (unsigned long long)(q.ram_quota > q.ram_used
						  ? (q.ram_quota - q.ram_used) >> 10
						  : 0));
		return -E2BIG;
	}
	return 0;
}
