/*
 * The checkpoint/restore monitor (DESIGN.md "monitor/"): a native
 * component that starts its target as its own child and serves every
 * session the target asks for by interception, forwarding to the real
 * services it opened through its own parent and recording what a
 * checkpoint and a restore need.
 *
 * Boundary: the monitor is a user-level component.  It holds only caps it
 * legitimately got (the target's real sessions, caps in the replies it
 * forwards), attaches the target's dataspaces into its own address space
 * to read and write its memory (seed 000, approach 1), learns the cap
 * map's address from the target's own PD_CAP_MAP_REPORT (approach 2) and
 * uses the native-PD extension (PD_MAP_CAP).  Nothing here includes a
 * kernel/ or core/ header (tests/unit/test_monitor.c checks it).
 *
 * Everything below is touched only on the monitor's entrypoint thread
 * (the checkpoint trigger thread only calls the control object).
 */
#ifndef MONITOR_MONITOR_H
#define MONITOR_MONITOR_H

#include <stddef.h>
#include <stdint.h>
#include <base/env.h>

#define MON_NAME_MAX	64
#define MON_ARGS_MAX	256
#define MON_MAX_PROXIES 64
/* every cap the target can hold: its cap map's slots (records.c keeps
 * them in struct monitor, which is heap-allocated, with a badge index) */
#define MON_MAX_RECORDS	  CAP_SLOTS
#define MON_MAX_PENDING	  128 /* signals drained at one checkpoint */
#define MON_REC_HASH_BITS 13  /* index slots: twice MON_MAX_RECORDS */
#define MON_MAX_REGIONS	  64
#define MON_MAX_RMAPS	  8 /* managed region maps of a target */
#define MON_MAX_THREADS	  16

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
	char image[256];	 /* non-empty: restore through an image file there */
	int then_exit;		 /* then="exit": after the image is written, stop */
	char restore_image[256]; /* <restore image=>: restore this at start */
	/* <test fail_restore_at="STEP">: a restore fails at that step (a
	 * prepare hook's name, "verify" or "announce"), for the tests that
	 * show a failed restore leaves everything as it was */
	char fail_restore_at[32];
};

struct monitor;
struct proxy;
struct mon_req;
struct badge_map;
struct rs; /* a restore under way (restore_state.h) */

/*
 * A session type the monitor serves by interception: one per file
 * (pd_proxy.c, cpu_proxy.c, ...).  before() may answer the request itself
 * (return 1, m is the reply) or refuse it (-errno); 0 forwards m to the
 * real object.  after() sees the request's summary and the real reply
 * and records what it needs (it may replace reply caps by proxies).
 */
struct proxy_type {
	const char *name;
	int (*before)(struct proxy *p, struct msg *m);
	void (*after)(struct proxy *p, const struct mon_req *req, struct msg *reply);
	/* A restore's hooks (restore_hooks.c drives them), all NULL where
	 * there is nothing to do.  prepare: make, at a real object, the state
	 * that names the target's recreated objects (restore_new_badge,
	 * restore_new_cap), without changing what the old target uses; keep
	 * it in next_real / next_state; 0 or -errno (the restore is then
	 * rolled back, undo called for each proxy whose prepare succeeded).
	 * apply: past the point of no return, make the prepared state the
	 * proxy's own; it cannot fail. */
	int (*prepare)(struct proxy *p, struct rs *rs);
	void (*undo)(struct proxy *p);
	void (*apply)(struct proxy *p);
};

/* One intercepted object: obj is managed by the monitor's entrypoint and
 * its cap is what the target holds; real is the object it stands for.
 * Invariant: used == 1 iff obj is managed. */
struct proxy {
	struct rpc_object obj;
	struct entrypoint *ep; /* the monitor's entrypoint that serves it */
	uint64_t gen;	       /* which use of this slot (a blocked call checks) */
	struct monitor *mon;
	const struct proxy_type *type;
	cap_t real;
	int used;
	uint64_t state[6]; /* the type's own record (e.g. a timer's sigh) */
	/* what a restore prepared (prepare -> apply / undo) */
	int prepared;
	cap_t next_real;
	uint64_t next_state[6];
};

/* What after() needs of a request (the message itself becomes the reply). */
struct mon_req {
	uint64_t code;
	unsigned nwords;
	uint64_t w[8];
	unsigned ncaps;
	uint64_t badge[MSG_MAX_ITEMS]; /* real badges, after proxy translation */
};

/* Classes of DESIGN.md's table, plus what the monitor knows it cannot
 * restore (MON_CLASS_UNKNOWN: a checkpoint that finds one live fails). */
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
	cap_t cap;
	uint64_t badge;
	uint64_t aux, aux2;
	char what[MON_NAME_MAX]; /* service name, args for routed sessions */
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
};

enum mon_state { MON_STARTING = 0, MON_RUNNING, MON_EXITED, MON_FAILED };

struct control_mailbox;

struct monitor {
	struct env *env;
	struct monitor_config cfg;
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
	struct mon_region region[MON_MAX_REGIONS];
	struct mon_thread thread[MON_MAX_THREADS];
	uint64_t checkpoints, restores;
	int restoring;	    /* a same-node restore is under way */
	int frozen;	    /* paused by CONTROL_FREEZE: a migration decides */
	uint64_t proxy_gen; /* the last proxy's gen */
	uint64_t log_lines; /* LOG lines the target wrote (log_rom_proxy.c) */
	/* signals drained from the source at the last checkpoint (re-submitted
	 * on resume and after a restore; see docs/cr.md) */
	unsigned npending;
	struct {
		uint64_t imprint, count;
	} pending[MON_MAX_PENDING];
	/* services the target announced: name and its root's badge */
	int nannounced;
	struct {
		char name[MON_NAME_MAX];
		uint64_t badge;
	} announced[4];
};

/* ---- monitor.c ---- */
/* Parse the monitor's <config> node (a libxml2 xmlNode *).  0, or
 * -EINVAL with a one-line message in err. */
int monitor_config_parse(const void *xml_node, struct monitor_config *cfg, char *err,
			 size_t errlen);
/* The native construct function; arg is a struct monitor_config that
 * outlives the component. */
void monitor_construct(struct env *env, void *arg);
/* Run the <test> checkpoint now (on the entrypoint, between requests). */
void monitor_test_now(struct monitor *mon);
/* The target ends with code: it is torn down and the monitor exits once
 * the request being served is answered (deferred). */
void monitor_target_ends(struct monitor *mon, int code);
/* The target ended (exit code, or fault): tear it down, exit the monitor. */
void monitor_target_ended(struct monitor *mon, int code);

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
/* A restore: the new badge of an object (old itself if not recreated)
 * and the new object's cap (borrowed; CAP_INVALID: none) (restore_hooks.c). */
uint64_t restore_new_badge(const struct rs *rs, uint64_t old);
cap_t restore_new_cap(const struct rs *rs, uint64_t new_badge);
/* Open a PD and a CPU session for the target at the monitor's parent
 * (its configured quota).  0 or -errno; nothing is left open on error. */
int target_open_pd_cpu(struct monitor *mon, cap_t *pd, cap_t *cpu);
/* Close a session opened at the monitor's parent and drop the cap. */
void target_close_session(struct monitor *mon, cap_t *s);

/* ---- proxy.c ---- */
/* Make a proxy of type t for real (takes over the reference); its cap,
 * or CAP_INVALID when no slot is free (real is then released). */
cap_t proxy_new(struct monitor *mon, const struct proxy_type *t, cap_t real,
		struct proxy **out);
/* The same, served by entrypoint ep instead of the main one. */
cap_t proxy_new_on(struct monitor *mon, struct entrypoint *ep, const struct proxy_type *t,
		   cap_t real, struct proxy **out);
/* The proxy whose cap has this badge, or NULL. */
struct proxy *proxy_find(struct monitor *mon, uint64_t badge);
/* A proxy of type t whose state[k] is v, or NULL. */
struct proxy *proxy_with(struct monitor *mon, const struct proxy_type *t, unsigned k,
			 uint64_t v);
/* Dissolve one proxy and drop its real cap. */
void proxy_destroy(struct monitor *mon, struct proxy *p);
/* Dissolve every proxy and drop its real cap. */
void proxy_destroy_all(struct monitor *mon);
void mon_reply_err(struct msg *m, int err);

/* ---- the session types (one file each) ---- */
extern const struct proxy_type pd_proxy_type;	      /* pd_proxy.c */
extern const struct proxy_type cpu_proxy_type;	      /* cpu_proxy.c */
extern const struct proxy_type log_proxy_type;	      /* log_rom_proxy.c */
extern const struct proxy_type rom_proxy_type;	      /* log_rom_proxy.c */
extern const struct proxy_type signal_proxy_type;     /* signal_proxy.c */
extern const struct proxy_type timer_proxy_type;      /* timer_proxy.c */
extern const struct proxy_type rm_proxy_type;	      /* rm_proxy.c: RM session */
extern const struct proxy_type region_map_proxy_type; /* rm_proxy.c */
/* Region-map proxy state (rm_proxy.c): */
enum {
	RMAP_KIND,    /* PD_ADDRESS_SPACE, PD_STACK_AREA or RM_CREATE (managed) */
	RMAP_SIZE,    /* managed: its size */
	RMAP_SESSION, /* managed: badge of the RM-session proxy that made it */
	RMAP_DS,      /* managed: real badge of its dataspace (a MANAGED_DS record) */
	RMAP_SIGH,    /* badge of its fault-handler context, 0: none */
};
/* Serve the region map real (taken over) of the given kind to the target;
 * managed maps get their dataspace fetched and recorded.  The proxy's
 * cap, or CAP_INVALID (real released). */
cap_t region_map_wrap(struct monitor *mon, cap_t real, uint64_t kind, uint64_t size,
		      uint64_t session, struct proxy **out);
/* REGION_DATASPACE on the real map: 0 with *ds (one reference), or
 * -errno. */
int region_map_dataspace(cap_t real, cap_t *ds);
/* The region-map proxy with this badge, or NULL. */
struct proxy *region_map_find(struct monitor *mon, uint64_t badge);
/* The map is gone: drop its attachments, its dataspace and its proxy. */
void region_map_forget(struct monitor *mon, struct proxy *map);
/* A timer proxy's state as text for an image (read at the real timer
 * now: the one-shot time left, the time elapsed) and back. */
int timer_state_save(struct proxy *p, char *buf, size_t size);
int timer_state_load(struct proxy *p, const char *text);
/* The target's services (served_proxy.c): its announced roots and the
 * objects its clients get through them, served on mon->serve_ep. */
extern const struct proxy_type root_proxy_type;
extern const struct proxy_type served_proxy_type;
/* Announce name at the monitor's parent with a proxy of root.  0/-errno. */
int served_announce(struct monitor *mon, const char *name, cap_t root);
/* Is the root with this badge announced through a proxy? */
int served_root(struct monitor *mon, uint64_t root_badge);
/* The target's parent interface (parent_proxy.c). */
void parent_proxy_dispatch(struct rpc_object *obj, struct msg *m);

/* ---- records.c ---- */
/* Find or create the record of cap and give it class cls and aux unless
 * it has a class already; takes no reference.  NULL when full. */
struct mon_record *record_add(struct monitor *mon, enum mon_class cls, cap_t cap,
			      uint64_t aux);
/* Take over one reference to cap (a cap received in a reply): find or
 * create its record (MON_CLASS_UNKNOWN).  If full, the cap is released. */
void record_hold(struct monitor *mon, cap_t cap, const char *what);
struct mon_record *record_find(struct monitor *mon, uint64_t badge);
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
