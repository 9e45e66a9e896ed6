/* The monitor's <config> (monitor_config.c). */
#ifndef MONITOR_MONITOR_CONFIG_H
#define MONITOR_MONITOR_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "monitor/limits.h"

struct init_config;

enum mon_restore { MON_RESTORE_OFF = 0, MON_RESTORE_NONE, MON_RESTORE_SAME_NODE };

/* <config><target binary= ram= caps=/><test checkpoint_after_ms= restore=
 * image= then=/></config>, or <config><restore image=/></config> (an
 * empty monitor that restores an image file at start).  With a target:
 * binary non-empty, ram > 0, caps > 0; without one: binary empty and
 * restore_image set, or empty (<restore/>: wait for a control restore). */
struct monitor_config {
	char binary[MON_NAME_MAX];
	uint64_t ram, caps;
	uint64_t checkpoint_after_ms;  /* 0: no test checkpoint */
	uint64_t checkpoint_after_log; /* or after the target's Nth LOG line */
	enum mon_restore restore;
	char image[256]; /* non-empty: restore through an image file there */
	int then_exit;	 /* then="exit": after the image is written, stop */
	/* then="hold": the test checkpoint pauses the target and keeps it
	 * paused, for `capsule migrate` to take it from there (a migration
	 * at a fixed point of a target that never waits on time;
	 * tests/migrate/twohost.sh) */
	int then_hold;
	char restore_image[256]; /* <restore image=>: restore this at start */
	/* <test fail_restore_at="STEP"> (test builds only): a restore fails at that step
	 * (a prepare hook's name, "verify" or "announce"), for the tests that show a
	 * failed restore leaves everything as it was */
	char fail_restore_at[32];
	/* <test fail_restore_nth="N"> (test builds only): the Nth point of the next
	 * restore that can fail (each allocation, core call, cap mapping, prepare step,
	 * the verify) fails, once; 0: none */
	unsigned fail_restore_nth;
	/* <test checkpoint_every_ms="MS">: a checkpoint every MS ms while the
	 * target runs (checkpoint_after_ms is set to MS too); with
	 * restore="same-node" and restore_every="N" only every Nth is
	 * followed by a restore, the others by a resume (tests/cr/soak.sh) */
	uint64_t checkpoint_every_ms;
	unsigned restore_every;
	/* a group (<start> nodes instead of a <target>, monitor/group.h):
	 * its members and routes as the node config reader read them
	 * (config/config.h), allocated by the parser; NULL: one target */
	struct init_config *group;
	/* a group with a <restore>: its members do not start; they wait for
	 * `capsule restore`, or restore_image is restored at start */
	int group_restore;
};

/* monitor/test_hooks.c: the <test> attributes of the restore's fault
 * injection (fail_restore_at, fail_restore_nth) into cfg.  Built with
 * CAPSULE_TEST_HOOKS (the test binary, capsule-test) it parses them;
 * otherwise it refuses them with a one-line message in err.  0 or
 * -EINVAL.  The fields above exist in every build, so that every object
 * agrees on the struct's layout; only a test build ever sets them. */
int monitor_test_hooks_parse(const void *xml_node, struct monitor_config *cfg, char *err,
			     size_t errlen);

/* Parse the monitor's <config> node (a libxml2 xmlNode *).  0, or
 * -EINVAL with a one-line message in err (nothing allocated).  A group's
 * members are freed with monitor_config_free. */
int monitor_config_parse(const void *xml_node, struct monitor_config *cfg, char *err,
			 size_t errlen);

void monitor_config_free(struct monitor_config *cfg);

#endif
