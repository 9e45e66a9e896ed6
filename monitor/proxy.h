/*
 * Proxies: the objects through which the monitor serves its target's
 * sessions (proxy.c), and the entry points of each session type (one
 * file each: pd_proxy.c, cpu_proxy.c, ...).
 */
#ifndef MONITOR_PROXY_H
#define MONITOR_PROXY_H

#include <stdint.h>
#include <base/env.h>

#include "monitor/limits.h"

struct monitor;
struct proxy;
struct mon_req;
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
	RMAP_SIZE,    /* its size (the PD's maps: once RMAP_DS is set) */
	RMAP_SESSION, /* managed: badge of the RM-session proxy that made it */
	RMAP_DS,      /* real badge of its dataspace (a MANAGED_DS record;
			 the PD's maps: once the target asked for it) */
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
/* A timer proxy's state as an image's timer record (read at the real
 * timer now: the one-shot time left, the time elapsed) and back. */
struct image_timer;
int timer_state_save(struct proxy *p, struct image_timer *t);
/* Note the timer's clock once a checkpoint has drained the signals. */
void timer_note_drain(struct proxy *p);
int timer_state_load(struct proxy *p, const struct image_timer *t);
/* The target's services (served_proxy.c): its announced roots and the
 * objects its clients get through them, served on mon->serve_ep. */
extern const struct proxy_type root_proxy_type;
extern const struct proxy_type served_proxy_type;
/* Their state: */
enum {
	SERVED_BADGE,	/* badge of the target's object the proxy stands for */
	SERVED_MADE,	/* 1: made by the restore under way for an object it
			 * recreated (the badge is a new one already), until
			 * that restore's apply; 0 otherwise */
	SERVED_CUT,	/* 1: its real was found revoked and the copies of the
			 * proxy the clients hold were revoked too */
	SERVED_WAS_CUT, /* 1: SERVED_CUT was set once: a holder may still
			 * have an empty slot (a checkpoint asks its PD) */
};
/* Announce name at the monitor's parent with a proxy of root.  0/-errno. */
int served_announce(struct monitor *mon, const char *name, cap_t root);
/* A group member announces name: a proxy of root for the other members
 * (group_announce), not at the monitor's parent.  0/-errno. */
int served_announce_group(struct monitor *mon, const char *name, cap_t root);
/* The root proxy of root (borrowed) made now, announced to the group
 * later (a group's restore: served_announce_group at its commit then
 * finds it and cannot fail).  0/-ENOSPC. */
int served_root_wrap(struct monitor *mon, cap_t root);
/* The proxy of the target's object real (taken over) that a client gets:
 * an existing one for the same object, or a new one; CAP_INVALID. */
cap_t served_proxy_of(struct monitor *mon, cap_t real);
/* A new proxy of an object the restore under way recreated (real names
 * it with its new badge), which that restore's prepare leaves as it is;
 * the caller makes one per object (a group's restore: group_restore.c).
 * CAP_INVALID if none is free. */
cap_t served_proxy_made(struct monitor *mon, cap_t real);
/* n such proxies are about to be made (a group restore): their gates
 * made ahead in one call (ep_reserve, at most 16); the unused freed by
 * served_unreserve.  Best effort: a proxy made without one costs a call
 * of its own. */
void served_reserve(struct monitor *mon, unsigned n);
void served_unreserve(struct monitor *mon);
/* Revocation by the target reaches its clients (served_revoke.c).  The
 * target allocated gate (a PD_ALLOC_RPC_CAP reply, on entrypoint ep):
 * the monitor's copy from core is released once the reply is sent, so
 * the copy it keeps is the next one the target hands out, derived from
 * the target's. */
void served_gate_made(struct monitor *mon, struct entrypoint *ep, cap_t gate);
/* The target freed the gate with this badge: its proxies go, and with
 * them every client's copy. */
void served_gate_freed(struct monitor *mon, uint64_t badge);
/* Every proxy whose real the target has revoked (the monitor's copy is
 * derived from the target's): revoke the copies its clients hold. */
void served_check(struct monitor *mon);
/* A task op (TASK_UNMAP, TASK_CAP_VALID) on the monitor's own cap space:
 * the result word; *err (if not NULL) 0 or -EINVAL. */
uint64_t served_task_op(uint64_t op, uint64_t kcap, uint64_t arg, int *err);
/* Is holder's cap at kcap (badge, a proxy of owner's) one whose copy the
 * owner's revocation emptied?  1 or 0 (asks the holder's PD only for a
 * proxy that served_check cut once). */
int served_copy_revoked(struct monitor *owner, struct monitor *holder, uint64_t badge,
			uint64_t kcap);
/* A restore made proxy c for a holder whose copy was revoked (its entry
 * is restored without the cap): a checkpoint asks again. */
void served_mark_cut(struct monitor *mon, cap_t c);
/* Is the root with this badge announced through a proxy? */
int served_root(struct monitor *mon, uint64_t root_badge);
/* The target's parent interface (parent_proxy.c). */
void parent_proxy_dispatch(struct rpc_object *obj, struct msg *m);

/* A restore: the new badge of an object (old itself if not recreated)
 * and the new object's cap (borrowed; CAP_INVALID: none) (restore_hooks.c). */
uint64_t restore_new_badge(const struct rs *rs, uint64_t old);
cap_t restore_new_cap(const struct rs *rs, uint64_t new_badge);

#endif
