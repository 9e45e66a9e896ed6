/*
 * The monitor's records (records.c): every cap it learned of while
 * serving its target, with the class of the checkpoint's table, the
 * target's attachments and its threads.
 */
#ifndef MONITOR_RECORDS_H
#define MONITOR_RECORDS_H

#include <stdint.h>
#include <base/env.h>

#include "monitor/limits.h"

struct monitor;
struct mon_req;

/* The classes of the checkpoint's table (docs/design.md), plus what the monitor knows it
 * cannot restore (MON_CLASS_UNKNOWN: a checkpoint that finds one live fails). */
enum mon_class {
	MON_CLASS_UNKNOWN = 0,
	MON_CLASS_SESSION,    /* a session the monitor serves */
	MON_CLASS_DATASPACE,  /* RAM dataspace */
	MON_CLASS_ROM_DS,     /* ROM dataspace */
	MON_CLASS_REGION_MAP, /* a region map (rm_proxy.c serves every one) */
	MON_CLASS_MANAGED_DS, /* a region map's dataspace: aux = the map's proxy badge */
	MON_CLASS_THREAD,     /* CPU thread object */
	MON_CLASS_RPC_GATE,   /* a gate the target allocated for its own object */
	MON_CLASS_SIGNAL_SOURCE,
	MON_CLASS_SIGNAL_CONTEXT,
	MON_CLASS_SEMAPHORE, /* the signal source's semaphore irq */
	MON_CLASS_ROUTED,    /* a session routed outside through the monitor's parent */
	MON_CLASS_ROOT,	     /* a root the target announced */
	MON_CLASS_TASK,	     /* FIXED_TASK: the target's own task, core-managed */
	MON_CLASS_PARENT,    /* FIXED_PARENT: the monitor's parent object */
	MON_CLASS_SKIPPED,   /* receive window / dead entry: nothing to restore */
	MON_CLASS_DEAD,	     /* record of an object gone while the target may
				still hold its cap (classified as skipped) */
	MON_CLASS_MEMBER,    /* an object of another member of the group
				(group_caps.c): aux = that member's index */
	MON_CLASS_COUNT,
};
const char *mon_class_name(enum mon_class c);

/* A cap the monitor learned of.  Invariants: used == 1 iff the entry is
 * live; the monitor holds `refs` references to cap (0 for caps it only
 * knows of, e.g. proxies); badge == cap_badge(cap) at record time;
 * aux: size for dataspaces, entrypoint-thread badge for gates, imprint
 * for contexts, thread nr for threads. */
struct mon_record {
	int used;
	unsigned refs;
	enum mon_class cls;
	int member; /* ROUTED: 1 + the group member that serves it, 0: the parent */
	cap_t cap;
	uint64_t badge;
	uint64_t aux, aux2;
	int text; /* its struct mon_rec_text was written (record_text) */
};

/* A routed session's service name and args, beside its record (index of
 * the record in rec[]) and not in it: most records are gates and
 * dataspaces without names, and a restore of thousands of them wrote
 * every page of 376-byte records (two page faults each, a write after
 * commit's read) where 56-byte ones take a seventh of the pages. */
struct mon_rec_text {
	char what[MON_NAME_MAX];
	char args[MON_ARGS_MAX];
};

/* A dataspace attached in the target: [at, at + size) maps ds from off,
 * in the address space (rm == 0; the stack area's attachments too, at
 * their absolute addresses) or inside the managed region map whose proxy
 * has badge rm (at is an offset in the map). */
struct mon_region {
	int used;
	uint64_t rm;
	uint64_t ds_badge;
	uint64_t at, off, size;
	unsigned perm;
};

/* A thread of the target: cap at the real CPU session. */
struct mon_thread {
	int used;
	cap_t cap;
	uint64_t nr, utcb, badge;
	char name[32]; /* given at its creation (ps shows it; into the image) */
};

/* ---- records.c ---- */
/* Find or create the record of cap and give it class cls and aux unless
 * it has a class already; takes no reference.  NULL when full. */
struct mon_record *record_add(struct monitor *mon, enum mon_class cls, cap_t cap,
			      uint64_t aux);
/* Take over one reference to cap (a cap received in a reply): find or
 * create its record (MON_CLASS_UNKNOWN).  If full, the cap is released. */
void record_hold(struct monitor *mon, cap_t cap, const char *what);
struct mon_record *record_find(struct monitor *mon, uint64_t badge);
/* The name and args of record r, to write (marked written: dropping r
 * clears them), and the two to read ("" if never written). */
struct mon_rec_text *record_text(struct monitor *mon, const struct mon_record *r);
const char *record_what(const struct monitor *mon, const struct mon_record *r);
const char *record_args(const struct monitor *mon, const struct mon_record *r);
void record_drop(struct monitor *mon, uint64_t badge);
int region_add(struct monitor *mon, uint64_t rm, uint64_t ds_badge, uint64_t at,
	       uint64_t off, uint64_t size, unsigned perm);
/* Record the attachment a PD_ATTACH / REGION_ATTACH request made at at
 * (size 0 in the request: the rest of the dataspace). */
void region_attached(struct monitor *mon, uint64_t rm, const struct mon_req *req,
		     uint64_t at);
void region_drop(struct monitor *mon, uint64_t rm, uint64_t at);
/* The size of a dataspace the monitor recorded (0: unknown). */
uint64_t record_ds_size(struct monitor *mon, const struct mon_record *ds);
/* Name thread nr (NUL-ended or len bytes, cut to fit). */
void thread_name(struct monitor *mon, uint64_t nr, const char *name, size_t len);
/* Thread nr's name, or "" if it has none. */
const char *thread_name_of(const struct monitor *mon, uint64_t nr);
int thread_add(struct monitor *mon, cap_t cap, uint64_t nr, uint64_t utcb,
	       uint64_t badge);
/* Forget the thread whose CPU-thread object has this badge. */
void thread_drop(struct monitor *mon, uint64_t obj_badge);
/* The object with this badge is gone (freed, killed, destroyed, closed)
 * but the target may still hold its cap: its record becomes
 * MON_CLASS_DEAD (references released), so checkpoints skip the entry;
 * cap_classify drops it once the target's cap map no longer has it. */
void record_dead(struct monitor *mon, uint64_t badge);
/* Drop every record, region and thread (references released). */
void records_clear(struct monitor *mon);

#endif
