/*
 * rsys: seeded random system calls from several threads.  Each of
 * RSYS_THREADS threads invokes random kcaps (its own slots from 0x300 on,
 * where its sessions, dataspaces and gates are, and garbage selectors)
 * with random operations, protocols, word and item counts, message
 * registers and short timeouts.  The number of calls comes from the ROM
 * module "rsys.calls" (a decimal number; RSYS_DEFAULT_CALLS without it),
 * split over the threads.  The slots of the parent, the task, the threads
 * and the LOG session are left alone, so that the component can report
 * and exit; whatever else it breaks of its own is its business.  The node
 * must survive, and once rsys is gone the kernel's object, mapping and
 * badge counts must be those a harmless component leaves
 * (tests/kernel/rsys.sh).  Logs "rsys: N calls from T threads" and exits.
 */
#include <base/env.h>
#include <base/sessions.h>
#include <base/thread.h>

#define RSYS_THREADS	   4
#define RSYS_DEFAULT_CALLS 200000ULL
#define RSYS_DEADLINE_US   (600ULL * 1000000)
#define FIRST_SLOT	   0x300
#define SLOTS		   0x1000

static struct env *rs_env;
static uint64_t per_thread, log_index;
static volatile uint64_t calls[RSYS_THREADS];
static volatile unsigned finished;

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static void sleep_us(uint64_t us)
{
	uint64_t label;

	sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), us, &label);
}

static uint64_t pick_kcap(uint64_t *s)
{
	uint64_t r = rnd(s), idx;

	switch (r & 7) {
	case 0:
		return r; /* garbage */
	case 1:
		return KCAP_NIL;
	default:
		idx = FIRST_SLOT + (r >> 8) % (SLOTS - FIRST_SLOT);
		return idx == log_index ? KCAP_NIL : KCAP(idx);
	}
}

static void one_call(uint64_t *s)
{
	struct utcb *u = sys_utcb();
	uint64_t r = rnd(s), kcap = pick_kcap(s), label, tag;
	unsigned words = (r >> 8) % UTCB_MRS;

	for (unsigned i = 0; i < words; i++)
		u->mr[i] = (r & 1) ? rnd(s) : rnd(s) & 0xff;
	tag = TAG(1 + (r >> 16) % 7, (r >> 20) % 8, words, (r >> 24) % 8);
	sys_invoke(kcap, tag, (r >> 32) % 500, &label);
}

static void worker(void *arg)
{
	uint64_t id = (uint64_t)(uintptr_t)arg, seed = 0x9e3779b97f4a7c15ULL * (id + 1);

	for (uint64_t i = 0; i < per_thread; i++) {
		one_call(&seed);
		calls[id] = i + 1;
	}
	__atomic_add_fetch(&finished, 1, __ATOMIC_SEQ_CST);
}

/* The number in ROM "rsys.calls", or RSYS_DEFAULT_CALLS. */
static uint64_t calls_wanted(void)
{
	uint64_t size, at, n = 0;
	cap_t rom, ds;
	const char *p;

	if (env_session(rs_env, "ROM", "label=\"rsys.calls\"", &rom) ||
	    rom_dataspace(rom, &ds, &size) ||
	    pd_attach(rs_env->pd, ds, 0, 0, 0, MEM_R, &at))
		return RSYS_DEFAULT_CALLS;
	p = (const char *)(uintptr_t)at;
	for (uint64_t i = 0; i < size && p[i] >= '0' && p[i] <= '9'; i++)
		n = n * 10 + (uint64_t)(p[i] - '0');
	pd_detach(rs_env->pd, at);
	parent_close(rs_env->parent, rom);
	return n ? n : RSYS_DEFAULT_CALLS;
}

void component_construct(struct env *env)
{
	struct thread *t[RSYS_THREADS];
	uint64_t total = 0, waited = 0;
	unsigned started = 0;

	rs_env = env;
	log_index = KCAP_INDEX(cap_kcap(env->log));
	per_thread = calls_wanted() / RSYS_THREADS;
	env_log(env, "rsys: %llu random calls from %u threads",
		(unsigned long long)(per_thread * RSYS_THREADS), RSYS_THREADS);
	for (unsigned i = 0; i < RSYS_THREADS; i++)
		if (!thread_create(env, "rsys", worker, (void *)(uintptr_t)i, 0x4000,
				   &t[i]))
			started++;
	/* a thread may have broken itself: do not wait for it forever */
	while (finished < started && waited < RSYS_DEADLINE_US) {
		sleep_us(100000);
		waited += 100000;
	}
	for (unsigned i = 0; i < RSYS_THREADS; i++)
		total += calls[i];
	env_log(env, "rsys: %llu calls from %u threads, %u finished",
		(unsigned long long)total, started, finished);
	env_exit(env, 0);
}
