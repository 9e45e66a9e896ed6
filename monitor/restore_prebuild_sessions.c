/*
 * The sessions of a migration's paused copy (restore_prebuild.c), opened
 * while the rounds arrive.  Opening a session at the monitor's parent is
 * a round trip through init to the server (and, for a timer, the
 * server's own start): 4-13 ms of the stop on a loaded host for the LOG
 * and ROM sessions and a timer.  Each round's image names the sessions
 * the target holds; those the restore would open at the parent (the
 * LOG and ROM sessions of every restore, and each session served
 * outside the monitor: timer, region maps, other services) are opened
 * here with the args the restore opens them with, once per session of
 * the image, and kept unused; and the binary's dataspace at the ROM
 * session (core reads the binary for it).  The restore of the final image asks for
 * each one by service and args (restore_image.c, prebuild_session) and
 * opens at the parent only what it does not find.  A session no image
 * names any more is not closed before the copy ends (a later image may
 * name it again); the copy's end closes all that were not taken.  None
 * of this is opened for a group's member (its restore is the group's).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "monitor/checkpoint.h"
#include "monitor/restore_prebuild_sessions.h"

const char *pre_session_service(const struct image_session *s)
{
	if (s->flags & IMAGE_SESSION_F_MEMBER)
		return NULL; /* the group's restore's */
	switch (s->type) {
	case IMAGE_SESSION_TIMER:
		return "Timer";
	case IMAGE_SESSION_RM:
		return "RM";
	case IMAGE_SESSION_OTHER:
		return s->service;
	default:
		return NULL; /* PD, CPU, LOG, ROM, parent: the monitor's */
	}
}

static unsigned held(const struct pre_sessions *pt, const char *service, const char *args)
{
	unsigned n = 0;

	for (unsigned i = 0; i < pt->n; i++)
		n += !strcmp(pt->s[i].service, service) && !strcmp(pt->s[i].args, args);
	return n;
}

/* One more session of service and args, if fewer than want are held. */
static void open_one(struct pre_sessions *pt, struct monitor *mon, const char *service,
		     const char *args, unsigned want, unsigned *n)
{
	struct pre_session *s = &pt->s[pt->n];

	if (held(pt, service, args) >= want || pt->n == PRE_MAX_SESSIONS)
		return;
	*s = (struct pre_session){.cap = CAP_INVALID};
	snprintf(s->service, sizeof s->service, "%s", service);
	snprintf(s->args, sizeof s->args, "%s", args);
	/* not there yet (-EAGAIN), refused: the final restore opens it */
	if (parent_session(mon->env->parent, service, args, &s->cap))
		return;
	pt->n++;
	(*n)++;
}

void pre_sessions_open(struct pre_sessions *pt, struct monitor *mon,
		       const struct image_model *im, unsigned *n)
{
	char rom_args[MON_ARGS_MAX];

	*n = 0;
	if (mon->group)
		return;
	snprintf(rom_args, sizeof rom_args, "label=\"%s\"", im->component.binary);
	open_one(pt, mon, "LOG", "ram_quota=0", 1, n);
	open_one(pt, mon, "ROM", rom_args, 1, n);
	/* and its dataspace: core reads the binary for it */
	for (unsigned i = 0; i < pt->n && !pt->rom_ds.idx; i++)
		if (!strcmp(pt->s[i].service, "ROM") &&
		    !strcmp(pt->s[i].args, rom_args) &&
		    !rom_dataspace(pt->s[i].cap, &pt->rom_ds, &pt->rom_size))
			pt->rom_of = pt->s[i].cap;
	for (uint32_t i = 0; i < im->nsessions; i++) {
		const char *service = pre_session_service(&im->sessions[i]);
		unsigned want = 0;

		if (!service)
			continue;
		for (uint32_t k = 0; k <= i; k++) /* as many as the image has */
			want += pre_session_service(&im->sessions[k]) &&
				!strcmp(pre_session_service(&im->sessions[k]), service) &&
				!strcmp(im->sessions[k].args, im->sessions[i].args);
		open_one(pt, mon, service, im->sessions[i].args, want, n);
	}
}

int pre_sessions_take(struct pre_sessions *pt, const char *service, const char *args,
		      cap_t *out)
{
	for (unsigned i = 0; i < pt->n; i++)
		if (!strcmp(pt->s[i].service, service) && !strcmp(pt->s[i].args, args)) {
			*out = pt->s[i].cap;
			pt->s[i] = pt->s[--pt->n];
			return 0;
		}
	return -ENOENT;
}

int pre_sessions_rom_ds(struct pre_sessions *pt, cap_t rom, cap_t *ds, uint64_t *size)
{
	if (!pt->rom_ds.idx || pt->rom_of.idx != rom.idx)
		return rom_dataspace(rom, ds, size);
	*ds = pt->rom_ds;
	*size = pt->rom_size;
	pt->rom_ds = pt->rom_of = CAP_INVALID;
	return 0;
}

void pre_sessions_end(struct pre_sessions *pt, struct monitor *mon)
{
	if (pt->rom_ds.idx)
		cap_release(pt->rom_ds);
	pt->rom_ds = pt->rom_of = CAP_INVALID;
	for (unsigned i = 0; i < pt->n; i++)
		target_close_session(mon, &pt->s[i].cap);
	pt->n = 0;
}
