/*
 * Preemption of guest runs: one persistent host thread per process.
 *
 * uc_emu_start's own timeout starts a thread per call (~90 us) and its
 * instruction count instruments every instruction, so neither is usable
 * per time slice.  Instead the owner of a run only publishes "generation
 * g is running with slice s" (two atomic stores), and this thread polls
 * every registered engine: a generation seen running for longer than its
 * slice is stopped with uc_emu_stop.  A run is therefore preempted after
 * between slice_us and slice_us + one tick.  When nothing has run for a
 * while the thread sleeps on a condition variable until a run starts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include "kernel/guest/guest.h"

#define WD_TICK_MIN_US	 50
#define WD_TICK_MAX_US	 2000
#define WD_IDLE_SCANS	 64 /* scans without any run before sleeping */
#define WD_STATE(gen, p) ((gen) << 2 | (p))

/* The registry: every engine's slot.  lock protects the list and the
 * slots' watchdog-only fields; sleeping/wake implement the idle sleep. */
static struct {
	pthread_mutex_t lock;
	struct wd_slot *head;
	bool started;
	_Atomic int sleeping;
	pthread_mutex_t wake_lock;
	pthread_cond_t wake;
} wd = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake_lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
};

static uint64_t wd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Stop s's current run if it is generation `seen` and over its slice. */
static void wd_check_slot(struct wd_slot *s, uint64_t st, uint64_t now)
{
	uint64_t slice_ns = (uint64_t)atomic_load(&s->slice_us) * 1000ULL;
	uint64_t expect = st;

	if (now - s->seen_at_ns < slice_ns)
		return;
	if (!atomic_compare_exchange_strong(&s->state, &expect,
					    WD_STATE(st >> 2, WD_STOPPING)))
		return; /* the run ended meanwhile */
	/* Not uc_emu_stop from this thread: Unicorn 2.1.1 then may leave RIP
	 * at the start of a block whose first instructions already changed
	 * registers (seen with a store in the block), so resuming runs them
	 * twice.  The engine's own block hook stops at a block boundary. */
	atomic_store(&s->stop_request, 1);
	atomic_store(&s->state, WD_STATE(st >> 2, WD_STOPPED));
}

/* One pass over all slots.  Returns the shortest slice of a running slot
 * (0 if none runs) and sets *active if any slot changed or runs. */
static unsigned wd_scan(bool *active)
{
	uint64_t now = wd_now_ns();
	unsigned min_slice = 0;

	pthread_mutex_lock(&wd.lock);
	for (struct wd_slot *s = wd.head; s; s = s->next) {
		uint64_t st = atomic_load(&s->state);

		if (st != s->seen_state) {
			s->seen_state = st;
			s->seen_at_ns = now;
			*active = true;
		}
		if ((st & 3) != WD_RUNNING)
			continue;
		*active = true;
		unsigned slice = atomic_load(&s->slice_us);
		if (!min_slice || slice < min_slice)
			min_slice = slice;
		wd_check_slot(s, st, now);
	}
	pthread_mutex_unlock(&wd.lock);
	return min_slice;
}

static bool wd_any_running(void)
{
	bool running = false;

	pthread_mutex_lock(&wd.lock);
	for (struct wd_slot *s = wd.head; s && !running; s = s->next)
		running = (atomic_load(&s->state) & 3) == WD_RUNNING;
	pthread_mutex_unlock(&wd.lock);
	return running;
}

/* Sleep until wd_run_begin wakes us.  The seq_cst store of `sleeping`
 * before the re-scan pairs with the owner's seq_cst store of `state`
 * before it reads `sleeping`: one of the two sees the other. */
static void wd_idle_sleep(void)
{
	atomic_store(&wd.sleeping, 1);
	if (wd_any_running()) {
		atomic_store(&wd.sleeping, 0);
		return;
	}
	pthread_mutex_lock(&wd.wake_lock);
	while (atomic_load(&wd.sleeping))
		pthread_cond_wait(&wd.wake, &wd.wake_lock);
	pthread_mutex_unlock(&wd.wake_lock);
}

static void *wd_thread(void *arg)
{
	unsigned idle = 0;

	for (;;) {
		bool active = false;
		unsigned slice = wd_scan(&active);
		unsigned tick = slice ? slice / 4 : WD_TICK_MAX_US;

		if (tick < WD_TICK_MIN_US)
			tick = WD_TICK_MIN_US;
		if (tick > WD_TICK_MAX_US)
			tick = WD_TICK_MAX_US;
		idle = active ? 0 : idle + 1;
		if (idle >= WD_IDLE_SCANS) {
			wd_idle_sleep();
			idle = 0;
			continue;
		}
		struct timespec ts = {0, (long)tick * 1000L};
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
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

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err = pthread_create(&tid, &attr, wd_thread, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -err;
}

/* Contract: s is not registered.  On success the watchdog polls s until
 * wd_unregister(s). */
int wd_register(struct wd_slot *s, uc_engine *uc)
{
	int err = 0;

	atomic_init(&s->state, WD_STATE(0, WD_IDLE));
	atomic_init(&s->slice_us, 0);
	s->gen = 0;
	s->uc = uc;
	s->seen_state = WD_STATE(0, WD_IDLE);
	s->seen_at_ns = 0;
	pthread_mutex_lock(&wd.lock);
	if (!wd.started) {
		err = wd_start();
		if (err)
			goto out;
		wd.started = true;
	}
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
void wd_run_begin(struct wd_slot *s, unsigned slice_us)
{
	s->gen++;
	atomic_store_explicit(&s->stop_request, 0, memory_order_relaxed);
	atomic_store_explicit(&s->slice_us, slice_us, memory_order_relaxed);
	atomic_store(&s->state, WD_STATE(s->gen, WD_RUNNING));
	if (atomic_load(&wd.sleeping)) {
		pthread_mutex_lock(&wd.wake_lock);
		atomic_store(&wd.sleeping, 0);
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
