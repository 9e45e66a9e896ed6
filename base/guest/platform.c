/*
 * libbase's platform layer for guests (base/platform.h): the trap is the
 * x86-64 `syscall` instruction, the UTCB is found at %gs:0, and the cap
 * map and libbase's state are statics in the component's .bss.
 */
#include <stdint.h>
#include <string.h>
#include <base/capability.h>
#include <base/ipc.h>
#include "../platform.h"

/* Register convention in include/capsule/abi.h; the CPU's `syscall`
 * writes rcx and r11, and the kernel may have read or written the UTCB. */
uint64_t sys_invoke(uint64_t kcap, uint64_t tag, uint64_t timeout, uint64_t *label)
{
	uint64_t rax, rdx = timeout;

	__asm__ volatile("syscall"
			 : "=a"(rax), "+d"(rdx)
			 : "D"(kcap), "S"(tag)
			 : "rcx", "r11", "memory");
	if (label)
		*label = rdx;
	return rax;
}

struct utcb *sys_utcb(void)
{
	struct utcb *u;

	__asm__("movq %%gs:0, %0" : "=r"(u));
	return u;
}

static struct cap_map the_cap_map;
static struct base_state the_base_state;

struct cap_map *cap_map(void)
{
	return &the_cap_map;
}

struct base_state *base_state(void)
{
	return &the_base_state;
}

/* A guest has no output but its LOG session: keep the last line where a
 * debugger or a monitor reading the component's memory can find it. */
char base_console_last[160];

void base_console(const char *label, const char *line)
{
	size_t n = strnlen(line, sizeof(base_console_last) - 1);

	memcpy(base_console_last, line, n);
	base_console_last[n] = 0;
}
