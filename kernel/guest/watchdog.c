/*
 * Preemption of guest runs: one persistent host thread per process.
 *
 * uc_emu_start's own timeout starts a thread per call (~90 us) and its
 * instruction count instruments every instruction, so neither is usable
 * per time slice.  Instead the owner of a run only publishes "generation
 * g is running until deadline d" (atomic stores), and this thread sleeps
 * until the earliest deadline of all registered engines (on a condition
 * variable, with 1 ns timer slack), then asks each engine past its
 * deadline to stop at its next block boundary.  An owner whose deadline
 * is earlier than the one the thread sleeps towards wakes it, so a run is
 * preempted at its deadline plus the host's wake-up latency, whatever
 * other runs do; with no run going on the thread sleeps WD_POLL_NS.
 * The scheduler makes the deadline the end of the slice or the next
 * timeout, whichever comes first (kernel/sched.c).  The thread running
 * the engine is also signalled at the deadline by a timer of its own
 * (run_timer.c), which stops the run without waiting for this thread to
 * get a CPU; this thread remains the fallback, and is woken only for a
 * run that timer does not cover.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <time.h>
#include "kernel/guest/guest.h"

#define WD_STATE(gen, p) ((gen) << 2 | (p))
#define WD_NEVER	 UINT64_MAX
/* With no run to aim at, the thread still looks every WD_POLL_NS: runs
 * that their thread's timer stops (run_timer.c) do not wake it, and it
 * stops one of them whose signal did not come this much late at most. */
#define WD_POLL_NS (50ULL * 1000000ULL)

/* The registry: every engine's slot.  lock protects the list.  The
 * thread sleeps on `wake` (under wake_lock) until wake_at (WD_NEVER: no
 * run is going on); 0 while it scans.  An owner whose deadline is
 * earlier than wake_at wakes it. */
static struct {
	pthread_mutex_t lock;
	struct wd_slot *head;
	bool started;
	pthread_t tid;
	int rt_prio; /* its SCHED_FIFO priority (0: ordinary scheduling) */
	_Atomic uint64_t wake_at;
	pthread_mutex_t wake_lock;
	pthread_cond_t wake;
} wd = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake_lock = PTHREAD_MUTEX_INITIALIZER,
};

uint64_t wd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static _Atomic uint64_t wd_stops[WD_STOP_TIMER + 1];

void wd_count_stop(uint32_t who)
{
	if (who <= WD_STOP_TIMER)
		atomic_fetch_add_explicit(&wd_stops[who], 1, memory_order_relaxed);
}

static _Atomic uint64_t wd_woken;

uint64_t vcpu_watchdog_wakes(void)
{
	return atomic_load(&wd_woken);
}

void vcpu_preemptions(uint64_t *by_timer, uint64_t *by_watchdog)
{
	*by_timer = atomic_load(&wd_stops[WD_STOP_TIMER]);
	*by_watchdog = atomic_load(&wd_stops[WD_STOP_WATCHDOG]);
}

/* Ask the engine's block hook to stop s's run of generation st >> 2. */
static void wd_stop_slot(struct wd_slot *s, uint64_t st)
{
	uint64_t expect = st;

	if (!atomic_compare_exchange_strong(&s->state, &expect,
					    WD_STATE(st >> 2, WD_STOPPING)))
		return; /* the run ended meanwhile */
	/* Not uc_emu_stop from this thread: Unicorn 2.1.1 then may leave RIP
	 * at the start of a block whose first instructions already changed
	 * registers (seen with a store in the block), so resuming runs them
	 * twice.  The engine's own block hook stops at a block boundary. */
	atomic_store(&s->stop_request, WD_STOP_WATCHDOG);
	atomic_store(&s->state, WD_STATE(st >> 2, WD_STOPPED));
}

/* One pass over all slots: stop every run past its deadline (with stop)
 * and return the earliest deadline of the runs left, WD_NEVER if none. */
static uint64_t wd_scan(bool stop)
{
	uint64_t now = wd_now_ns(), next = WD_NEVER;

	pthread_mutex_lock(&wd.lock);
	for (struct wd_slot *s = wd.head; s; s = s->next) {
		uint64_t st = atomic_load(&s->state);
		uint64_t dl = atomic_load(&s->deadline_ns);

		if ((st & 3) != WD_RUNNING)
			continue;
		if (dl <= now && stop)
			wd_stop_slot(s, st);
		else if (dl < next)
			next = dl;
	}
	pthread_mutex_unlock(&wd.lock);
	return next;
}

/*
 * Sleep until the earliest deadline.  An owner stores its run's state
 * and deadline, then reads wake_at; this thread stores wake_at, then
 * scans again (both seq_cst): either the owner sees wake_at and wakes us
 * if its deadline is earlier, or the second scan sees its run.
 */
static void *wd_thread(void *arg)
{
	(void)arg;
	prctl(PR_SET_TIMERSLACK, 1UL); /* a stop is due at its deadline */
	for (;;) {
		uint64_t next;
		struct timespec ts;

		atomic_store(&wd.wake_at, 0);
		next = wd_scan(true);
		pthread_mutex_lock(&wd.wake_lock);
		atomic_store(&wd.wake_at, next);
		if (wd_scan(false) < next) {
			pthread_mutex_unlock(&wd.wake_lock);
			continue;
		}
		if (next == WD_NEVER)
			next = wd_now_ns() + WD_POLL_NS; /* runs not aimed at */
		ts.tv_sec = (time_t)(next / 1000000000ULL);
		ts.tv_nsec = (long)(next % 1000000000ULL);
		pthread_cond_timedwait(&wd.wake, &wd.wake_lock, &ts);
		pthread_mutex_unlock(&wd.wake_lock);
	}
	return NULL;
}

/* Start the thread with all signals blocked: the node's signal handlers
 * (e.g. dirty tracking) must run on the threads that touch memory. */
static int wd_start(void)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t tid;
	int err;

	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&wd.wake, &ca);
	pthread_condattr_destroy(&ca);
	atomic_store(&wd.wake_at, WD_NEVER);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err = pthread_create(&tid, &attr, wd_thread, NULL);
	pthread_attr_destroy(&attr);
	if (!err)
		wd.tid = tid;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -err;
}

/* Under wd.lock: if the calling thread runs under a real-time policy,
 * the watchdog runs SCHED_FIFO one above it (see above). */
static void wd_follow_caller(void)
{
	struct sched_param sp;
	int policy;

	if (pthread_getschedparam(pthread_self(), &policy, &sp) ||
	    (policy != SCHED_RR && policy != SCHED_FIFO) ||
	    sp.sched_priority + 1 <= wd.rt_prio)
		return;
	sp.sched_priority++;
	if (!pthread_setschedparam(wd.tid, SCHED_FIFO, &sp))
		wd.rt_prio = sp.sched_priority;
}

/* Contract: s is not registered.  On success the watchdog polls s until
 * wd_unregister(s). */
int wd_register(struct wd_slot *s, uc_engine *uc)
{
	int err = 0;

	atomic_init(&s->state, WD_STATE(0, WD_IDLE));
	atomic_init(&s->deadline_ns, WD_NEVER);
	s->gen = 0;
	s->uc = uc;
	pthread_mutex_lock(&wd.lock);
	if (!wd.started) {
		err = wd_start();
		if (err)
			goto out;
		wd.started = true;
	}
	wd_follow_caller();
	s->prev = NULL;
	s->next = wd.head;
	if (wd.head)
		wd.head->prev = s;
	wd.head = s;
out:
	pthread_mutex_unlock(&wd.lock);
	return err;
}

/* Contract: s is registered and not running. */
void wd_unregister(struct wd_slot *s)
{
	pthread_mutex_lock(&wd.lock);
	if (s->prev)
		s->prev->next = s->next;
	else
		wd.head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	pthread_mutex_unlock(&wd.lock);
}

/* Contract: s is registered and idle; called by its owner only. */
void wd_run_begin(struct wd_slot *s, uint64_t deadline_ns)
{
	s->gen++;
	atomic_store_explicit(&s->stop_request, 0, memory_order_relaxed);
	atomic_store_explicit(&s->deadline_ns, deadline_ns, memory_order_relaxed);
	atomic_store(&s->state, WD_STATE(s->gen, WD_RUNNING));
	bool covered = run_timer_begin(s, deadline_ns);

	/* a run the thread's own timer stops is not the watchdog's to aim
	 * at: waking it cost 20-30 us (a futex wake, and the thread, above
	 * the node's under --realtime, taking the CPU to rescan) on the
	 * first run after each idle sleep, which a 10 ms ticker's tick
	 * waited for; it finds such runs on its next poll (WD_POLL_NS).
	 * Whether the signal is blocked is asked only here, where the
	 * watchdog would be woken, not on every run. */
	if (deadline_ns < atomic_load(&wd.wake_at) &&
	    !(covered && run_timer_deliverable())) {
		atomic_fetch_add_explicit(&wd_woken, 1, memory_order_relaxed);
		pthread_mutex_lock(&wd.wake_lock);
		atomic_store(&wd.wake_at, 0);
		pthread_cond_signal(&wd.wake);
		pthread_mutex_unlock(&wd.wake_lock);
	}
}

/* Contract: follows wd_run_begin(s) after uc_emu_start returned.  After it
 * returns the watchdog no longer acts on this run. */
bool wd_run_end(struct wd_slot *s)
{
	uint64_t expect = WD_STATE(s->gen, WD_RUNNING);
	unsigned spins = 0;

	run_timer_end();
	if (atomic_compare_exchange_strong(&s->state, &expect, WD_STATE(s->gen, WD_IDLE)))
		return false;
	while (atomic_load(&s->state) != WD_STATE(s->gen, WD_STOPPED)) {
		if (++spins > 64)
			sched_yield();
		else
			__builtin_ia32_pause();
	}
	atomic_store(&s->state, WD_STATE(s->gen, WD_IDLE));
	return true;
}
