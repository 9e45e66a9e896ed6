/*
 * Reading the target's checkpoint report from a checkpoint's copy of its
 * memory.  Every address in it comes from the target, so each is checked
 * to lie in the copy before it is followed, and lists are bounded.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "monitor/target_report.h"

int report_version_known(uint64_t version)
{
	return version == 1 || version == CR_ABI_VERSION; /* 1: no cap_lock */
}

int report_read(const struct mon_model *model, struct cr_report *out, char *err,
		size_t errlen)
{
	if (!model->report_addr) {
		snprintf(err, errlen, "the target reported no checkpoint report");
		return -ENOENT;
	}
	if (!report_version_known(model->abi_version)) {
		snprintf(
		    err, errlen,
		    "the target's checkpoint ABI version %llu is unknown (this monitor "
		    "knows versions 1 and %u)",
		    (unsigned long long)model->abi_version, CR_ABI_VERSION);
		return -EINVAL;
	}
	/* version 1's report ends before cap_lock */
	size_t size =
	    model->abi_version == 1 ? offsetof(struct cr_report, cap_lock) : sizeof *out;

	memset(out, 0, sizeof *out);
	if (model_read(model, model->report_addr, out, size)) {
		snprintf(err, errlen,
			 "checkpoint report at 0x%llx lies outside its memory",
			 (unsigned long long)model->report_addr);
		return -EINVAL;
	}
	if (out->magic != CR_REPORT_MAGIC || out->version != model->abi_version ||
	    out->size != size) {
		snprintf(err, errlen,
			 "checkpoint report at 0x%llx: bad magic, version %u or size %u",
			 (unsigned long long)model->report_addr, out->version, out->size);
		return -EINVAL;
	}
	if (out->cap_map != model->cap_map_addr) {
		snprintf(err, errlen,
			 "checkpoint report names cap map 0x%llx, core was told 0x%llx",
			 (unsigned long long)out->cap_map,
			 (unsigned long long)model->cap_map_addr);
		return -EINVAL;
	}
	return 0;
}

struct cr_cap_map *report_cap_map(const struct mon_model *model)
{
	struct cr_cap_map *m =
	    model_ptr(model, model->cap_map_addr,
		      sizeof *m + CAP_SLOTS * sizeof(struct cr_cap_entry));

	if (!m || m->magic != CR_CAP_MAP_MAGIC || m->entries != CAP_SLOTS)
		return NULL;
	return m;
}

uint64_t report_entry_addr(const struct mon_model *model, unsigned slot)
{
	return model->cap_map_addr + offsetof(struct cr_cap_map, slot) +
	       (uint64_t)slot * sizeof(struct cr_cap_entry);
}

long report_entry_slot(const struct mon_model *model, uint64_t addr)
{
	uint64_t base = report_entry_addr(model, 0), off = addr - base;

	if (addr < base || off % sizeof(struct cr_cap_entry) ||
	    off / sizeof(struct cr_cap_entry) >= CAP_SLOTS)
		return -1;
	return (long)(off / sizeof(struct cr_cap_entry));
}

int report_entrypoints(const struct mon_model *model, const struct cr_report *r,
		       uint64_t ep[CR_MAX_EPS], unsigned *n)
{
	uint64_t g = r->entrypoints;

	*n = 0;
	while (g) {
		struct cr_entrypoint e;

		if (*n == CR_MAX_EPS)
			return -ELOOP;
		for (unsigned i = 0; i < *n; i++)
			if (ep[i] == g)
				return -ELOOP;
		if (model_read(model, g, &e, sizeof e))
			return -EFAULT;
		if (e.magic != CR_EP_MAGIC)
			return -EINVAL;
		ep[(*n)++] = g;
		g = e.next;
	}
	return *n ? 0 : -ENOENT;
}
