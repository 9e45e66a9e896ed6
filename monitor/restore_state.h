/*
 * A restore's working state, shared by restore.c (threads, memory,
 * commit and rollback) and restore_caps.c (the cap map entries).
 */
#ifndef MONITOR_RESTORE_STATE_H
#define MONITOR_RESTORE_STATE_H

#include "monitor/restore.h"

struct rs_thread {
	cap_t obj, kthread;
	uint64_t nr, badge;
};
struct rs_ds {
	uint64_t old_badge, size;
	cap_t cap;
	uint64_t host; /* the monitor's attachment while the restore writes it */
};
struct rs_cap {
	enum mon_class cls;
	cap_t cap;
	uint64_t aux;
	uint64_t badge; /* cap's, so a lookup by badge reads no cap map entry */
};

/* The phases of a restore, timed for the log line (bench_cr reads it). */
enum {
	RS_OPEN,
	RS_THREADS,
	RS_REGIONS,
	RS_MEMORY,
	RS_CAPS,
	RS_FIX,
	RS_STATE, /* UTCBs and registers */
	RS_READY, /* proxy hooks, fault irq, signals prepared; verified; announced */
	RS_COMMIT,
	RS_FREE,
	RS_PHASES
};

/* Caps waiting to be mapped at their kcaps in the new PD, MSG_MAX_ITEMS
 * to a call (PD_MAP_CAPS; restore_caps.c).  The queue holds one
 * reference to each cap until it is mapped or dropped (rs_mapq_drop). */
struct rs_mapq {
	unsigned n;
	cap_t c[MSG_MAX_ITEMS];
	uint64_t kcap[MSG_MAX_ITEMS], badge[MSG_MAX_ITEMS];
	enum mon_class cls[MSG_MAX_ITEMS];
};

/* A group member's gates and signal contexts made anew, by old badge:
 * what the other members' caps name (restore_member_object).  Open
 * addressing, at most half full; what does not fit is found by a scan
 * of the badge map. */
#define RS_OWN_BITS 8
struct rs_own {
	uint64_t old_badge; /* 0: empty (no badge is 0) */
	cap_t cap;	    /* borrowed: rs->cap[] holds the reference */
};

/* Everything a restore made so far (released on failure, recorded on
 * success).  Invariant: each valid cap here is one reference held. */
struct rs {
	struct monitor *mon;
	/* a copy of the model's description, rewritten in place; its regions'
	 * data point into the new dataspaces once fill_memory copied them
	 * (a lazy restore's is the caller's: model_work in restore.c) */
	struct mon_model *m;
	const struct mon_model *before; /* the caller's, checked against by verify */
	cap_t pd, cpu, source;
	struct rs_thread thread[MON_MAX_THREADS];
	unsigned nfill;
	cap_t fill[MON_MAX_THREADS]; /* threads made only to reach a number */
	unsigned nmember_regions;    /* of another member's dataspace */
	unsigned nds;
	struct rs_ds ds[MON_MAX_REGIONS];
	struct rm_restore rm;
	unsigned ncaps, nown;
	struct rs_own own[1u << RS_OWN_BITS];
	struct rs_cap cap[CAP_SLOTS];
	struct badge_map bm;
	struct rs_mapq mapq;
	const char *what;
	cap_t old_pd;  /* the old target's PD, closed after the new one runs */
	cap_t exc_irq; /* the new CPU session's fault irq, bound (prepared) */
	uint64_t t0, us[RS_PHASES]; /* host time spent in each phase */
};

/* restore_caps.c: release what is queued and not mapped */
void rs_mapq_drop(struct rs *rs);

/* restore.c */
/* Keep a new cap (one reference) until commit or rollback. */
int rs_keep(struct rs *rs, enum mon_class cls, cap_t cap, uint64_t aux);
/* The restored thread whose old kernel-thread badge (obj: CPU-thread
 * object badge) was old_badge, or NULL. */
struct rs_thread *rs_thread_by_badge(struct rs *rs, uint64_t old_badge, int obj);

/* restore_memory.c */
/* The new dataspace for an old one (made with size on first use; size 0:
 * only find it), or NULL. */
struct rs_ds *rs_ds_get(struct rs *rs, uint64_t old_badge, uint64_t size);
/* The region maps and every region attached at its old address (RAM
 * dataspaces made anew): 0 or -errno, rs->what saying which step. */
int rs_make_regions(struct rs *rs);
/* Each used dataspace written once from the model (not for a lazy
 * restore: lazy_fill.c); the regions' data then point into it. */
int rs_fill_memory(struct rs *rs);
/* Detach the monitor's views of the new dataspaces. */
void rs_unmap_memory(struct rs *rs);

/* restore_hooks.c: the steps around the point of no return */
/* The test hook: -ECANCELED (logged) if the config names this step. */
int restore_forced(struct rs *rs, const char *step);
/* Proxy hooks, the fault irq, pending signals: 0, or -errno with what
 * was prepared still to be undone by restore_undo. */
int restore_prepare(struct rs *rs);
void restore_undo(struct rs *rs);
/* The new target's memory checked against the model before (verify.c). */
int restore_verify(struct rs *rs, const struct mon_model *before);
/* Announce again what the target announced (another node only). */
int restore_announce(struct rs *rs);
/* After the commit: the prepared state becomes current. */
void restore_apply(struct rs *rs);

/* restore_caps.c */
/* Every cap of the model at its old kcap in the new PD (objects the
 * target owns made anew).  0 or -errno (logged, naming the kcap). */
int rs_map_caps(struct rs *rs);
/* The new semaphore bound to the restored signal handler thread. */
int rs_bind_semaphore(struct rs *rs);

#endif
