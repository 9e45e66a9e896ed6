/*
 * Host worker: a native component runs a long job (copying, compressing,
 * writing a file) on a host thread outside the node, so that the node's
 * scheduler thread -- and every other component on it -- keeps running.
 *
 * The worker is a device, like the control socket: the job runs on its
 * own host thread and, when it has ended, raises an external irq line
 * (kernel_line_raise) that core's IRQ session binds to an Irq; libbase
 * binds that Irq to the component's entrypoint (ep_irq_handler).  So
 * completion reaches the component through the component API only: the
 * entrypoint either blocks for it (host_worker_wait, a closed wait on the
 * Irq: the scheduler runs other threads meanwhile) or gets a call of the
 * job's done function between its requests.
 *
 * The job function runs outside the node: it must not enter the kernel
 * (no RPC, no env_log, no sys_invoke) -- the kernel is single-threaded.
 * It may read and write host memory the component owns, including
 * dataspaces it has attached (native components share the node's address
 * space), and use host files.  Whatever it touches must stay valid and
 * unchanged by the component until the job has ended.
 *
 * Native components only; the config must route "IRQ" to core (as for
 * <capsule/control.h>).  One job at a time per worker.
 */
#ifndef BASE_HOST_WORKER_H
#define BASE_HOST_WORKER_H

#include <base/env.h>

struct host_worker;

/* A job: its result (0 or -errno) is what host_worker_wait returns. */
typedef int (*host_job_fn)(void *arg);
/* Called on the entrypoint when a job started with it has ended. */
typedef void (*host_done_fn)(void *arg, int rc);

/* Open a worker whose completions go to entrypoint ep (its thread must
 * be the caller of host_worker_wait): a line, an IRQ session for it at
 * env's parent, its Irq bound to ep.  0 with *out, or -errno
 * (-EBUSY: every worker line of the process is taken). */
int host_worker_open(struct env *env, struct entrypoint *ep, struct host_worker **out);
/* Wait for a running job (its done function runs), unbind, close the
 * session, free the line. */
void host_worker_close(struct env *env, struct host_worker *w);

/* Start fn(arg) on a new host thread.  done (may be NULL) runs as
 * done(done_arg, rc) on the entrypoint once the job has ended, unless
 * host_worker_wait collects the result first.  0, -EBUSY (a job runs),
 * or -errno (no thread). */
int host_worker_start(struct host_worker *w, host_job_fn fn, void *arg, host_done_fn done,
		      void *done_arg);
/* On the entrypoint's thread: block it (not the node) until the running
 * job has ended; the job's result, or -ECHILD if no job was started.  The
 * job's done function is not called. */
int host_worker_wait(struct host_worker *w);
/* Jobs started from now on run at this nice value (0..19, clamped), below
 * the node's thread when both want a CPU: work that nobody waits for (a
 * write while the target runs) then delays the node's components less
 * on a busy host.  0 (the default): the node thread's priority. */
void host_worker_set_nice(struct host_worker *w, int nice);
/* 1 while a job is started and not yet collected. */
int host_worker_busy(const struct host_worker *w);

/* Run fn(arg) on w and wait for it (host_worker_start + host_worker_wait);
 * with w NULL, fn runs right here on the calling thread. */
int host_worker_run(struct host_worker *w, host_job_fn fn, void *arg);

#endif
