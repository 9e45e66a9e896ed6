/*
 * A neighbour on the node: a 10 ms periodic timer that measures how late
 * each tick arrives while something else on the node (a checkpoint of
 * another component) runs.  N ticks (N from the ROM "bench.count"), then
 * it logs
 *
 *   neighbour: N ticks of 10000 us: late worst W us, median M us, K over 2 ms
 *
 * and exits 0 (and before that, every 100 ticks, the same for those:
 * "neighbour: ticks A-B: late worst ...").  Lateness of tick k is the time its signal is
 * handled (the Timer session's clock) minus start + k * period; core's periodic timer
 * keeps its deadlines on that grid, and a tick that comes with count c > 1 stands for c
 * ticks, each as late as it is.  "ticking" is logged once the first tick came, so a test
 * can start its checkpoint after that.
 */
#include <base/env.h>
#include <base/timer.h>

#include "../bench_ping/bench_count.h"

#define PERIOD_US 10000ULL
#define MAX_TICKS 4096
#define LATE_US	  2000ULL

static struct env *nb_env;
static struct signal_handler handler;
static cap_t timer;
static uint64_t ticks, want, start_us;
static uint32_t late[MAX_TICKS];

/* Sort v[0, n) ascending (Shell's sort: short and enough for 4096). */
static void sort_u32(uint32_t *v, uint64_t n)
{
	for (uint64_t gap = n / 2; gap; gap /= 2)
		for (uint64_t i = gap; i < n; i++) {
			uint32_t x = v[i];
			uint64_t j = i;
			for (; j >= gap && v[j - gap] > x; j -= gap)
				v[j] = v[j - gap];
			v[j] = x;
		}
}

/* Every WINDOW ticks, one line for them (where in time it was late). */
#define WINDOW 100
static uint32_t win[WINDOW]; /* the window's lateness, by tick % WINDOW */

static void report_window(uint64_t first)
{
	uint64_t over = 0;

	for (unsigned i = 0; i < WINDOW; i++)
		over += win[i] > LATE_US;
	sort_u32(win, WINDOW);
	env_log(
	    nb_env,
	    "neighbour: ticks %llu-%llu: late worst %llu us, median %llu us, %llu over "
	    "2 ms",
	    (unsigned long long)first, (unsigned long long)(first + WINDOW - 1),
	    (unsigned long long)win[WINDOW - 1], (unsigned long long)win[WINDOW / 2],
	    (unsigned long long)over);
}

static void report(void)
{
	uint64_t n = ticks < MAX_TICKS ? ticks : MAX_TICKS, worst = 0, over = 0;

	sort_u32(late, n);
	for (uint64_t i = 0; i < n; i++)
		over += late[i] > LATE_US;
	worst = n ? late[n - 1] : 0;
	env_log(nb_env,
		"neighbour: %llu ticks of %llu us: late worst %llu us, median %llu us, "
		"%llu over 2 ms",
		(unsigned long long)ticks, (unsigned long long)PERIOD_US,
		(unsigned long long)worst, (unsigned long long)(n ? late[n / 2] : 0),
		(unsigned long long)over);
}

static void on_tick(void *arg, unsigned count)
{
	uint64_t now = 0;

	timer_elapsed_us(timer, &now);
	if (!ticks)
		env_log(nb_env, "neighbour: ticking");
	for (unsigned j = 0; j < count; j++) {
		uint64_t due = start_us + (ticks + 1) * PERIOD_US;
		uint32_t l = (uint32_t)(now > due ? now - due : 0);
		if (ticks < MAX_TICKS)
			late[ticks] = l;
		win[ticks % WINDOW] = l;
		ticks++;
		if (ticks % WINDOW == 0)
			report_window(ticks - WINDOW);
	}
	if (ticks < want)
		return;
	timer_periodic(timer, 0);
	report();
	env_exit(nb_env, 0);
}

/* Start the periodic timer; *start gets the session's time just before,
 * retried until that and the time just after are close (the grid the
 * lateness is measured on is then known to ARM_SLACK_US; a busy node
 * between the two calls would shift it). */
#define ARM_SLACK_US 200
static int arm(uint64_t *start)
{
	uint64_t after = 0;
	int rc;

	for (int i = 0; i < 20; i++) {
		if ((rc = timer_elapsed_us(timer, start)) ||
		    (rc = timer_periodic(timer, PERIOD_US)) ||
		    (rc = timer_elapsed_us(timer, &after)))
			return rc;
		if (after - *start <= ARM_SLACK_US)
			break;
	}
	return 0;
}

void component_construct(struct env *env)
{
	int rc;

	nb_env = env;
	want = bench_count(env);
	if ((rc = timer_connect(env, &timer)) ||
	    (rc = signal_handler_init(env, &handler, on_tick, NULL)) ||
	    (rc = timer_sigh(timer, handler.context)) || (rc = arm(&start_us))) {
		env_log(env, "neighbour: set-up failed (%d)", rc);
		env_exit(env, 1);
	}
}
