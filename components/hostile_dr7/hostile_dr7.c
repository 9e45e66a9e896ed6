/*
 * hostile_dr7: arms a hardware breakpoint on its own code through the
 * debug registers (dr0 = an instruction ahead, dr7 = enable it).  An
 * emulator at CPL 0 would flush its translated code from inside the
 * running block.  Guests run at CPL 3, where `mov %rax, %dr0` raises #GP:
 * the kernel halts the thread and init reports an exception.
 */
#include <base/env.h>

void component_construct(struct env *env)
{
	env_log(env, "hostile_dr7: arming a breakpoint with dr0/dr7");
	__asm__ volatile("lea 1f(%%rip), %%rax\n"
			 "mov %%rax, %%dr0\n"
			 "mov $0x1, %%eax\n"
			 "mov %%rax, %%dr7\n"
			 "1: nop\n"
			 :
			 :
			 : "rax", "memory");
	env_log(env, "hostile_dr7: the debug registers took the writes");
	env_exit(env, 3);
}
