/*
 * churn: makes the node allocate on its behalf over and over, in steps,
 * for a memory check from outside (tests/kernel/memory.sh reads the
 * node's RSS in the pauses between steps).  Each step:
 *
 *   - PD_ROUNDS times: opens PD_SESSIONS PD sessions with zero quota and
 *     closes them again;
 *   - FAULTS times: a worker thread touches a page of a managed dataspace
 *     where nothing is attached; the fault handler (on the entrypoint)
 *     attaches a page there, the worker reads it, detaches it and goes on
 *     to the next page, so every touch is a fresh data fault.
 *
 * After step s it logs "churn: step s done, paused", sleeps PAUSE_US and
 * logs "churn: step s resumed".  After STEPS steps it exits 0, or 1 if a
 * session, a fault or a page did not behave.  The ROMs "churn.sessions"
 * (at most MAX_SESSIONS), "churn.rounds" and "churn.faults" override
 * PD_SESSIONS, PD_ROUNDS and FAULTS, to repeat the figures (16
 * sessions 1000 times, 10,000 faults) by hand.
 */
#include <base/env.h>
#include <base/region_map.h>
#include <base/sessions.h>
#include <base/signal.h>
#include <base/thread.h>

#define STEPS	     6
#define PD_SESSIONS  12
#define PD_ROUNDS    50
#define FAULTS	     1000
#define MAX_SESSIONS 64
#define PAGE	     0x1000ULL
#define MAP_PAGES    64
#define PAUSE_US     1000000

static struct env *ch_env;
static cap_t rm, region, page_ds;
static uint64_t base;
static struct signal_handler fault_sigh;
static struct blockade step_go, step_done;
static unsigned faults, failures;
static unsigned pd_sessions = PD_SESSIONS, pd_rounds = PD_ROUNDS, step_faults = FAULTS;

static void fail(const char *what, int rc)
{
	env_log(ch_env, "churn: %s failed (%d)", what, rc);
	env_exit(ch_env, 1);
}

static void sleep_us(uint64_t us)
{
	uint64_t label;

	sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), us, &label);
}

static void pd_churn(void)
{
	cap_t s[MAX_SESSIONS];

	for (unsigned r = 0; r < pd_rounds; r++) {
		for (unsigned i = 0; i < pd_sessions; i++) {
			int rc =
			    env_session(ch_env, "PD", "ram_quota=0, cap_quota=0", &s[i]);

			if (rc)
				fail("PD session", rc);
		}
		for (unsigned i = 0; i < pd_sessions; i++) {
			int rc = parent_close(ch_env->parent, s[i]);

			if (rc)
				fail("PD close", rc);
			cap_release(s[i]);
		}
	}
}

/* Entrypoint: attach the page where the worker faulted. */
static void on_fault(void *arg, unsigned count)
{
	struct region_fault f;
	uint64_t at;
	int rc;

	if ((rc = region_state(region, &f)))
		fail("region state", rc);
	if (f.state != REGION_FAULTED)
		return;
	faults++;
	if ((rc = region_attach(region, page_ds, f.addr & ~(PAGE - 1), 0, PAGE,
				MEM_R | MEM_W, &at)))
		fail("region attach", rc);
}

/* Worker: step_faults touches per step, each on a page nobody attached. */
static void worker(void *arg)
{
	for (unsigned s = 0; s < STEPS; s++) {
		blockade_block(&step_go);
		for (unsigned i = 0; i < step_faults; i++) {
			uint64_t off = (i % MAP_PAGES) * PAGE;
			volatile uint64_t *w =
			    (volatile uint64_t *)(uintptr_t)(base + off);

			if (*w != 0x6368726e)
				failures++;
			if (region_detach(region, off))
				failures++;
		}
		blockade_wakeup(&step_done);
	}
}

static void setup(void)
{
	uint64_t *p, local;
	cap_t managed;
	int rc;

	if ((rc = env_session(ch_env, "RM", "", &rm)))
		fail("RM session", rc);
	if ((rc = rm_create(rm, MAP_PAGES * PAGE, &region)))
		fail("rm_create", rc);
	if ((rc = signal_handler_init(ch_env, &fault_sigh, on_fault, NULL)) ||
	    (rc = region_fault_handler(region, fault_sigh.context)))
		fail("fault handler", rc);
	if ((rc = region_dataspace(region, &managed)))
		fail("region dataspace", rc);
	if ((rc = pd_attach(ch_env->pd, managed, 0, 0, 0, MEM_R | MEM_W, &base)))
		fail("attach managed", rc);
	if ((rc = pd_alloc_ram(ch_env->pd, PAGE, &page_ds)))
		fail("alloc", rc);
	if ((rc = pd_attach(ch_env->pd, page_ds, 0, 0, 0, MEM_R | MEM_W, &local)))
		fail("attach page", rc);
	p = (uint64_t *)(uintptr_t)local;
	p[0] = 0x6368726e;
}

/* The steps run on a thread of their own: the entrypoint must stay free
 * to handle the worker's faults. */
static void driver(void *arg)
{
	struct thread *w;
	int rc;

	if ((rc = thread_create(ch_env, "worker", worker, NULL, 0x4000, &w)))
		fail("worker thread", rc);
	for (unsigned s = 1; s <= STEPS; s++) {
		pd_churn();
		blockade_wakeup(&step_go);
		blockade_block(&step_done);
		env_log(ch_env, "churn: step %u done, paused", s);
		sleep_us(PAUSE_US);
		env_log(ch_env, "churn: step %u resumed", s);
	}
	thread_join(w);
	env_log(ch_env, "churn: %u PD sessions, %u faults, %u failures",
		STEPS * pd_rounds * pd_sessions, faults, failures);
	env_exit(ch_env, failures || faults != STEPS * step_faults);
}

void component_construct(struct env *env)
{
	struct thread *d;
	int rc;

	ch_env = env;
	pd_sessions = (unsigned)env_rom_number(env, "churn.sessions", PD_SESSIONS);
	if (pd_sessions > MAX_SESSIONS)
		pd_sessions = MAX_SESSIONS;
	pd_rounds = (unsigned)env_rom_number(env, "churn.rounds", PD_ROUNDS);
	step_faults = (unsigned)env_rom_number(env, "churn.faults", FAULTS);
	setup();
	if ((rc = thread_create(env, "driver", driver, NULL, 0x8000, &d)))
		fail("driver thread", rc);
}
