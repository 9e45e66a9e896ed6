/*
 * The checkpoint/restore monitor (docs/design.md): a native
 * component that starts its target as its own child and serves every
 * session the target asks for by interception, forwarding to the real
 * services it opened through its own parent and recording what a
 * checkpoint and a restore need.
 *
 * Boundary: the monitor is a user-level component.  It holds only caps it
 * legitimately got (the target's real sessions, caps in the replies it
 * forwards), attaches the target's dataspaces into its own address space
 * to read and write its memory (seed 000, approach 1), learns the cap
 * map's address and checkpoint report from the target's own
 * PD_CAP_MAP_REPORT (approach 2; <capsule/checkpoint_abi.h>) and uses the
 * native-PD extension (PD_MAP_CAP).  Nothing in monitor/ includes a
 * kernel/, core/ or init/ header or a libbase-private one
 * (tests/unit/test_monitor.c checks it).
 *
 * The parts: monitor_config.h (its config), proxy.h (the session
 * proxies), records.h (what it learned), checkpoint.h (the checkpoint
 * model), badge_map.h, restore.h and restore_state.h (restore), verify.h.
 *
 * Everything below is touched only on the monitor's entrypoint thread
 * (the checkpoint trigger thread only calls the control object).
 */
#ifndef MONITOR_MONITOR_H
#define MONITOR_MONITOR_H

#include <stddef.h>
#include <stdint.h>
#include <base/env.h>

#include "monitor/binary_id.h"
#include "monitor/limits.h"
#include "monitor/monitor_config.h"
#include "monitor/proxy.h"
#include "monitor/records.h"

enum mon_state { MON_STARTING = 0, MON_RUNNING, MON_EXITED, MON_FAILED };

struct control_mailbox;
struct host_worker;
struct ckpt_write;
struct mon_retry;

struct mon_group;
struct rs;
struct mon_model;
struct badge_map;
struct image_model;

struct monitor {
	struct env *env;
	struct monitor_config cfg;
	/* a member of a group (group.h): the group and its index; NULL/0
	 * for the monitor of one target */
	struct mon_group *group;
	int member;
	unsigned restore_points; /* failure points the running restore passed */
	enum mon_state state;
	int exit_code;
	/* the target's real sessions, opened at the monitor's parent */
	cap_t pd, cpu, log, rom;
	/* the proxies the target holds instead (pd_proxy is proxy[0] etc.) */
	struct proxy *pd_proxy, *cpu_proxy, *log_proxy, *rom_proxy;
	struct proxy proxy[MON_MAX_PROXIES];
	struct entrypoint *serve_ep;   /* serves the target's clients (served_proxy.c) */
	struct rpc_object parent_obj;  /* the target's parent interface */
	struct rpc_object control_obj; /* checkpoint / restore requests */
	cap_t control;
	struct control_mailbox *endpoint; /* control plane (capsule checkpoint) */
	cap_t exc_irq;			  /* the target CPU session's exception irq */
	struct thread *trigger;
	int trigger_calling; /* the trigger has sent its call (monitor.c) */
	/* what the target's libbase reported (<capsule/checkpoint_abi.h>) */
	uint64_t cap_map_addr, cap_map_entries, cr_report_addr, cr_abi_version;
	struct mon_record rec[MON_MAX_RECORDS];
	/* records.c's index over rec[] (rebuilt from rec[] while rec_indexed
	 * is 0): open addressing by badge, entries index + 1 of a record;
	 * rec_free[0, rec_nfree) the indices of unused records */
	int rec_indexed;
	unsigned rec_nfree;
	uint16_t rec_hash[1u << MON_REC_HASH_BITS];
	uint16_t rec_free[MON_MAX_RECORDS];
	struct mon_rec_text rec_text[MON_MAX_RECORDS]; /* touched only where written */
	struct mon_region region[MON_MAX_REGIONS];
	struct mon_thread thread[MON_MAX_THREADS];
	uint64_t checkpoints, restores;
	/* a region the target attached could not be recorded (more than
	 * MON_MAX_REGIONS): a checkpoint would miss it, so none is taken */
	int regions_lost;
	/* copies, compression and writes run on this host worker, off the
	 * node's scheduler thread (NULL: no IRQ route, they run in place) */
	struct host_worker *worker;
	struct ckpt_write *writing; /* the image write the worker runs */
	/* the target's threads stopped by a checkpoint: since when (host
	 * monotonic us, 0 = not paused by one) and the last pause's length */
	uint64_t paused_since_us, paused_us;
	/* a pause that does not settle on the entrypoint: the request being
	 * served can be run again later (pause_retry.h), the pause gave up
	 * for that (pause_deferred), and since when the pause has waited,
	 * over the retries (checkpoint_pause.c) */
	struct mon_retry *retry;
	int pause_retry, pause_deferred, pause_setup;
	uint64_t pause_wait_since_us, pause_wait_last_us;
	int restoring;	    /* a same-node restore is under way */
	int frozen;	    /* paused by CONTROL_FREEZE: a migration decides */
	int hold;	    /* paused by <test then="hold">: checkpoints (pre-copy rounds)
			       leave it paused until the migration's freeze */
	uint64_t proxy_gen; /* the last proxy's gen */
	int proxy_top;	    /* no proxy at this index or above was ever used:
			       the lookups stop there (proxy.c) */
	int proxy_free;	    /* every proxy below this index is used: a new
			       one's search for a free slot starts there */
	uint64_t log_lines; /* LOG lines the target wrote (log_rom_proxy.c) */
	int restore_lazy;   /* the next image restore is lazy (lazy_fill.h) */
	int restore_postcopy;	/* ... and its pages come from a page channel */
	struct lazy_fill *lazy; /* pages of a lazy restore still to fill */
	/* a post-copy source's freeze: the target's memory, read in place by
	 * the migration until THAW or RELEASE (frozen_memory.h) */
	struct frozen_mem *frozen_mem;
	struct mon_incr *incr; /* dirty tracking between checkpoints (dirty_pages.c) */
	/* a migration's copy built from its pre-copy rounds, not yet restored
	 * (restore_prebuild.c) */
	struct mon_prebuild *prebuild;
	/* a migration's restore onto its copy: what it leaves for after the
	 * commit's answer (the monitor's views of the memory, its working
	 * state, the models, the copy's leftovers), whether it leaves it and
	 * the answers given since (monitor_restore_after, restore_image.c,
	 * control_plane.c) */
	struct mon_restore_after {
		int later;
		struct rs *rs;
		struct mon_model *model;
		struct badge_map *seed;
		struct image_model *im;
		unsigned answers; /* given since it was left */
	} after;
	/* a restore kept paused (CONTROL_F_PAUSED): where its threads start
	 * on the THAW that commits it (restore_image.c) */
	unsigned nheld;
	struct {
		uint64_t nr, rip, rsp;
	} held[MON_MAX_THREADS];
	/* signals drained from the source at the last checkpoint (re-submitted
	 * on resume and after a restore; see docs/cr.md) */
	unsigned npending;
	struct {
		uint64_t imprint, count;
	} pending[MON_MAX_PENDING];
	/* the ELF it runs (hashed where it is loaded or, on an image
	 * restore, checked against the image) */
	struct binary_id binary;
	/* for the client of the control request being served: the first
	 * reason a step failed (monitor_why), and what the request did (the
	 * "ok" line's figures) */
	char why[400];
	char done_note[200];
	/* services the target announced: name and its root's badge */
	int nannounced;
	struct {
		char name[MON_NAME_MAX];
		uint64_t badge;
	} announced[4];
};

/* ---- monitor.c ---- */
/* Log "monitor: MESSAGE" and keep the first one of a request in mon->why:
 * the one-line reason its client is told. */
/* A "progress: ..." line for the client of the request being served. */
void monitor_progress(struct monitor *mon, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The byte meter of the request being served: a phase of total bytes
 * starts (after its monitor_progress line); monitor_meter_add (any
 * thread, arg the monitor: an image_model's progress hook) adds. */
void monitor_meter_start(struct monitor *mon, uint64_t total);
void monitor_meter_add(void *mon, uint64_t bytes);
void monitor_why(struct monitor *mon, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The native construct function; arg is a struct monitor_config that
 * outlives the component. */
void monitor_construct(struct env *env, void *arg);
/* Run the <test> checkpoint now (on the entrypoint, between requests). */
void monitor_test_now(struct monitor *mon);
/* The target ends with code: it is torn down and the monitor exits once
 * the request being served is answered (deferred). */
void monitor_target_ends(struct monitor *mon, int code);
/* <test image=>'s path: "%p" in it becomes this host process's id
 * (parallel test runs). */
void monitor_test_image_path(const char *image, char *path, size_t size);
/* The target ended (exit code, or fault): tear it down, exit the monitor. */
void monitor_target_ended(struct monitor *mon, int code);
/* ep_defer callback (arg: the monitor): the target was checkpointed with
 * --stop and its image is written; it ends here as by exit(0). */
void monitor_stop_deferred(void *arg);

/* ---- control_plane.c ---- */
/* Register the control endpoint named after the monitor's <start> (for
 * `capsule checkpoint`, `restore`, `migrate`, `ps`); logged if it cannot. */
void monitor_control_open(struct monitor *mon);

/* ---- target.c ---- */
/* Open the target's sessions, load its binary, start its first thread.
 * 0 or -errno (logged); on failure what was made is torn down. */
int target_start(struct monitor *mon);
/* Kill the target's threads, free its memory, close its sessions. */
void target_destroy(struct monitor *mon);
/* Watch the target's CPU session (mon->cpu) for faults: a faulting
 * target ends like an exiting one, with exit code 1.  0 or -errno. */
int target_watch(struct monitor *mon);
/* The same for a restore, in steps: bind the fault irq of CPU session
 * cpu (*irq; 0 or -errno, nothing bound), then either make it the
 * watched one (apply) or unbind it (undo). */
int target_watch_prepare(struct monitor *mon, cap_t cpu, cap_t *irq);
void target_watch_apply(struct monitor *mon, cap_t *irq);
void target_watch_undo(struct monitor *mon, cap_t *irq);
/* Open a PD and a CPU session for the target at the monitor's parent
 * (its configured quota).  0 or -errno; nothing is left open on error. */
int target_open_pd_cpu(struct monitor *mon, cap_t *pd, cap_t *cpu);
/* Close a session opened at the monitor's parent and drop the cap. */
void target_close_session(struct monitor *mon, cap_t *s);

#endif
