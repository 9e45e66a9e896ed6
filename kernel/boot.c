/*
 * Booting and ending a node, and the native trap (native.h).
 *
 * kernel_boot builds the root task (native) with its own cap at
 * FIXED_TASK, the factory at FIXED_FACTORY and its first thread at
 * KCAP_THREAD(0, THREAD_SLOT_GATE), runs the scheduler, and on the way out
 * kills and frees every object, so a process can boot nodes one after the
 * other.
 */
#include <stdio.h>
#include <stdlib.h>
#include "kernel/kernel.h"

__thread struct node *node_current;

struct node *node_create(void)
{
	struct node *n = calloc(1, sizeof *n);

	if (!n)
		return NULL;
	klist_init(&n->objects);
	klist_init(&n->dying);
	klist_init(&n->threads);
	for (unsigned p = 0; p <= KERNEL_PRIO_MAX; p++)
		klist_init(&n->ready[p]);
	klist_init(&n->timeouts);
	n->line_efd = -1;
	return n;
}

/* First object that is still alive, or NULL. */
static struct kobj *node_first_live(struct node *n)
{
	for (struct klist *l = n->objects.next; l != &n->objects; l = l->next) {
		struct kobj *o = klist_entry(l, struct kobj, all);
		if (!o->dead)
			return o;
	}
	return NULL;
}

unsigned node_destroy(struct node *n)
{
	unsigned leaks = 0;
	struct kobj *o;

	n->current = NULL;
	while ((o = node_first_live(n))) {
		kobj_get(o);
		kobj_kill(o);
		kobj_reap(n);
		kobj_put(o);
	}
	/* every reference is gone with the kills; anything left is a leak of
	 * the refcounting, freed here all the same */
	while (!klist_empty(&n->objects)) {
		o = klist_entry(n->objects.next, struct kobj, all);
		fprintf(stderr, "kernel: object type %u leaked %u refs\n", o->type,
			o->refs);
		klist_del(&o->all);
		free(o);
		leaks++;
	}
	irq_line_node_end(n);
	/* the node's host state (core's) goes last: nothing refers to it now */
	while (n->ends) {
		struct node_end *e = n->ends;
		n->ends = e->next;
		e->fn(e->arg);
		free(e);
	}
	free(n);
	return leaks;
}

int kernel_at_end(void (*fn)(void *arg), void *arg)
{
	struct node *n = node_current;
	struct node_end *e;

	if (!n || !fn)
		return -1;
	e = calloc(1, sizeof *e);
	if (!e)
		return -1;
	e->fn = fn;
	e->arg = arg;
	e->next = n->ends;
	n->ends = e;
	return 0;
}

/* Root task, factory and first thread; 0 or -1. */
static int boot_root(struct node *n, native_entry_t entry, void *arg)
{
	struct task *task = task_create(n, TASK_NATIVE);
	struct kobj *factory = factory_create(n);
	struct thread *t = kthread_create(n);
	int rc = -1;

	if (!task || !factory || !t)
		goto out;
	cap_slot_set(cap_space_slot(&task->caps, KCAP(FIXED_TASK)), &task->obj,
		     RIGHTS_ALL);
	cap_slot_set(cap_space_slot(&task->caps, KCAP(FIXED_FACTORY)), factory,
		     RIGHTS_ALL);
	cap_slot_set(cap_space_slot(&task->caps, KCAP_THREAD(0, THREAD_SLOT_GATE)),
		     &t->obj, RIGHTS_ALL);
	if (thread_bind(t, task, 0, NULL, 0, 0) != KERR_OK)
		goto out;
	if (coro_create(&t->coro, entry, arg, 1u << 20))
		goto out;
	n->root = task;
	t->state = TS_READY;
	sched_ready(t, false);
	rc = 0;
out:
	/* from here on the caps keep the objects (a failed boot's are freed
	 * by node_destroy) */
	if (task)
		kobj_put(&task->obj);
	if (factory)
		kobj_put(factory);
	if (t)
		kobj_put(&t->obj);
	return rc;
}

int kernel_boot(native_entry_t root_entry, void *arg)
{
	struct node *n;
	int rc;

	if (node_current) {
		fprintf(stderr, "kernel: kernel_boot: a node is already running\n");
		return -1;
	}
	n = node_create();
	if (!n) {
		fprintf(stderr, "kernel: kernel_boot: out of memory\n");
		return -1;
	}
	node_current = n;
	if (boot_root(n, root_entry, arg)) {
		fprintf(stderr, "kernel: kernel_boot: cannot create the root task\n");
		rc = -1;
	} else {
		rc = sched_run(n);
	}
	node_destroy(n);
	/* the engines its tasks left to the closer thread are closed too:
	 * the node ends with nothing of them left */
	vspace_close_wait();
	node_current = NULL;
	return rc;
}

void kernel_stop(int code)
{
	struct node *n = node_current;

	if (!n || n->stop)
		return;
	n->stop = true;
	n->stop_code = code;
	if (n->current && n->current->coro)
		coro_yield(); /* never resumed: the node ends */
}

uint64_t kernel_native_invoke(uint64_t kcap, uint64_t tag, uint64_t timeout,
			      uint64_t *label)
{
	struct node *n = node_current;
	struct thread *t = n ? n->current : NULL;

	if (!t || !t->coro) {
		if (label)
			*label = 0;
		return kres(KERR_INVAL);
	}
	t->req_kcap = kcap;
	t->req_tag = tag;
	t->req_timeout = timeout;
	t->req_pending = true;
	coro_yield();
	if (label)
		*label = t->res_label;
	return t->res_tag;
}

struct utcb *kernel_native_utcb(void)
{
	struct node *n = node_current;

	return n && n->current ? n->current->utcb : NULL;
}
