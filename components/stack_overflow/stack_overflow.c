/*
 * stack_overflow: recurses until its main thread's stack runs into the
 * guard page below it.  No pager can serve that hole of the stack area:
 * the kernel halts the thread, core reports the fault to init like any
 * other unresolvable one, init reports it and the node goes on.
 */
#include <base/env.h>

static unsigned depth;
static volatile unsigned long limit = ~0UL; /* never reached */

/* Each frame keeps 1 KiB alive across the call, so the compiler can
 * neither drop the buffer nor turn the recursion into a loop. */
static unsigned long recurse(unsigned long n)
{
	volatile unsigned char buf[1024];

	buf[0] = (unsigned char)n;
	depth++;
	if (n == limit)
		return n;
	return recurse(n + 1) + buf[0];
}

void component_construct(struct env *env)
{
	env_log(env, "stack_overflow: recursing");
	recurse(0);
	/* not reached */
	env_log(env, "stack_overflow: the recursion ended after %u frames", depth);
	env_exit(env, 3);
}
