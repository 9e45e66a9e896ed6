/*
 * cr_pending: signals still queued at core when a checkpoint is taken
 * arrive after a restore on another node (tests/cr/pending_signal.sh).
 *
 * Its entrypoint stays busy in component_construct: it submits one signal
 * to its own context (the signal handler thread takes it and waits for
 * the entrypoint), then CP_QUEUED more, which nobody takes: they stay
 * queued at core, coalesced into one count.  It logs "submitted", keeps
 * the entrypoint busy for CP_HOLD_US more (a checkpoint after that line
 * finds them pending: the monitor drains them into the image), then
 * returns, and the handler adds up what arrives.  All 1 + CP_QUEUED: exit
 * 0.  If a one-shot of CP_WAIT_US fires first, it says how many arrived
 * and exits 1.
 */
#include <base/env.h>
#include <base/signal.h>
#include <base/timer.h>

#define CP_QUEUED  3
#define CP_TAKE_US 50000  /* for the handler thread to take the first */
#define CP_HOLD_US 100000 /* entrypoint busy after the "submitted" line */
#define CP_WAIT_US 3000000

static struct env *cp_env;
static struct signal_handler sig_handler, timeout_handler;
static unsigned total;

static void on_signal(void *arg, unsigned count)
{
	total += count;
	if (total < 1 + CP_QUEUED)
		return;
	env_log(cp_env, "cr_pending: all %u signals arrived", total);
	env_exit(cp_env, total == 1 + CP_QUEUED ? 0 : 1);
}

static void on_timeout(void *arg, unsigned count)
{
	env_log(cp_env, "cr_pending: only %u of %u signals arrived", total,
		1 + CP_QUEUED);
	env_exit(cp_env, 1);
}

static void busy_us(uint64_t us)
{
	uint64_t label;

	sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), us, &label);
}

void component_construct(struct env *env)
{
	cap_t timer;

	cp_env = env;
	if (signal_handler_init(env, &sig_handler, on_signal, NULL) ||
	    signal_handler_init(env, &timeout_handler, on_timeout, NULL) ||
	    timer_connect(env, &timer) || timer_sigh(timer, timeout_handler.context) ||
	    timer_oneshot(timer, CP_WAIT_US) ||
	    signal_submit(env, sig_handler.context, 1)) {
		env_log(env, "cr_pending: cannot start");
		env_exit(env, 1);
	}
	busy_us(CP_TAKE_US);
	for (int i = 0; i < CP_QUEUED; i++)
		if (signal_submit(env, sig_handler.context, 1)) {
			env_log(env, "cr_pending: submit failed");
			env_exit(env, 1);
		}
	env_log(env, "cr_pending: submitted %u signals", 1 + CP_QUEUED);
	busy_us(CP_HOLD_US);
}
