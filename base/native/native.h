/*
 * Native side of libbase: the per-component allocation that
 * utcb->tcr[TCR_COMPONENT] points at.
 */
#ifndef BASE_NATIVE_NATIVE_H
#define BASE_NATIVE_NATIVE_H

#include "base/platform.h"

/* One per native component.  Invariant: on the process-wide registry
 * (which keeps it reachable) from native_component_main's start until its
 * entrypoint returns; every thread of the component has tcr[TCR_COMPONENT]
 * pointing here. */
struct native_component {
	struct base_state state;
	struct cap_map caps;
	struct native_component *next;
};

/* The calling thread's component (NULL if it has none). */
struct native_component *native_component_self(void);

#endif
