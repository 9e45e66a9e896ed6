/*
 * A group: several <start> nodes under one monitor (monitor_config.h),
 * which is then their init.  Each member is run by a member monitor (a
 * struct monitor of its own: proxies, records, threads, as for one
 * target) that shares the component's env; the group routes the members'
 * session requests among them by their <route>s (config/config.h) and to
 * the monitor's parent, and ends when every member has ended.
 *
 * A member's session at another member is opened at that member's root
 * proxy (served_proxy.c), so the client holds the monitor's proxy of the
 * server's session object, and an object of one member handed to another
 * in a call through such a session reaches it as a proxy too: every cap
 * a member holds to another member's object is one of the monitor's
 * proxies (group_route.c).
 *
 * The members' parent interfaces are served by an entrypoint of the group
 * (group->ep), not the monitor's main one: opening a session at a member
 * calls that member, which meanwhile calls its PD and LOG proxies on the
 * main entrypoint.
 */
#ifndef MONITOR_GROUP_H
#define MONITOR_GROUP_H

#include <stdint.h>
#include <base/env.h>

#include "config/config.h"
#include "monitor/limits.h"
#include "monitor/records.h"
#include "monitor/monitor_config.h"

struct monitor;
struct control_mailbox;
struct control_request;
struct group_ck;
struct mon_region;
struct mon_model_region;
struct grs;

#define GROUP_MAX_ROOTS 4 /* services one member announces */

struct mon_member {
	struct monitor *mon;
	const struct start_config *start;
	int ended, exit_code;
	int nroots;
	/* serves the objects its clients get (served_proxy.c): made on first
	 * use, kept for the member's next monitor after a restore (an
	 * entrypoint's thread ends only with the component) */
	struct entrypoint *serve_ep;
	struct {
		char name[CONFIG_NAME_MAX];
		cap_t proxy; /* the member's root proxy (its serve_ep) */
	} root[GROUP_MAX_ROOTS];
};

struct mon_group {
	struct env *env;
	struct monitor_config cfg; /* cfg.group: the members' <start> nodes */
	struct entrypoint *ep;	   /* serves the members' parent interfaces */
	int n, nended;
	struct mon_member member[MON_GROUP_MAX];
	struct control_mailbox *endpoint;
	struct group_ck *ck; /* a checkpoint under way (group_checkpoint.c) */
	uint64_t test_lines; /* <test checkpoint_after_log>: group_test.c */
	int test_fired;
	int test_held; /* then="hold": every member paused after the line */
	int restoring; /* a restore under way (group_restore.c) */
	struct monitor *retired[MON_GROUP_MAX]; /* replaced by the last restore */
	unsigned restore_points; /* its points that can fail (restore_hooks.c) */
	/* a migration (group_migrate.c): at the source, the members stay
	 * paused after the group image until THAW or RELEASE; at the
	 * destination, the restore is built and ready, not committed */
	int frozen;
	struct grs *held;
};

/* ---- group.c ---- */
/* Construct the monitor of a group (cfg->group set): start every member
 * in the order of the config.  Exits the component with 2 if a member
 * cannot be started (those started are ended first). */
void group_construct(struct env *env, const struct monitor_config *cfg);
/* Member mon's target ended with code (monitor_target_ended tore it
 * down); the group ends once every member has. */
void group_member_ended(struct monitor *mon, int code);
/* The checkpoint under way (g->ck) has ended: if every member has
 * ended meanwhile, the group ends now. */
void group_checkpoint_done(struct mon_group *g);
/* A member monitor for member i (its target not started), or NULL. */
struct monitor *group_member_new(struct mon_group *g, int i);
/* Member k's monitor's target goes (its threads first, then its serving
 * entrypoint, its objects and sessions, its roots in the group); the
 * monitor is kept (g->retired) until the next restore or the group's
 * end, and the member slot is empty: a group's restore fills it. */
void group_member_retire(struct mon_group *g, int k);
/* The monitors group_member_retire kept, freed. */
void group_retired_free(struct mon_group *g);
/* A member monitor a failed restore built: its objects and sessions
 * closed, the monitor freed (it never was a member). */
void group_member_discard(struct monitor *mon);
/* Member mon's serving entrypoint (its slot's, made on first use), or
 * NULL. */
struct entrypoint *group_serve_ep(struct monitor *mon);
/* The entrypoint that serves the members' parent interfaces. */
struct entrypoint *group_ep(const struct monitor *mon);
/* 1 if member k runs (it started and has not ended). */
int group_member_runs(const struct mon_group *g, int k);
/* 1 if member k has ended, with its exit code in *code (code may be
 * NULL): its end recorded (group_member_ended), or its target exited and
 * that record is still deferred to the group's entrypoint, as a cut that
 * let the members run between two tries may find it. */
int group_member_gone(const struct mon_group *g, int k, int *code);
/* The member's name (its <start> name). */
const char *group_member_name(const struct monitor *mon);
/* The members' names, "a,b,c", an ended one as "a(ended)". */
void group_members_word(const struct mon_group *g, char *buf, size_t size);
/* The one-line answer to a control request (mb), or, for what the group
 * does on its own (mb NULL: its <test>, its restore at start), the same
 * line in the log after "monitor: WHAT: ". */
void group_answer(struct mon_group *g, struct control_mailbox *mb, const char *what,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ---- group_route.c ---- */
/* A session request of member mon for service with args: 1 if it goes
 * to the monitor's parent (its route says <parent/>, or it has none),
 * else 0 with *out a cap held for the client (a proxy of the serving
 * member's session object), or -errno (-EAGAIN: the member that is to
 * serve it has not announced it yet, the client asks again). */
int group_session(struct monitor *mon, const char *service, const char *args, cap_t *out,
		  int *server);
/* Close the session cap s that member mon opened at member server
 * (ROOT_CLOSE at its root), or upgrade it (nothing moves: the members
 * share the monitor's quota).  0 or -errno. */
int group_session_close(struct monitor *mon, int server, cap_t s);
/* A call at a member's root (its proxy, or that proxy's call at the
 * member's own root): -EAGAIN if not taken within 100 ms (the member is
 * paused, or waits for the group's entrypoint, which may be the
 * caller); once taken, its reply is awaited without limit.  0 or
 * -errno as rpc_call. */
int group_root_call(cap_t root, struct msg *m);
/* Member mon announces service name with root (its proxy, held by
 * mon): the group's members may open sessions there.  0 or -errno. */
int group_announce(struct monitor *mon, const char *name, cap_t root_proxy);
/* A request a member sends through a proxy of another member's object:
 * each cap it carries that is an object of the sending member (one of
 * its RPC gates) is replaced by sender's proxy of it, so the receiver
 * holds a proxy (translated in place in m). */
void group_wrap_request(struct monitor *receiver, struct msg *m);

/* ---- group_cut.c ---- */
/* Pause every member with no call between members half done (see the
 * file); prepaused: group_pause_all paused them all already.  0 with all
 * paused, or -errno with all running and one line in why. */
int group_cut(struct mon_group *g, int prepaused, char *why, size_t size);
/* Pause every member now (the group's <test>; then group_cut with
 * prepaused set).  0, or -errno with all running. */
int group_pause_all(struct mon_group *g);
/* Pause member mon's threads (until monitor_resume).  0 or -errno. */
int group_pause_member(struct monitor *mon);
/* Resume every member a cut (or a checkpoint) paused. */
void group_resume(struct mon_group *g);

/* ---- group_caps.c ---- */
/* A cap (kcap, badge) in member mon's cap map that mon's own records do
 * not know: MON_CLASS_MEMBER with *aux the member whose object it is, or
 * MON_CLASS_UNKNOWN with one line in mon->why naming kcap, badge and the
 * sessions routed outside the group it may have come through. */
enum mon_class group_classify(struct monitor *mon, uint64_t kcap, uint64_t badge,
			      uint64_t *aux);
/* For the image: the cap with badge that member mon holds to member
 * owner's object.  0 with *object (its badge at the owner) and *kind
 * (image/group.h's enum image_member_kind); -ENOENT: not an object of
 * owner; -ENOTSUP: one an image has no record for. */
int group_member_ref(struct monitor *mon, int owner, uint64_t badge, uint64_t *object,
		     uint32_t *kind);
/* A dataspace with badge that member mon attached and another member
 * (*owner) recorded (a RAM or managed one): its size, 0 if none. */
uint64_t group_member_ds(struct monitor *mon, uint64_t badge, int *owner);
/* A checkpoint's region g of member mon whose dataspace is another
 * member's, whose bytes the owner's image holds (a managed dataspace, or
 * a RAM one the owner attached too): 1 with mr filled (owner set, no
 * bytes), else 0. */
int group_member_region(struct monitor *mon, const struct mon_region *g,
			struct mon_model_region *mr);
/* A cap one member holds to another member's object. */
struct group_cap {
	int holder, owner;    /* member indices */
	uint64_t kcap, badge; /* in the holder's cap map */
	uint64_t object;      /* the owner's object it stands for */
	const char *kind;     /* what it is at the owner (proxy type or class) */
	uint32_t ikind;	      /* as image/group.h's enum image_member_kind,
				 0: none (such a cap cannot be written) */
	int revoked;	      /* the owner revoked the holder's copy of its
				 gate: the slot is empty (served_revoke.c) */
};
/* The caps between members in the members' checkpoint models (models[k]
 * of member k): at most max into t, their number. */
struct mon_model;
unsigned group_cap_table(struct mon_group *g, struct mon_model *const *models,
			 struct group_cap *t, unsigned max);

/* ---- group_checkpoint.c ---- */
/* A control request for the group (group.c's handler): checkpoint into
 * the group image at path (image/group.h); with stop set (--stop), the
 * members stay paused from the cut until the image is written and are
 * then ended, each as by its own exit(0) (group_stop). */
void group_checkpoint(struct mon_group *g, struct control_mailbox *mb, const char *name,
		      const char *path, const char *members, int stop);
/* The same for a migration's freeze: the members stay paused once the
 * image is written (g->frozen) until group_thaw or group_release; if it
 * fails they resume. */
void group_checkpoint_hold(struct mon_group *g, struct control_mailbox *mb,
			   const char *name, const char *path, const char *members);
/* The same for the group's <test>: no request to answer (mb NULL), the
 * outcome logged; with stop set, the members stay paused once the image
 * is written and are then ended (group_stop). */
void group_checkpoint_test(struct mon_group *g, const char *path, int stop);

/* ---- group_test.c ---- */
/* The group's <test checkpoint_after_log="N" image= then="exit">: a group
 * image after the members' Nth LOG line, the members ended there (they
 * go on in the node that restores it).  Member mon wrote a LOG line
 * (log_rom_proxy.c, on the main entrypoint): counted over all members. */
void group_test_log_line(struct monitor *mon);
/* A checkpoint with --stop, or the <test>'s then="exit", wrote its image
 * (on the main entrypoint): end every member as its own exit(0) would. */
void group_stop(struct mon_group *g);

/* ---- group_restore.c ---- */
/* Restore the group image at path, for a control request (mb) or at
 * start (mb NULL; checked whole; see the file for what is done).  0, or
 * -errno with the one line said. */
int group_restore(struct mon_group *g, struct control_mailbox *mb, const char *name,
		  const char *path);
/* The same; with hold set (a migration's restore) every member is built
 * and ready but nothing is committed: the old members stay paused and
 * the restore waits in g->held for group_restore_end. */
int group_restore_as(struct mon_group *g, struct control_mailbox *mb, const char *name,
		     const char *path, int hold);
/* The held restore committed (the old members go, the new ones start)
 * or undone (the old ones, if any, resume).  0, or -ENOENT: none held. */
int group_restore_end(struct mon_group *g, int commit);

/* ---- group_migrate.c ---- */
/* The control ops of a migration at the group's monitor: FREEZE (the
 * group image, members kept paused), THAW (resume them at the source,
 * or commit the held restore at the destination), RELEASE (end them at
 * the source, the group then waits for a restore; or undo the held
 * restore at the destination).  Each answers mb in one line. */
void group_migrate_control(struct mon_group *g, struct control_mailbox *mb,
			   const struct control_request *req, const char *members);

#endif
