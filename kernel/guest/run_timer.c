/*
 * The run's own timer: a preemption delivered to the host thread that
 * runs the engine, beside the watchdog thread (watchdog.c).
 *
 * The watchdog is a second host thread: to stop a run it must itself be
 * woken and get a CPU, then the block hook sees its request.  On a loaded
 * host that wake-up is the largest part of a preemption's latency (a
 * 10 ms ticker above busy threads: the watchdog woke up to 8 ms late at
 * p99 under load, where the engine then stopped within 10 us), and at
 * equal priority every slice of a busy thread overran its end by it, so a
 * thread waiting behind 100 of them waited 100 overruns more than 100
 * slices.  So each host thread that runs engines also has a POSIX timer
 * (CLOCK_MONOTONIC, SIGEV_THREAD_ID) that signals that thread itself at
 * the run's deadline: the host's timer interrupt interrupts the running
 * thread where it is, and the handler asks the block hook to stop, as
 * the watchdog does.  No second thread has to be scheduled.
 *
 * Cost: the timer is armed only when a run's deadline is earlier than
 * the one it is armed for (a slice's runs share one deadline); a timer
 * that fires before the current run's deadline is re-armed by the
 * handler.  A signal that comes while no run is going on does nothing;
 * SA_RESTART restarts the host calls it interrupts (the scheduler's idle
 * sleep retries on EINTR).  The watchdog stays the fallback: for a
 * thread that blocks the signal, or if the timer cannot be made.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "kernel/guest/guest.h"

#define RT_SIGNAL (SIGRTMIN + 2)

/* This host thread's timer.  armed: the deadline it is armed for (ns,
 * 0: not armed); cur: the slot of the run going on (NULL: none).  Both
 * are also written by the handler, which runs on this thread. */
struct run_timer {
	bool made, failed;
	timer_t id;
	_Atomic uint64_t armed;
	struct wd_slot *_Atomic cur;
};

static __thread struct run_timer rt;
static pthread_once_t rt_once = PTHREAD_ONCE_INIT;
static pthread_key_t rt_key;
static bool rt_usable;

/* Arm for deadline_ns; false if the host refused (not armed). */
static bool rt_arm(uint64_t deadline_ns)
{
	struct itimerspec its = {
	    .it_value = {.tv_sec = (time_t)(deadline_ns / 1000000000ULL),
			 .tv_nsec = (long)(deadline_ns % 1000000000ULL)}};

	atomic_store(&rt.armed, deadline_ns);
	if (!timer_settime(rt.id, TIMER_ABSTIME, &its, NULL))
		return true;
	atomic_store(&rt.armed, 0);
	return false;
}

/* The timer fired on this thread: stop the run if it is past its
 * deadline, else wait for that deadline. */
static void rt_handler(int sig, siginfo_t *si, void *ctx)
{
	struct wd_slot *s = atomic_load(&rt.cur);
	int saved = errno;

	(void)sig;
	(void)ctx;
	if (si->si_code != SI_TIMER)
		return;
	atomic_store(&rt.armed, 0);
	if (s) {
		uint64_t dl = atomic_load(&s->deadline_ns);

		if (wd_now_ns() >= dl)
			atomic_store(&s->stop_request, WD_STOP_TIMER);
		else
			rt_arm(dl);
	}
	errno = saved;
}

static void rt_thread_end(void *arg)
{
	(void)arg;
	if (rt.made)
		timer_delete(rt.id);
	rt.made = false;
}

static void rt_setup(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = rt_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	rt_usable = pthread_key_create(&rt_key, rt_thread_end) == 0 &&
		    sigaction(RT_SIGNAL, &sa, NULL) == 0;
}

/* This thread's timer, made on its first run; false if there is none. */
static bool rt_make(void)
{
	struct sigevent ev;

	if (rt.made)
		return true;
	if (rt.failed)
		return false;
	pthread_once(&rt_once, rt_setup);
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_THREAD_ID;
	ev.sigev_signo = RT_SIGNAL;
	ev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	if (!rt_usable || timer_create(CLOCK_MONOTONIC, &ev, &rt.id)) {
		rt.failed = true;
		return false;
	}
	rt.made = true;
	atomic_store(&rt.armed, 0);
	pthread_setspecific(rt_key, &rt); /* deletes it when the thread ends */
	return true;
}

bool run_timer_begin(struct wd_slot *s, uint64_t deadline_ns)
{
	uint64_t armed;

	if (deadline_ns == UINT64_MAX || !rt_make())
		return false;
	atomic_store(&rt.cur, s);
	armed = atomic_load(&rt.armed);
	if (!armed || deadline_ns < armed)
		return rt_arm(deadline_ns);
	return true;
}

bool run_timer_deliverable(void)
{
	sigset_t cur;

	return !pthread_sigmask(SIG_BLOCK, NULL, &cur) && !sigismember(&cur, RT_SIGNAL);
}

void run_timer_end(void)
{
	atomic_store(&rt.cur, NULL);
}
