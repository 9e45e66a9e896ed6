/*
 * Native platform layer: the trap is a call into the kernel's coroutine
 * scheduler, and libbase's per-component state is found through the
 * calling thread's utcb->tcr[TCR_COMPONENT] (several native components
 * share one host process, so nothing here may be a plain global).
 */
#include <stdio.h>
#include <stdlib.h>
#include <capsule/native.h>
#include "base/native/native.h"

uint64_t sys_invoke(uint64_t kcap, uint64_t tag, uint64_t timeout, uint64_t *label)
{
	return kernel_native_invoke(kcap, tag, timeout, label);
}

struct utcb *sys_utcb(void)
{
	return kernel_native_utcb();
}

struct native_component *native_component_self(void)
{
	struct utcb *u = kernel_native_utcb();

	return u ? (struct native_component *)(uintptr_t)u->tcr[TCR_COMPONENT] : NULL;
}

struct cap_map *cap_map(void)
{
	return &native_component_self()->caps;
}

struct base_state *base_state(void)
{
	return &native_component_self()->state;
}

void base_console(const char *label, const char *line)
{
	fprintf(stderr, "[%s] %s\n", label, line);
	fflush(stderr);
}
