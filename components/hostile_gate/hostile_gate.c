/*
 * hostile_gate: sets up its own GDT with a 64-bit call gate, loads it,
 * drops to CPL 3 with sysret and calls through the gate, as a kernel
 * would.  On a CPU that lets a guest load a GDT, the far call switches
 * stacks through a task register that was never loaded.  Guests run at
 * CPL 3, so the first privileged instruction (lgdt) raises #GP: the
 * kernel halts the thread and init reports an exception.
 */
#include <base/env.h>

/* null, 64-bit code DPL 0, 64-bit code DPL 3, call gate (16 bytes) */
static uint64_t gdt[5] __attribute__((aligned(16)));

static void gate_target(void)
{
	for (;;)
		;
}

void component_construct(struct env *env)
{
	struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} gdtr = {sizeof(gdt) - 1, (uint64_t)(uintptr_t)gdt};
	uint64_t target = (uint64_t)(uintptr_t)gate_target;
	static struct __attribute__((packed)) {
		uint64_t off;
		uint16_t sel;
	} far = {0, 3 * 8 | 3};

	gdt[1] = 0x00af9b000000ffffULL;
	gdt[2] = 0x00affb000000ffffULL;
	/* call gate: offset, selector 0x08, P, DPL 3, type 0xc */
	gdt[3] = (target & 0xffff) | (0x08ULL << 16) | (0xecULL << 40) |
		 ((target >> 16 & 0xffff) << 48);
	gdt[4] = target >> 32;
	env_log(env, "hostile_gate: loading its own GDT with a call gate");
	__asm__ volatile("lgdt %0\n"
			 /* STAR: sysret to selector base 0x08 (CS 0x1b) */
			 "mov $0xc0000081, %%ecx\n"
			 "xor %%eax, %%eax\n"
			 "mov $0x00080000, %%edx\n"
			 "wrmsr\n"
			 "lea 1f(%%rip), %%rcx\n"
			 "mov $0x2, %%r11d\n"
			 "sysretq\n"
			 "1: lcall *%1\n"
			 :
			 : "m"(gdtr), "m"(far)
			 : "rax", "rcx", "rdx", "r11", "memory");
	env_log(env, "hostile_gate: the call gate returned");
	env_exit(env, 3);
}
