/*
 * native_component_main: the first thread of a native component (core,
 * init, the monitor).  Allocates the component's libbase state, points
 * the thread's UTCB at it and runs the shared start sequence.  Its cap
 * map goes on past a guest's CAP_SLOTS up to the kernel's bound for a
 * native task (CAP_SLOTS_NATIVE): the extension is calloc'd, fresh
 * pages from the host, so only the slots used cost memory.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <capsule/native.h>
#include "base/native/native.h"

/* All live native components of the process (several nodes may run in
 * one process, e.g. in tests): keeps them reachable for leak checkers. */
static struct native_component *native_registry;
static pthread_mutex_t native_registry_lock = PTHREAD_MUTEX_INITIALIZER;

static void native_registry_add(struct native_component *nc)
{
	pthread_mutex_lock(&native_registry_lock);
	nc->next = native_registry;
	native_registry = nc;
	pthread_mutex_unlock(&native_registry_lock);
}

static void native_registry_del(struct native_component *nc)
{
	pthread_mutex_lock(&native_registry_lock);
	for (struct native_component **p = &native_registry; *p; p = &(*p)->next) {
		if (*p == nc) {
			*p = nc->next;
			break;
		}
	}
	pthread_mutex_unlock(&native_registry_lock);
}

void native_component_main(void *arg)
{
	struct native_start *ns = arg;
	struct native_component *nc;
	struct cap_index *ext;
	struct utcb *u = kernel_native_utcb();
	const char *label = ns && ns->label ? ns->label : "?";

	if (!ns || ns->si.magic != STARTUP_MAGIC || !ns->construct || !u) {
		fprintf(stderr, "[%s] libbase: bad native start\n", label);
		return;
	}
	nc = calloc(1, sizeof(*nc));
	ext = calloc(CAP_SLOTS_NATIVE - CAP_SLOTS, sizeof(*ext));
	if (!nc || !ext) {
		fprintf(stderr, "[%s] libbase: out of memory\n", label);
		free(nc);
		free(ext);
		return;
	}
	cap_map_extend(&nc->caps, ext, CAP_SLOTS_NATIVE - CAP_SLOTS);
	native_registry_add(nc);
	u->tcr[TCR_COMPONENT] = (uint64_t)(uintptr_t)nc;
	base_component_run(&ns->si, label, ns->factory, ns->construct, ns->arg);
	u->tcr[TCR_COMPONENT] = 0;
	u->tcr[TCR_USER] = 0;
	native_registry_del(nc);
	free(ext);
	free(nc);
}
