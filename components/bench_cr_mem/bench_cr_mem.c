/*
 * Checkpoint/restore benchmark target (bench/bench_cr.c): BENCH_CR_MB MiB
 * (or the MiB in the ROM "bench_cr_mem.mb", a multiple of 2 * BENCH_CR_DS_MB
 * up to BENCH_CR_MAX_MB) of RAM in BENCH_CR_DS_MB MiB dataspaces (twice
 * as large above 512 MiB: fewer regions for the monitor to record), every page touched —
 * even pages filled with a non-zero pattern, odd pages written with zeros — then it idles
 * on a worker thread for BENCH_CR_IDLE_MS, or the ms in the ROM "bench_cr_mem.idle_ms" if
 * there is one (the monitor's test hook checkpoints and restores it meanwhile) and exits
 * 0 if the pattern is intact, 1 if not.  Logs "bench_cr_mem: touched" once the memory is
 * ready, so the benchmark can check the checkpoint came after.
 */
#include <base/env.h>
#include <base/thread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_CR_MB	  256
#define BENCH_CR_DS_MB	  16
#define BENCH_CR_MAX_MB	  1024
#define BENCH_CR_NDS	  (BENCH_CR_MAX_MB / BENCH_CR_DS_MB)
#define BENCH_CR_IDLE_MS  1500
#define BENCH_CR_STEP_MS  10
#define BENCH_CR_PAGE	  4096ULL
#define BENCH_CR_DS_BYTES ((uint64_t)BENCH_CR_DS_MB << 20)

struct mem_state {
	struct env *env;
	uint64_t idle_ms;
	unsigned nds;
	uint64_t ds_bytes;
	uint64_t at[BENCH_CR_NDS];
};

/* The word at index i of page p of dataspace d: non-zero on even pages. */
static uint64_t pattern(unsigned d, uint64_t p, uint64_t i)
{
	return (p & 1) ? 0 : ((uint64_t)d << 48 | p << 16 | i) + 1;
}

static void touch(uint64_t at, unsigned d, uint64_t bytes)
{
	for (uint64_t p = 0; p < bytes / BENCH_CR_PAGE; p++) {
		uint64_t *w = (uint64_t *)(at + p * BENCH_CR_PAGE);
		for (uint64_t i = 0; i < BENCH_CR_PAGE / 8; i++)
			w[i] = pattern(d, p, i);
	}
}

/* One word per page checked is enough to catch a lost or shifted page. */
static int intact(const struct mem_state *s)
{
	for (unsigned d = 0; d < s->nds; d++)
		for (uint64_t p = 0; p < s->ds_bytes / BENCH_CR_PAGE; p++) {
			uint64_t i = p % (BENCH_CR_PAGE / 8);
			const uint64_t *w =
			    (const uint64_t *)(s->at[d] + p * BENCH_CR_PAGE);
			if (w[i] != pattern(d, p, i))
				return 0;
		}
	return 1;
}

static void idle(void *arg)
{
	struct mem_state *s = arg;
	uint64_t label;

	for (uint64_t i = 0; i < s->idle_ms / BENCH_CR_STEP_MS; i++)
		sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), BENCH_CR_STEP_MS * 1000,
			   &label);
	if (!intact(s)) {
		env_log(s->env, "bench_cr_mem: memory damaged");
		env_exit(s->env, 1);
	}
	env_log(s->env, "bench_cr_mem: memory intact");
	env_exit(s->env, 0);
}

void component_construct(struct env *env)
{
	struct mem_state *s = calloc(1, sizeof *s);
	uint64_t mb = BENCH_CR_MB;
	struct thread *t;

	if (!s)
		goto err;
	s->env = env;
	s->idle_ms = env_rom_number(env, "bench_cr_mem.idle_ms", 0);
	s->idle_ms = s->idle_ms ? s->idle_ms : BENCH_CR_IDLE_MS;
	mb = env_rom_number(env, "bench_cr_mem.mb", 0);
	mb = mb ? mb : BENCH_CR_MB;
	if (mb % (2 * BENCH_CR_DS_MB) || mb > BENCH_CR_MAX_MB) {
		env_log(env,
			"bench_cr_mem: ROM bench_cr_mem.mb: %llu is no multiple of %d "
			"up to %d",
			(unsigned long long)mb, 2 * BENCH_CR_DS_MB, BENCH_CR_MAX_MB);
		env_exit(env, 2);
		return;
	}
	s->ds_bytes = mb > 512 ? 2 * BENCH_CR_DS_BYTES : BENCH_CR_DS_BYTES;
	s->nds = (unsigned)((mb << 20) / s->ds_bytes);
	for (unsigned d = 0; d < s->nds; d++) {
		cap_t ds;
		if (pd_alloc_ram(env->pd, s->ds_bytes, &ds) ||
		    pd_attach(env->pd, ds, 0, 0, s->ds_bytes, MEM_R | MEM_W, &s->at[d]))
			goto err;
		touch(s->at[d], d, s->ds_bytes);
	}
	env_log(env, "bench_cr_mem: touched %llu MiB", (unsigned long long)mb);
	if (thread_create(env, "idle", idle, s, 0, &t))
		goto err;
	return;
err:
	env_log(env, "bench_cr_mem: cannot set up %llu MiB", (unsigned long long)mb);
	env_exit(env, 2);
}
