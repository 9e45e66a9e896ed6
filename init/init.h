/*
 * init: the native launcher.  It starts one child per <start> node of its
 * config, serves each child's parent interface on its entrypoint, routes
 * session requests, and reports exits and faults.  All state below is
 * touched only on init's entrypoint thread.
 */
#ifndef INIT_INIT_H
#define INIT_INIT_H

#include <stddef.h>
#include <stdint.h>
#include <base/env.h>

#include "config/config.h"
#include "config/session_args.h"
#include "init/native_child.h"

struct native_registry;

/* Sessions a child may hold open through init at once.  The table grows
 * as the child opens them (from 8); a group monitor with its members
 * needs several dozen, the ceiling is there for a child that opens
 * sessions without end. */
#define INIT_MAX_SESSIONS 1024
/* Caps a session costs its client on top of the cap_quota it gives. */
#define INIT_SESSION_CAPS 1
#define INIT_ARGS_MAX	  256

#define init_container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

enum child_state {
	CHILD_UNUSED = 0,
	CHILD_RUNNING,
	CHILD_EXITED,
	CHILD_FAULTED,
	CHILD_FAILED, /* could not be started */
};

/* A session opened on a child's behalf: at init's parent (server < 0) or
 * at the root of child number `server`.  ram/caps: the quota the client
 * paid for it, now in the server's PD (or in init's PD, charged by core,
 * for a session at init's parent); it goes back to the client on close. */
struct child_session {
	cap_t cap;
	int server;
	int service; /* index into the server's announced services */
	uint64_t ram, caps;
};

/* A service a child announced: root valid while the child runs. */
struct child_service {
	char name[CONFIG_NAME_MAX];
	cap_t root;
};

struct init;

/*
 * One child.  Invariants: while state == CHILD_RUNNING, pd/cpu/log/rom are
 * sessions at init's parent, thread is its initial thread, and
 * parent_obj is managed by init's entrypoint (its cap is mapped at the
 * child's FIXED_PARENT).  After the child ended every cap is released and
 * parent_obj is dissolved; only state, exit_code and the fault fields
 * remain meaningful.
 */
struct child {
	struct init *init;
	const struct start_config *cfg;
	int index;
	enum child_state state;
	int exit_code;
	unsigned fault_kind;
	uint64_t fault_ip, fault_addr;
	cap_t pd, cpu, log, rom;
	cap_t thread, exc_irq;
	struct rpc_object parent_obj;
	int nsessions, session_room;
	struct child_session *session; /* session_room of them, malloc'd */
	/* what it announced: room for its cfg->nprovides, malloc'd at its
	 * first announce and freed when it ends (child_destroy): 1.1 KB
	 * that every child kept in init's array, and most announce none */
	int nservices;
	struct child_service *service;
	/* a native child's start (native_child.c), NULL for a guest: 2.1 KB
	 * that a node's every child kept in init's array */
	struct native_slot *native;
};

struct init {
	struct env *env;
	/* freed (config_free) once every child has ended: the launcher's
	 * own config_free then finds it empty */
	struct init_config *cfg;
	const struct native_registry *natives; /* NULL: none */
	int nchildren;
	int done;	     /* the summary was sent */
	struct child *child; /* nchildren, one per <start> (init_construct) */
};

/* ---- init.c ---- */
/*
 * init's construct function (struct core_config.init_construct): arg is
 * the node's struct init, whose cfg the launcher set to the validated
 * config and natives to the native components it may start (NULL:
 * guests only); both must outlive the node (init frees the config's
 * contents, config_free, after its summary) (init's state is per node: several
 * nodes may run in one process).  Everything else of *arg is reset here.
 * Starts every child; a child that cannot be started is reported and
 * counted as failed.
 */
void init_construct(struct env *env, void *arg);
/* Free what init_construct allocated (after the node ended). */
void init_release(struct init *in);
/* A child ended (exit, fault or failed start): if it was the last one,
 * log the summary and exit init with 0 if every child exited 0, else 1. */
void init_child_ended(struct init *in);

/* ---- child.c ---- */
/* Create child's sessions, load its binary, start its initial thread.
 * 0, or -errno after logging one line; everything made is undone. */
int child_start(struct child *c);
/* Log that the step `what` of c's start was refused for quota: which
 * quota, how much was asked and how much is left. */
void child_quota_error(struct child *c, const char *what);
/* Open the child's PD, CPU and LOG sessions at init's parent (for a
 * native child a native PD) and, for a guest child, its ROM; *what names
 * the step that failed.  0 or -errno; what was opened stays in c. */
int child_open_sessions(struct child *c, int native, const char **what);
/* Give the child its parent interface (managed by init's entrypoint) and
 * create its initial thread at its CPU session (c->thread; *nr, *utcb,
 * *badge as cpu_create_thread); *what names the step that failed. */
int child_create_thread(struct child *c, const char **what, uint64_t *nr, uint64_t *utcb,
			uint64_t *badge);
/* Name of the child's recorded fault kind ("write fault", ...). */
const char *child_fault_name(const struct child *c);
/* Close every session of a running child and release all its caps; the
 * child's threads stop, its memory is freed.  state must already say why. */
void child_destroy(struct child *c);

/* ---- parent.c ---- */
/* The child's parent interface, managed by init's entrypoint. */
void parent_dispatch(struct rpc_object *obj, struct msg *m);

/* ---- session.c ---- */
/* Open service at init's parent with args (0 or -errno). */
int init_session_parent(struct init *in, const char *service, const char *args,
			cap_t *out);
/* Close a session opened with init_session_parent. */
void init_session_close_parent(struct init *in, cap_t session);
/* calls into children (a server's root) give up if the server does not
 * take the request in time: it may itself be blocked calling init */
#define INIT_SERVER_TIMEOUT_US 100000

/* ---- quota.c ---- */
/* Move ram/caps of unused quota from PD session `from` to `to` (both
 * sessions at init's parent).  0, -EDQUOT if from has not enough. */
int quota_move(cap_t from, cap_t to, uint64_t ram, uint64_t caps);
/* Why pd cannot pay ram bytes and caps caps (both 0: not known), in one
 * phrase: which quota, how much was asked, how much is left. */
void quota_explain(cap_t pd, uint64_t ram, uint64_t caps, char *buf, size_t size);
/* The PD that holds the quota of session s of client c: the server's PD,
 * or init's own for a session at init's parent. */
cap_t quota_holder(const struct child *c, const struct child_session *s);
/* Give s's quota back to client c as far as its holder has it unused
 * (a server may have spent some); logs what could not come back. */
void quota_return(struct child *c, const struct child_session *s);
/* End session number i of client c: close it at its server (or at init's
 * parent), return its quota, release init's cap, drop it from the list. */
void session_close(struct child *c, int i);
/* Server srv ends: every session other children have at it is dropped,
 * with its quota returned while srv's PD still holds it. */
void session_drop_served_by(struct child *srv);

#endif
