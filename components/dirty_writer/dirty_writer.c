/*
 * Incremental checkpoint and pre-copy benchmark target
 * (bench/bench_incremental.c): 256 MiB of RAM in 16 MiB dataspaces,
 * every page touched, then a working set of 1% of the pages (655, every
 * 100th) rewritten every DIRTY_STEP_MS, for ever.  Logs "dirty_writer:
 * ready" once the memory is touched and "dirty_writer: pass N" every 100
 * passes (the benchmark sees it runs).
 */
#include <base/env.h>
#include <stdlib.h>

#define DIRTY_MB       256
#define DIRTY_DS_MB    16
#define DIRTY_NDS      (DIRTY_MB / DIRTY_DS_MB)
#define DIRTY_PAGE     4096ULL
#define DIRTY_DS_PAGES (((uint64_t)DIRTY_DS_MB << 20) / DIRTY_PAGE)
#define DIRTY_STRIDE   100 /* every 100th page: 655 of 65536 */
#define DIRTY_STEP_MS  5

static uint64_t at[DIRTY_NDS];

static void pass(uint64_t n)
{
	for (uint64_t g = 0; g < DIRTY_NDS * DIRTY_DS_PAGES; g += DIRTY_STRIDE) {
		uint64_t *w = (uint64_t *)(at[g / DIRTY_DS_PAGES] +
					   (g % DIRTY_DS_PAGES) * DIRTY_PAGE);
		w[n % (DIRTY_PAGE / 8)] = n;
	}
}

void component_construct(struct env *env)
{
	uint64_t label;

	for (unsigned d = 0; d < DIRTY_NDS; d++) {
		cap_t ds;
		if (pd_alloc_ram(env->pd, (uint64_t)DIRTY_DS_MB << 20, &ds) ||
		    pd_attach(env->pd, ds, 0, 0, (uint64_t)DIRTY_DS_MB << 20,
			      MEM_R | MEM_W, &at[d])) {
			env_log(env, "dirty_writer: cannot set up %d MiB", DIRTY_MB);
			env_exit(env, 2);
			return;
		}
		for (uint64_t p = 0; p < DIRTY_DS_PAGES; p++)
			*(uint64_t *)(at[d] + p * DIRTY_PAGE) = p + 1;
	}
	env_log(env, "dirty_writer: ready");
	for (uint64_t n = 1;; n++) {
		pass(n);
		if (n % 100 == 0)
			env_log(env, "dirty_writer: pass %llu", (unsigned long long)n);
		sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), DIRTY_STEP_MS * 1000,
			   &label);
	}
}
