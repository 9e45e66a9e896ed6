/*
 * The sessions of a migration's paused copy, opened at the monitor's
 * parent while the rounds arrive (restore_prebuild_sessions.c): the
 * LOG and ROM sessions every restore opens and those the round's image
 * names outside the node's monitor (timer, region maps, other
 * services), taken by the restore of the final image by service and
 * args instead of opening them in the stop.
 */
#ifndef MONITOR_RESTORE_PREBUILD_SESSIONS_H
#define MONITOR_RESTORE_PREBUILD_SESSIONS_H

#include "image/image.h"
#include "monitor/limits.h"
#include "monitor/monitor.h"

#define PRE_MAX_SESSIONS 32

struct pre_session {
	char service[32], args[MON_ARGS_MAX];
	cap_t cap;
};

struct pre_sessions {
	unsigned n;
	struct pre_session s[PRE_MAX_SESSIONS];
	/* the binary's dataspace, fetched at the ROM session rom_of */
	cap_t rom_of, rom_ds;
	uint64_t rom_size;
};

/* The service a restore opens session s of im at (restore_image.c's
 * open_outside), or NULL for one it does not open at the parent. */
const char *pre_session_service(const struct image_session *s);
/* Open what im needs and pt does not hold (a session that cannot be
 * opened now is left to the final restore); the number opened into *n. */
void pre_sessions_open(struct pre_sessions *pt, struct monitor *mon,
		       const struct image_model *im, unsigned *n);
/* Hand a session of that service and args over: 0, or -ENOENT. */
int pre_sessions_take(struct pre_sessions *pt, const char *service, const char *args,
		      cap_t *out);
/* The binary's dataspace of ROM session rom (one taken from pt), as
 * rom_dataspace gives it: fetched while the rounds came if it was, else
 * now.  0 or -errno. */
int pre_sessions_rom_ds(struct pre_sessions *pt, cap_t rom, cap_t *ds, uint64_t *size);
/* Close those not taken. */
void pre_sessions_end(struct pre_sessions *pt, struct monitor *mon);

#endif
