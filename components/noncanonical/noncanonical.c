/*
 * noncanonical: reads from the first address of the upper half,
 * 0xffff800000000000, which it cannot have mapped.  init must report
 * the fault with the whole address.
 */
#include <base/env.h>

#define UPPER_HALF 0xffff800000000000ULL

void component_construct(struct env *env)
{
	volatile uint64_t *p = (volatile uint64_t *)UPPER_HALF;
	uint64_t v;

	__asm__ volatile("" : "+r"(p));
	env_log(env, "noncanonical: reading 0x%llx", (unsigned long long)UPPER_HALF);
	v = *p;
	/* not reached */
	env_log(env, "noncanonical: read 0x%llx", (unsigned long long)v);
	env_exit(env, 3);
}
