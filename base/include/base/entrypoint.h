/*
 * RPC objects and the entrypoint (docs/design.md, "Threads and
 * entrypoints").
 *
 * An entrypoint is a thread with an object pool: an AVL tree of
 * rpc_objects keyed by badge.  ep_manage() asks core for a gate bound to
 * the entrypoint's thread (PD alloc_rpc_cap with the thread's own kcap
 * from its UTCB) and inserts the object; dispatch looks the incoming badge
 * (label & ~3) up and answers RPC_INVALID_OBJECT when it is unknown.
 * The entrypoint manages an exit object (its exit cap) and a signal-proxy
 * object from the start, and a constructor object while the component is
 * being constructed.
 */
#ifndef BASE_ENTRYPOINT_H
#define BASE_ENTRYPOINT_H

#include <base/ipc.h>

enum rpc_exception {
	RPC_OK = 0,
	RPC_INVALID_OBJECT = 1, /* badge unknown in the object pool */
	RPC_INVALID_OPCODE = 2,
	RPC_ERROR = 3, /* server-side error; payload w[0] = -errno */
};

struct rpc_object;
/* Handle request m (m->code = opcode) in place: set m to the reply,
 * m->code to an enum rpc_exception or a service-defined code. */
typedef void (*rpc_dispatch_t)(struct rpc_object *obj, struct msg *m);

struct rpc_object {
	struct rpc_object *left, *right, *parent; /* pool AVL, keyed by badge */
	int depth;
	uint64_t badge;
	cap_t cap;
	rpc_dispatch_t dispatch;
};

struct entrypoint;

/* the component's main entrypoint (its initial thread) */
struct entrypoint *ep_main(void);
struct env;
/* A further entrypoint: a new thread of the component serving its own
 * objects (managed with ep_manage on it), so that a handler blocked in a
 * call does not hold up the main entrypoint.  0 with *out, or -errno.
 * It serves until its exit cap is invoked. */
int ep_create(struct env *env, const char *name, struct entrypoint **out);
/* Manage obj: returns its capability or CAP_INVALID (quota, no slots). */
cap_t ep_manage(struct entrypoint *ep, struct rpc_object *obj, rpc_dispatch_t fn);
/* Have core make up to n (<= 16) gates for the next ep_manage calls
 * ahead, in one call (PD_ALLOC_GATES_MAPPED: mapped into free slots of
 * the cap map, no cap in the reply) instead of one call each; 0 or
 * -errno (none made).
 * ep_unreserve frees the unused. */
int ep_reserve(struct entrypoint *ep, unsigned n);
void ep_unreserve(struct entrypoint *ep);
/* Remove from the pool and free the gate at core. */
void ep_dissolve(struct entrypoint *ep, struct rpc_object *obj);
struct rpc_object *ep_lookup(struct entrypoint *ep, uint64_t badge);
/* Run fn(arg) once, after the reply to the request being handled is sent
 * (a server that must call back a client does it here). */
void ep_defer(struct entrypoint *ep, void (*fn)(void *), void *arg);
/* Bind irq to the entrypoint's thread: each trigger runs fn(arg) on the
 * entrypoint (no reply is sent).  0 or -errno. */
int ep_irq_handler(struct entrypoint *ep, cap_t irq, void (*fn)(void *), void *arg);
/* Unbind irq from the entrypoint and free its handler slot (-ENOENT if it
 * has none). */
int ep_irq_dissolve(struct entrypoint *ep, cap_t irq);
/* The entrypoint's exit cap (its exit object, managed from the start):
 * a request to it makes ep_run return once the reply is sent. */
cap_t ep_exit_cap(struct entrypoint *ep);
/* The signal-proxy cap (docs/design.md "Signals"): managed from the start
 * like the exit cap; the signal handler thread calls it with
 * EP_SIGNAL_PROXY_DELIVER, w0 = imprint, w1 = count, and the handler runs
 * on the entrypoint. */
cap_t ep_signal_proxy_cap(struct entrypoint *ep);
#define EP_SIGNAL_PROXY_DELIVER 1
/* The constructor cap: valid only while component_construct runs; the
 * object is dissolved (gate freed, cap map entry removed) right after. */
cap_t ep_constructor_cap(struct entrypoint *ep);
/* Serve requests until the exit cap is invoked. */
void ep_run(struct entrypoint *ep);
/* Rebuild the object pool after its badges were rewritten (restorer). */
void ep_pool_rebuild(struct entrypoint *ep);
int ep_pool_check(struct entrypoint *ep);

#endif
