/*
 * Benchmark guest: the substrate's floor.  Makes `count` system calls that
 * the kernel answers at once (invoking the empty kcap 0: one engine exit and
 * re-entry each), count read from the ROM module "bench.count".
 */
#include <base/env.h>
#include <stdlib.h>

#include "../bench_ping/bench_count.h"

void component_construct(struct env *env)
{
	uint64_t n = bench_count(env);
	uint64_t label, bad = 0;

	for (uint64_t i = 0; i < n; i++) {
		uint64_t tag =
		    sys_invoke(KCAP_INVALID, TAG(SYS_OP_CALL, 0, 0, 0), 0, &label);
		bad += TAG_ERROR(tag) != KERR_INVAL_CAP;
	}
	env_log(env, "null syscalls: %llu, unexpected results: %llu",
		(unsigned long long)n, (unsigned long long)bad);
	env_exit(env, bad ? 1 : 0);
}
