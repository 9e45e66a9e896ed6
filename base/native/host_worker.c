/*
 * Host worker (base/host_worker.h): a job on a host thread, its end
 * signalled to the component as an interrupt on an external irq line.
 *
 * Lines: the control registry owns lines 0..31 (one per endpoint,
 * tools/control.h); workers take 32..63 from a process-wide bitmap (lines
 * are a process-wide name space, kernel/irq_line.c).
 *
 * Protocol between the job's host thread and the entrypoint: the job
 * stores its result, sets `done` (sequentially consistent), then raises
 * the line.  The entrypoint tests `done` before every wait, so a raise
 * that arrives before the wait only ends a later wait early (the Irq
 * counts), and one consumed by nobody reaches the irq handler, which
 * ignores it unless a started job has ended.  The entrypoint joins the
 * host thread before it reads the result or starts the next job.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <capsule/native.h>
#include <base/host_worker.h>

#define WORKER_LINE_FIRST 32
#define WORKER_LINES	  32
#define WORKER_POLL_US	  1000

/* Invariants: line is this worker's bit in worker_lines; started is 1
 * from host_worker_start until the result is collected (entrypoint
 * only); done is written by the job thread only while started. */
struct host_worker {
	struct env *env;
	struct entrypoint *ep;
	unsigned line;
	cap_t session, irq;
	pthread_t thread;
	int started;
	int done;
	int rc;
	int nice; /* of the jobs started from now on */
	host_job_fn fn;
	void *arg;
	host_done_fn done_fn;
	void *done_arg;
};

static uint32_t worker_lines; /* bit i: line WORKER_LINE_FIRST + i taken */

static int line_alloc(unsigned *line)
{
	uint32_t old = __atomic_load_n(&worker_lines, __ATOMIC_SEQ_CST);

	for (;;) {
		unsigned i;

		if (old == UINT32_MAX)
			return -EBUSY;
		i = (unsigned)__builtin_ctz(~old);
		if (__atomic_compare_exchange_n(&worker_lines, &old, old | (1u << i), 0,
						__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
			*line = WORKER_LINE_FIRST + i;
			return 0;
		}
	}
}

static void line_free(unsigned line)
{
	__atomic_fetch_and(&worker_lines, ~(1u << (line - WORKER_LINE_FIRST)),
			   __ATOMIC_SEQ_CST);
}

static void *job_main(void *p)
{
	struct host_worker *w = p;
	unsigned line = w->line;

	if (w->nice) /* this thread only; best effort */
		setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), w->nice);
	w->rc = w->fn(w->arg);
	__atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
	kernel_line_raise(line); /* -ENODEV after a close: nobody waits */
	return NULL;
}

/* The job has ended (done seen): join its thread, take its result. */
static int collect(struct host_worker *w)
{
	pthread_join(w->thread, NULL);
	w->started = 0;
	w->done_fn = NULL;
	return w->rc;
}

/* The Irq's handler, on the entrypoint between requests. */
static void worker_irq(void *p)
{
	struct host_worker *w = p;
	host_done_fn fn = w->done_fn;
	void *arg = w->done_arg;
	int rc;

	if (!w->started || !__atomic_load_n(&w->done, __ATOMIC_SEQ_CST) || !fn)
		return; /* spurious, or a waiter collects it */
	rc = collect(w);
	fn(arg, rc);
}

int host_worker_open(struct env *env, struct entrypoint *ep, struct host_worker **out)
{
	struct host_worker *w = calloc(1, sizeof *w);
	char args[64];
	struct msg m;
	int rc;

	if (!w)
		return -ENOMEM;
	if ((rc = line_alloc(&w->line))) {
		free(w);
		return rc;
	}
	w->env = env;
	w->ep = ep;
	snprintf(args, sizeof args, "line=%u label=\"worker\"", w->line);
	if ((rc = env_session(env, "IRQ", args, &w->session)))
		goto err_line;
	msg_reset(&m, IRQ_SESSION_IRQ);
	rc = rpc_call(w->session, &m);
	if (!rc && (m.code != RPC_OK || m.ncaps < 1 || !cap_valid(m.caps[0])))
		rc = -EIO;
	if (!rc) {
		w->irq = m.caps[0];
		rc = ep_irq_handler(ep, w->irq, worker_irq, w);
	}
	if (rc)
		goto err_session;
	*out = w;
	return 0;
err_session:
	parent_close(env->parent, w->session);
err_line:
	line_free(w->line);
	free(w);
	return rc;
}

void host_worker_close(struct env *env, struct host_worker *w)
{
	if (!w)
		return;
	if (w->started) {
		host_done_fn fn = w->done_fn;
		void *arg = w->done_arg;
		int rc = host_worker_wait(w);

		if (fn)
			fn(arg, rc);
	}
	ep_irq_dissolve(w->ep, w->irq);
	parent_close(env->parent, w->session);
	line_free(w->line);
	free(w);
}

int host_worker_start(struct host_worker *w, host_job_fn fn, void *arg, host_done_fn done,
		      void *done_arg)
{
	int rc;

	if (w->started)
		return -EBUSY;
	w->fn = fn;
	w->arg = arg;
	w->done_fn = done;
	w->done_arg = done_arg;
	w->rc = 0;
	__atomic_store_n(&w->done, 0, __ATOMIC_SEQ_CST);
	/* ordinary scheduling, whatever the node's thread runs under
	 * (capsule --realtime): bulk work never takes real-time priority */
	pthread_attr_t attr;
	struct sched_param sp = {.sched_priority = 0};

	if ((rc = pthread_attr_init(&attr)))
		return -rc;
	pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(&attr, SCHED_OTHER);
	pthread_attr_setschedparam(&attr, &sp);
	rc = pthread_create(&w->thread, &attr, job_main, w);
	pthread_attr_destroy(&attr);
	if (rc)
		return -rc;
	w->started = 1;
	return 0;
}

int host_worker_wait(struct host_worker *w)
{
	int closed = 1;

	if (!w->started)
		return -ECHILD;
	while (!__atomic_load_n(&w->done, __ATOMIC_SEQ_CST)) {
		uint64_t label, tag = 0;

		/* a closed wait takes only this Irq's triggers; a thread the
		 * Irq is not bound to polls instead */
		if (closed)
			tag = sys_invoke(cap_kcap(w->irq), TAG(SYS_OP_WAIT, 0, 0, 0),
					 SYS_TIMEOUT_NEVER, &label);
		if (!closed || TAG_ERROR(tag)) {
			closed = 0;
			sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), WORKER_POLL_US,
				   &label);
		}
	}
	return collect(w);
}

void host_worker_set_nice(struct host_worker *w, int nice)
{
	if (w)
		w->nice = nice < 0 ? 0 : nice > 19 ? 19 : nice;
}

int host_worker_busy(const struct host_worker *w)
{
	return w && w->started;
}

int host_worker_run(struct host_worker *w, host_job_fn fn, void *arg)
{
	int rc;

	if (!w)
		return fn(arg);
	if ((rc = host_worker_start(w, fn, arg, NULL, NULL)))
		return rc;
	return host_worker_wait(w);
}
