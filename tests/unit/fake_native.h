/* For unit tests of libbase against a faked kernel: a native component
 * of its own (zeroed), a zeroed UTCB that names it and its main thread,
 * and an empty cap map.  0, or -1 without memory. */
#ifndef TESTS_UNIT_FAKE_NATIVE_H
#define TESTS_UNIT_FAKE_NATIVE_H

#include <stdlib.h>
#include <string.h>
#include "base/native/native.h"

static inline int fake_native_begin(struct utcb *u, struct native_component **nc)
{
	*nc = calloc(1, sizeof **nc);
	if (!*nc)
		return -1;
	memset(u, 0, sizeof *u);
	u->tcr[TCR_COMPONENT] = (uint64_t)(uintptr_t)*nc;
	u->tcr[TCR_USER] = (uint64_t)(uintptr_t)&base_state()->main_thread;
	cap_map_init(cap_map());
	return 0;
}

#endif
