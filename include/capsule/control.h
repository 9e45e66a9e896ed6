/*
 * The control plane, seen from a native component (core, a monitor).
 *
 * `capsule node CONFIG --control SOCK` serves a Unix socket from a host
 * thread outside the node.  That socket is a DEVICE: a request reaches a
 * component as an interrupt on an external irq line (kernel_line_raise,
 * IRQ_LINE in abi.h), handed out by core's "IRQ" session, plus a mailbox
 * in host memory (native components share the node's address space).
 *
 * Integration (a monitor, ~10 lines):
 *
 *     #include <capsule/control.h>
 *
 *     static void on_request(struct control_mailbox *mb,
 *                            const struct control_request *req, void *arg)
 *     {
 *             struct monitor *m = arg;
 *             switch (req->op) {
 *             case CONTROL_CHECKPOINT:          // req->path: absolute
 *                     control_progress(mb, 10); // optional, 0..100
 *                     err = monitor_checkpoint(m, req->path);
 *                     break;
 *             case CONTROL_RESTORE:
 *                     err = monitor_restore(m, req->path);
 *                     break;
 *             default: err = -EOPNOTSUPP;
 *             }
 *             if (err) control_done(mb, "error: %s: %s", req->name, strerror(-err));
 *             else     control_done(mb, "ok %s %s", req->name, req->path);
 *     }
 *
 *     // in component_construct, name = its <start> name (the last
 *     // element of env->label, "init -> counter" -> "counter"):
 *     control_endpoint_open(env, name, CONTROL_CHECKPOINT | CONTROL_RESTORE,
 *                           on_request, m, &m->control); // a mailbox *
 *     // on exit: control_endpoint_close(env, m->control);
 *
 * The config must route "IRQ" to core: <parent-provides> lists
 * <service name="IRQ"/> (see examples/counter-node.xml).  on_request runs
 * on the component's entrypoint (an irq handler, ep_irq_handler), one
 * request at a time; it may take long (the socket client waits and shows
 * progress) and must end with exactly one control_done() -- or call
 * control_answer_later() and send that control_done() from the
 * entrypoint later, so that the entrypoint serves on meanwhile.  Lines given
 * with control_reply() before it are passed to the client as they are.
 * An op not in the registered mask never reaches the component: the
 * server answers "error: NAME: OP not supported" itself.  Outside
 * `capsule node` (capsule run, tests) control_endpoint_open still works:
 * the endpoint simply never gets a request.
 */
#ifndef CAPSULE_CONTROL_H
#define CAPSULE_CONTROL_H

#include <base/env.h>

#define CONTROL_NAME_MAX 64
#define CONTROL_PATH_MAX 4096

enum control_op {
	CONTROL_PS = 1,		/* "ps": core */
	CONTROL_CHECKPOINT = 2, /* "checkpoint NAME PATH" */
	CONTROL_RESTORE = 4,	/* "restore PATH [NAME]" */
	CONTROL_STOP = 8,	/* internal: end the node (core, on SIGTERM) */
	/* the steps of `capsule migrate` on the source node, to a monitor: */
	CONTROL_FREEZE = 16,  /* checkpoint NAME to PATH, the target stays paused */
	CONTROL_THAW = 32,    /* resume the frozen target (the migration failed) */
	CONTROL_RELEASE = 64, /* end the frozen target (it runs at the destination) */
	/* at a migration's destination: build the paused copy from round 1
	 * at PATH, or write the next round's pages into it (RELEASE ends it) */
	CONTROL_PREBUILD = 128,
	/* "status NAME" (capsule ps): a monitor's state and counts */
	CONTROL_STATUS = 4096,
};

/* Options of a request (flags). */
enum control_flags {
	CONTROL_F_STOP = 1,	/* CHECKPOINT: end the target once its image is written */
	CONTROL_F_PAUSED = 2,	/* RESTORE: keep the restored target paused until a
				   THAW (start it) or a RELEASE (end it): a migration's
				   destination waits for the source's commit */
	CONTROL_F_LAZY = 4,	/* RESTORE ("restore --lazy PATH"): its memory pages
				   come after the start, on demand and in the background */
	CONTROL_F_POSTCOPY = 8, /* RESTORE of a post-copy skeleton: lazy, its pages
				   from the page channel the migration offered
				   (monitor/page_channel.h) */
	CONTROL_F_SPOOL = 16,	/* CHECKPOINT of a migration's pre-copy round (set
				   by the node, never parsed): a spool file, read back,
				   sent and removed, so written without fsync and at
				   the node's priority, not the background's */
	CONTROL_F_STATE = 32,	/* CHECKPOINT/FREEZE of a post-copy source (set by
				   the node, never parsed): the target's state and
				   no page (IMAGE_F_PARTIAL); a FREEZE publishes its
				   memory for the migration to read in place
				   (monitor/frozen_memory.h) */
	CONTROL_F_WARM = 64,	/* FREEZE of a pre-copy source, asked for right
				   before the freeze itself (set by the node, never
				   parsed): nothing is paused and no image written;
				   the monitor only reads what the freeze will compare
				   (the pages written since the last round and that
				   round's copies of them) into the caches */
};

struct control_request {
	enum control_op op;
	char name[CONTROL_NAME_MAX]; /* the endpoint addressed */
	char path[CONTROL_PATH_MAX]; /* CHECKPOINT/RESTORE/FREEZE: absolute image path */
	unsigned flags;		     /* CONTROL_F_* */
	/* CHECKPOINT/FREEZE: an incremental image of the pages written since
	 * this image (absolute path; "": a full image) */
	char parent[CONTROL_PATH_MAX];
};

struct control_mailbox;

/* Register endpoint `name` for the ops in mask `ops`: *line gets the
 * external irq line the registry raises for each request.  Any host
 * thread.  NULL if the name is taken, invalid or the table is full. */
struct control_mailbox *control_register(const char *name, unsigned ops, unsigned *line);
/* Remove the endpoint; a request waiting on it fails ("error: NAME: gone"). */
void control_unregister(struct control_mailbox *mb);

/* Component side (its entrypoint): take the posted request into *req.
 * 0, or -EAGAIN if none is waiting. */
int control_take(struct control_mailbox *mb, struct control_request *req);
/* Report progress (0..100) of the request being served. */
void control_progress(struct control_mailbox *mb, unsigned percent);
/* The byte meter of the request being served, for the client's progress
 * line (phase, bytes done, rate): start a phase of `total` bytes (done
 * back to 0), then add what is done as it goes.  Any thread (a host
 * worker too), cheap (an atomic add): the caller waiting on the request
 * looks at it every 1/4 s and passes "progress: bytes DONE TOTAL" on when
 * it moved.  mb NULL: nothing. */
void control_meter_start(struct control_mailbox *mb, uint64_t total);
void control_meter_add(struct control_mailbox *mb, uint64_t bytes);
/* Add one reply line (no '\n') for the client. */
void control_reply(struct control_mailbox *mb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* true if the client cancelled the request being served (`capsule
 * checkpoint` and Ctrl-C): the component stops as soon as it can, undoes
 * what it did and answers with an error. */
int control_cancelled(struct control_mailbox *mb);
/* In the handler: the request is answered later, by a control_done from
 * the entrypoint once the work the handler started has ended (e.g. a
 * host worker's job).  Until then the endpoint takes no other request
 * (a caller meanwhile is told it is busy). */
void control_answer_later(struct control_mailbox *mb);
/* Final line ("ok ..." or "error: ..."): the request is complete. */
void control_done(struct control_mailbox *mb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* All of it for a native component: register, open an IRQ session for
 * the line through env's parent, bind it with ep_irq_handler so that
 * fn(mb, req, arg) runs on env's entrypoint per request.  0 or -errno;
 * *out is the endpoint's mailbox (host memory of the registry: nothing
 * to free if the node ends without control_endpoint_close). */
typedef void (*control_handler_t)(struct control_mailbox *mb,
				  const struct control_request *req, void *arg);
int control_endpoint_open(struct env *env, const char *name, unsigned ops,
			  control_handler_t fn, void *arg, struct control_mailbox **out);
/* Same with an Irq the caller already bound to mb's line (core, which
 * serves the IRQ session itself). */
int control_endpoint_attach(struct env *env, struct control_mailbox *mb, cap_t irq,
			    control_handler_t fn, void *arg);
/* Unbind, close the IRQ session (if open_endpoint made it), unregister. */
void control_endpoint_close(struct env *env, struct control_mailbox *mb);

#endif
