/*
 * Migration benchmark target (bench/bench_migrate.c): N MiB of RAM (N
 * from the ROM "bench.count", 16 MiB dataspaces or one smaller), every
 * page written with a non-zero pattern that does not compress, then a working set of 1%
 * of the pages (655 of 65536 at 256 MiB), spread evenly over the memory, rewritten
 * continuously: one word of each working-set page per pass, the pass count in it, so
 * every page of the set is dirty again within a pass.  QEMU's guest in the same benchmark
 * (bench/qemu_wset.S) does the same.  Logs "bench_wset: touched N MiB, working set W
 * pages" once the memory is ready; never ends by itself.
 */
#include <base/env.h>
#include <stdlib.h>
#include <string.h>

#define WSET_DS_MB    16
#define WSET_PAGE     4096ULL
#define WSET_MAX_DS   256 /* 4 GiB */
#define WSET_PERMILLE 10  /* 1% */

/* The size in MiB from the ROM "bench.count"; its dataspace detached
 * and released again (the monitor does not record the dataspace of a
 * ROM session routed past it: a checkpoint would fail on it, as
 * bench_cr_caps says).  0 if there is none. */
static uint64_t wset_mb(struct env *env)
{
	cap_t rom, ds;
	uint64_t size, at;
	char buf[32] = {0};

	if (env_session(env, "ROM", "label=\"bench.count\"", &rom) ||
	    rom_dataspace(rom, &ds, &size))
		return 0;
	if (pd_attach(env->pd, ds, 0, 0, 0, MEM_R, &at)) {
		cap_release(ds);
		return 0;
	}
	memcpy(buf, (const void *)at, size < sizeof buf - 1 ? size : sizeof buf - 1);
	pd_detach(env->pd, at);
	cap_release(ds);
	return strtoul(buf, NULL, 10);
}

void component_construct(struct env *env)
{
	uint64_t mb = wset_mb(env), at[WSET_MAX_DS], pages, wset, stride;
	unsigned nds;

	if (!mb || mb > (uint64_t)WSET_DS_MB * WSET_MAX_DS) {
		env_log(env, "bench_wset: bench.count: %llu MiB is not in 1..%u",
			(unsigned long long)mb, WSET_DS_MB * WSET_MAX_DS);
		env_exit(env, 2);
		return;
	}
	nds = (unsigned)((mb + WSET_DS_MB - 1) / WSET_DS_MB);
	for (unsigned d = 0; d < nds; d++) {
		uint64_t bytes = mb - (uint64_t)d * WSET_DS_MB < WSET_DS_MB
				     ? (mb - (uint64_t)d * WSET_DS_MB) << 20
				     : (uint64_t)WSET_DS_MB << 20;
		cap_t ds;
		if (pd_alloc_ram(env->pd, bytes, &ds) ||
		    pd_attach(env->pd, ds, 0, 0, bytes, MEM_R | MEM_W, &at[d])) {
			env_log(env, "bench_wset: cannot set up %llu MiB",
				(unsigned long long)mb);
			env_exit(env, 2);
			return;
		}
		/* a pattern no compressor shrinks much, as QEMU's guest writes */
		for (uint64_t off = 0; off < bytes; off += 8)
			*(uint64_t *)(at[d] + off) =
			    ((d << 24 | off >> 3) * 0x9e3779b97f4a7c15ull) | 1;
	}
	pages = (mb << 20) / WSET_PAGE;
	wset = pages * WSET_PERMILLE / 1000;
	wset = wset ? wset : 1;
	stride = pages / wset;
	env_log(env, "bench_wset: touched %llu MiB, working set %llu pages",
		(unsigned long long)mb, (unsigned long long)wset);
	for (uint64_t pass = 1;; pass++)
		for (uint64_t i = 0; i < wset; i++) {
			uint64_t p = i * stride,
				 d = p / (((uint64_t)WSET_DS_MB << 20) / WSET_PAGE);
			uint64_t off = (p * WSET_PAGE) % ((uint64_t)WSET_DS_MB << 20);
			*(volatile uint64_t *)(at[d] + off) = pass;
		}
}
