/*
 * What a monitor can recreate of an image, checked before anything of
 * it is opened: every session the image names is of a kind this monitor
 * serves or can open at its parent, each cap's class (docs/cr.md) and
 * badge agree with the objects and sessions the image holds,
 * the restore fits the monitor's budget, the binary at this node's ROM
 * is the one the image was taken of, and the checkpoint ABI is known.
 * Each refusal is one line naming the image's part and what is wrong.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <capsule/control.h>
#include "image/group.h"
#include "image/image.h"
#include "monitor/image_convert.h"
#include "monitor/restore.h"
#include "monitor/restore_prebuild.h"
#include "monitor/target_report.h"

static const struct image_session *session_of(const struct image_model *im, uint64_t id)
{
	for (uint32_t i = 0; i < im->nsessions; i++)
		if (im->sessions[i].id == id)
			return &im->sessions[i];
	return NULL;
}

/* member: the restoring monitor runs a member of a group, whose image
 * may hold caps to other members' objects and sessions at them (the
 * group's restore recreates those, monitor/group_restore.c). */
static int session_ok(const struct image_model *im, const struct image_session *s,
		      int member, char *err, size_t n)
{
	switch (s->type) {
	case IMAGE_SESSION_PD:
	case IMAGE_SESSION_CPU:
	case IMAGE_SESSION_LOG:
	case IMAGE_SESSION_ROM:
	case IMAGE_SESSION_TIMER:
	case IMAGE_SESSION_RM:
	case IMAGE_SESSION_PARENT:
		return 0;
	case IMAGE_SESSION_OTHER:
		if (s->flags & IMAGE_SESSION_F_OUTSIDE)
			return 0;
		if ((s->flags & IMAGE_SESSION_F_MEMBER) && member)
			return 0;
		if (s->flags & IMAGE_SESSION_F_MEMBER) {
			snprintf(err, n,
				 "session 0x%llx (%s): served by another member of a "
				 "group: only the group's image restores it",
				 (unsigned long long)s->id, s->service);
			return -ENOTSUP;
		}
	}
	(void)im;
	snprintf(err, n, "session 0x%llx: a %s session cannot be recreated here",
		 (unsigned long long)s->id, image_session_type_name(s->type));
	return -ENOTSUP;
}

/* The object a cap names, for the "one badge, one object" rule. */
static int same_object(const struct image_cap *a, const struct image_cap *b)
{
	return a->class == b->class && a->obj == b->obj &&
	       (a->class != IMAGE_CAP_SIGNAL_CONTEXT || a->arg == b->arg);
}

static int cap_ok(const struct image_model *im, uint32_t k, int member, char *err,
		  size_t n)
{
	const struct image_cap *c = &im->caps[k];
	const struct image_session *s;
	const char *why = NULL;

	switch (c->class) {
	case IMAGE_CAP_SESSION:
	case IMAGE_CAP_OUTSIDE:
		if (c->badge != c->obj)
			why = "its badge is not the session's";
		break;
	case IMAGE_CAP_DATASPACE:
		if (c->badge != c->obj)
			why = "its badge is not the dataspace's";
		break;
	case IMAGE_CAP_MEMBER:
		if (!member)
			why = "an object of another member of a group: only the "
			      "group's image restores it";
		break;
	case IMAGE_CAP_RPC_GATE:
	case IMAGE_CAP_SIGNAL_SOURCE:
	case IMAGE_CAP_SIGNAL_CONTEXT:
	case IMAGE_CAP_SEMAPHORE_IRQ:
		s = session_of(im, c->obj);
		if (!s || s->type != IMAGE_SESSION_PD)
			why = "names an object of no PD session in the image";
		break;
	}
	for (uint32_t i = 0; !why && i < k; i++)
		if (im->caps[i].badge == c->badge && c->class != IMAGE_CAP_DEAD &&
		    !same_object(&im->caps[i], c))
			why = "its badge names another object of the image";
	if (!why)
		return 0;
	snprintf(err, n, "kcap 0x%llx badge 0x%llx (%s): %s", (unsigned long long)c->kcap,
		 (unsigned long long)c->badge, image_cap_class_name(c->class), why);
	return -EINVAL;
}

/* What image_read does not know: what this monitor can recreate. */
static int image_admit(const struct image_model *im, int member, char *err, size_t n)
{
	static const uint8_t none[IMAGE_HASH_SIZE];
	int rc;

	if (!im->component.binary[0] || !im->component.ram_quota ||
	    !im->component.cap_quota) {
		snprintf(err, n, "the component record names no binary or quota");
		return -EINVAL;
	}
	if (!memcmp(im->component.binary_hash, none, sizeof none)) {
		snprintf(err, n, "the image records no hash of its binary '%s'",
			 im->component.binary);
		return -EINVAL;
	}
	if (!im->nthreads || im->nthreads > MON_MAX_THREADS ||
	    im->nregions > MON_MAX_REGIONS) {
		snprintf(err, n, "%u threads, %u regions: beyond this monitor's limits",
			 im->nthreads, im->nregions);
		return -E2BIG;
	}
	unsigned pd = 0, cpu = 0, log = 0;
	for (uint32_t i = 0; i < im->nsessions; i++) {
		if ((rc = session_ok(im, &im->sessions[i], member, err, n)))
			return rc;
		pd += im->sessions[i].type == IMAGE_SESSION_PD;
		cpu += im->sessions[i].type == IMAGE_SESSION_CPU;
		log += im->sessions[i].type == IMAGE_SESSION_LOG;
	}
	if (pd != 1 || cpu != 1 || log != 1) { /* libbase holds each of them */
		snprintf(
		    err, n,
		    "the image needs one PD, one CPU and one LOG session (has %u, %u, "
		    "%u)",
		    pd, cpu, log);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < im->ndataspaces; i++) {
		const struct image_dataspace *d = &im->dataspaces[i];
		if (d->kind == IMAGE_DS_RAM || d->kind == IMAGE_DS_MANAGED ||
		    (d->kind == IMAGE_DS_MEMBER && member) ||
		    (d->kind == IMAGE_DS_ROM && !strcmp(d->rom, im->component.binary)))
			continue;
		snprintf(err, n,
			 "dataspace 0x%llx: a %s dataspace cannot be recreated here",
			 (unsigned long long)d->id, image_ds_kind_name(d->kind));
		return -ENOTSUP;
	}
	for (uint32_t i = 0; i < im->ncaps; i++)
		if ((rc = cap_ok(im, i, member, err, n)))
			return rc;
	return 0;
}

/* The binary this node's ROM has under the image's name is the one the
 * image was taken of (XXH3-128 of the file, monitor/binary_id.c): the
 * image's registers and memory belong to that code.  Checked before
 * anything else is opened; on success mon->binary is that identity. */
static int binary_check(struct monitor *mon, const struct image_model *im, char *err,
			size_t n)
{
	const struct image_component *c = &im->component;
	struct binary_id want = {.build_id_len = c->build_id_len}, have;
	char args[MON_ARGS_MAX], ws[120], hs[120];
	cap_t rom;
	int rc;

	snprintf(args, sizeof args, "label=\"%s\"", c->binary);
	if ((rc = parent_session(mon->env->parent, "ROM", args, &rom))) {
		snprintf(err, n,
			 "binary '%s': cannot open it at this node's ROM: %s (this node "
			 "needs the same binary in one of its ROM directories, "
			 "capsule node --rom DIR)",
			 c->binary, strerror(-rc));
		return rc;
	}
	rc = binary_id_rom(rom, mon->env->pd, &have);
	target_close_session(mon, &rom);
	if (rc) {
		snprintf(err, n, "binary '%s': cannot read it: %s", c->binary,
			 strerror(-rc));
		return rc;
	}
	memcpy(want.hash, c->binary_hash, sizeof want.hash);
	memcpy(want.build_id, c->build_id, sizeof want.build_id);
	if (!memcmp(want.hash, have.hash, sizeof want.hash)) {
		mon->binary = have;
		return 0;
	}
	binary_id_str(&want, ws, sizeof ws);
	binary_id_str(&have, hs, sizeof hs);
	snprintf(err, n, "binary '%s' differs: the image's is %s, this node's is %s",
		 c->binary, ws, hs);
	return -EINVAL;
}

int restore_image_check(struct monitor *mon, const struct image_model *im,
			const char *path, int budget, char *err, size_t n)
{
	int rc;

	if ((rc = image_admit(im, mon->group != NULL, err, n)) ||
	    (budget && (rc = restore_budget(mon, im, path, err, n))) ||
	    /* a prebuilt copy's round 1 checked it (not again in the stop) */
	    (!prebuild_binary_checked(mon, im) && (rc = binary_check(mon, im, err, n))))
		return rc;
	if (!report_version_known(im->component.cr_abi_version)) {
		snprintf(err, n,
			 "%s: the target's checkpoint ABI version %u is unknown (this "
			 "monitor knows versions 1 and %u)",
			 path, im->component.cr_abi_version, CR_ABI_VERSION);
		return -EPROTONOSUPPORT;
	}
	return 0;
}
