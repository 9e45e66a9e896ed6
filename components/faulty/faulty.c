/*
 * faulty: writes to an unmapped address.  The kernel halts its thread,
 * core reports the fault to init, init reports it and destroys this
 * component; everything else on the node keeps running.
 */
#include <base/env.h>

#define FAULTY_ADDR 0x10

void component_construct(struct env *env)
{
	volatile unsigned long *p = (volatile unsigned long *)FAULTY_ADDR;

	/* hide the constant from the compiler's bounds checks */
	__asm__ volatile("" : "+r"(p));
	env_log(env, "faulty: writing to 0x%x", FAULTY_ADDR);
	*p = 0xbad;
	/* not reached */
	env_log(env, "faulty: the write did not fault");
	env_exit(env, 3);
}
