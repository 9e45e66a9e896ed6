/*
 * A target with many attached regions (tests/scenario/cr_regions.xml):
 * CR_REGIONS RAM dataspaces of one page each, every one attached on its
 * own and marked with its number, then it idles on a worker thread while
 * the monitor checkpoints it after its first line (and restores it, in
 * cr_regions.xml), and checks every region.  Exits 0 if each still holds
 * its own mark at its own address.
 *
 * 200 regions: more than the monitor recorded before (64), fewer than it
 * records now (MON_MAX_REGIONS, 256).  cr_regions_over builds this file
 * with 300, which a checkpoint must refuse, naming the limit, while the
 * target runs on unharmed.
 */
#include <base/env.h>
#include <base/thread.h>
#include <stdlib.h>

#ifndef CR_REGIONS
#define CR_REGIONS 200
#endif
#define CR_REGIONS_IDLE_MS 600
#define CR_REGIONS_STEP_MS 10
#define CR_REGIONS_PAGE	   4096

struct regions {
	struct env *env;
	uint64_t at[CR_REGIONS];
};

static uint64_t mark(unsigned i, unsigned word)
{
	return 0x5245470000000000ull | (uint64_t)i << 16 | word;
}

/* The first region whose marks are wrong, or -1. */
static long first_wrong(const struct regions *s)
{
	for (unsigned i = 0; i < CR_REGIONS; i++) {
		const uint64_t *w = (const uint64_t *)s->at[i];
		if (w[0] != mark(i, 0) || w[CR_REGIONS_PAGE / 8 - 1] != mark(i, 1))
			return i;
	}
	return -1;
}

static void idle(void *arg)
{
	struct regions *s = arg;
	uint64_t label;
	long bad;

	for (int i = 0; i < CR_REGIONS_IDLE_MS / CR_REGIONS_STEP_MS; i++)
		sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), CR_REGIONS_STEP_MS * 1000,
			   &label);
	bad = first_wrong(s);
	if (bad >= 0) {
		env_log(s->env, "cr_regions: region %ld lost its mark", bad);
		env_exit(s->env, 1);
	}
	env_log(s->env, "cr_regions: all %d regions intact", CR_REGIONS);
	env_exit(s->env, 0);
}

void component_construct(struct env *env)
{
	struct regions *s = calloc(1, sizeof *s);
	struct thread *t;

	if (!s)
		goto err;
	s->env = env;
	for (unsigned i = 0; i < CR_REGIONS; i++) {
		cap_t ds;
		uint64_t *w;
		if (pd_alloc_ram(env->pd, CR_REGIONS_PAGE, &ds) ||
		    pd_attach(env->pd, ds, 0, 0, CR_REGIONS_PAGE, MEM_R | MEM_W,
			      &s->at[i])) {
			env_log(env, "cr_regions: cannot attach region %u", i);
			goto err;
		}
		w = (uint64_t *)s->at[i];
		w[0] = mark(i, 0);
		w[CR_REGIONS_PAGE / 8 - 1] = mark(i, 1);
	}
	env_log(env, "cr_regions: %d regions attached", CR_REGIONS);
	if (thread_create(env, "idle", idle, s, 0, &t))
		goto err;
	return;
err:
	env_log(env, "cr_regions: cannot set up");
	env_exit(env, 2);
}
