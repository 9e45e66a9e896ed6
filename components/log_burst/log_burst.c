/*
 * log_burst: a signal handler that logs while another thread of the
 * component waits for it.  A one-shot timer of GAP_US signals the
 * handler (on the entrypoint, called by the signal handler thread, which
 * waits for the call's reply meanwhile); it logs LINES lines and sets
 * the timer again, BURSTS times over, and the component exits.  The ROMs
 * "log_burst.bursts", "log_burst.lines" and "log_burst.gap_us" override
 * the three.  A checkpoint taken in the middle of a burst finds the
 * signal thread in a call its own entrypoint has taken, and the
 * entrypoint in a LOG call to the monitor: the monitor must serve that
 * LOG call before the pause can settle.
 */
#include <base/env.h>
#include <base/signal.h>
#include <base/timer.h>

#define BURSTS 4
#define LINES  8
#define GAP_US 10000

static struct env *burst_env;
static struct signal_handler burst_handler;
static unsigned burst, bursts, lines;
static uint64_t gap_us;
static cap_t timer;

static void on_signal(void *arg, unsigned count)
{
	int rc;

	burst++;
	for (unsigned i = 1; i <= lines; i++)
		env_log(burst_env, "burst %u line %u", burst, i);
	if (burst == bursts) {
		env_log(burst_env, "log_burst: %u bursts of %u lines", bursts, lines);
		env_exit(burst_env, 0);
		return;
	}
	if ((rc = timer_oneshot(timer, gap_us))) {
		env_log(burst_env, "log_burst: timer failed (%d)", rc);
		env_exit(burst_env, 1);
	}
}

void component_construct(struct env *env)
{
	int rc;

	burst_env = env;
	bursts = (unsigned)env_rom_number(env, "log_burst.bursts", BURSTS);
	lines = (unsigned)env_rom_number(env, "log_burst.lines", LINES);
	gap_us = env_rom_number(env, "log_burst.gap_us", GAP_US);
	if ((rc = timer_connect(env, &timer)) ||
	    (rc = signal_handler_init(env, &burst_handler, on_signal, NULL)) ||
	    (rc = timer_sigh(timer, burst_handler.context)) ||
	    (rc = timer_oneshot(timer, gap_us))) {
		env_log(env, "log_burst: timer setup failed (%d)", rc);
		env_exit(env, 1);
	}
}
