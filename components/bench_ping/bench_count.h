/* Benchmark guests read their iteration count from the ROM "bench.count". */
#ifndef BENCH_COUNT_H
#define BENCH_COUNT_H

#include <base/env.h>
#include <stdlib.h>
#include <string.h>

static inline uint64_t bench_count(struct env *env)
{
	cap_t rom, ds;
	uint64_t size, at;
	char buf[32] = {0};

	if (env_session(env, "ROM", "label=\"bench.count\"", &rom) ||
	    rom_dataspace(rom, &ds, &size) ||
	    pd_attach(env->pd, ds, 0, 0, 0, MEM_R, &at)) {
		env_log(env, "bench: cannot read ROM 'bench.count'");
		env_exit(env, 2);
	}
	memcpy(buf, (const void *)at, size < sizeof buf - 1 ? size : sizeof buf - 1);
	return strtoul(buf, NULL, 10);
}

#endif
