/*
 * Threads of a component (base/thread.h).
 *
 * thread_create: CPU_CREATE_THREAD gives the kernel thread (core maps it
 * at KCAP_THREAD(nr, THREAD_SLOT_GATE), its irq at THREAD_SLOT_IRQ) and,
 * for guests, its UTCB page at GUEST_UTCB_AREA + nr * GUEST_UTCB_SIZE.
 * libbase adds the thread's fixed cap map entry (id = its thread badge), a
 * receive window, and for guests a stack: a RAM dataspace attached at the
 * top of the thread's slot in the stack area, the page below it left
 * unmapped as a guard.  The thread starts at a trampoline that fills its
 * UTCB's thread-control registers (as base_component_run does for the
 * main thread) and calls fn(arg).  When fn returns it wakes its joiner
 * and sleeps until thread_join kills it through the CPU session and frees
 * what thread_create made.
 *
 * thread_create and thread_join serialise on the component's thread_lock;
 * their changes of the cap map, which other threads change as they
 * receive caps, are made under the cap map lock (base/platform.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "platform.h"

#define THREAD_PAGE	     4096ULL
#define THREAD_STACK_DEFAULT (64 * 1024ULL)

struct thread *thread_self(void)
{
	struct base_thread *bt = base_thread_self();
	struct base_state *bs;

	if (!bt)
		return NULL;
	if (bt->thread)
		return bt->thread;
	bs = base_state();
	if (bt != &bs->main_thread)
		return NULL; /* a thread libbase did not make (core's fault thread) */
	bs->main_thread_obj.bt = bt;
	bs->main_thread_obj.nr = sys_utcb()->tcr[TCR_THREAD_NR];
	bt->thread = &bs->main_thread_obj;
	return bt->thread;
}

/* First C code of a new thread: its UTCB registers, then fn, then wait
 * to be killed by thread_join. */
void base_thread_run(struct thread *t) __attribute__((noreturn, used));
void base_thread_run(struct thread *t)
{
	struct utcb *u = sys_utcb();
	uint64_t label;

	u->tcr[TCR_COMPONENT] = t->component; /* natives find their state here */
	u->tcr[TCR_CAP_ENTRY] = (uint64_t)(uintptr_t)t->own_bt.self.idx;
	u->tcr[TCR_USER] = (uint64_t)(uintptr_t)&t->own_bt;
	u->br[0] = t->own_bt.window;
	t->fn(t->arg);
	blockade_wakeup(&t->join);
	for (;;)
		sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), SYS_TIMEOUT_NEVER,
			   &label);
}

#ifdef CAPSULE_GUEST
/* Guests start here with rsp = the stack top - 16, where thread_create
 * left the struct thread pointer; other registers are undefined. */
void thread_guest_entry(void);
__asm__(".text\n"
	".globl thread_guest_entry\n"
	".type thread_guest_entry, @function\n"
	"thread_guest_entry:\n"
	"	movq (%rsp), %rdi\n"
	"	andq $-16, %rsp\n"
	"	call base_thread_run\n"
	"	ud2\n");

/* Stack at the top of the thread's slot; *ip, *sp for cpu_start. */
static int thread_stack_alloc(struct thread *t, uint64_t size, uint64_t *ip, uint64_t *sp)
{
	uint64_t base =
	    GUEST_STACK_AREA + t->nr * GUEST_STACK_SLOT + GUEST_STACK_SLOT - size;
	uint64_t top;
	int err;

	err = pd_alloc_ram(t->env->pd, size, &t->stack_ds);
	if (err)
		return err;
	err = pd_attach(t->env->pd, t->stack_ds, base, 0, size, MEM_R | MEM_W,
			&t->stack_at);
	if (err) {
		pd_free_ram(t->env->pd, t->stack_ds);
		cap_release(t->stack_ds);
		t->stack_ds = CAP_INVALID;
		return err;
	}
	top = t->stack_at + size;
	*(uint64_t *)(uintptr_t)(top - 16) = (uint64_t)(uintptr_t)t;
	*ip = (uint64_t)(uintptr_t)thread_guest_entry;
	*sp = top - 16;
	return 0;
}
#else
/* Natives: the kernel gives the coroutine its stack and passes sp as the
 * entry's argument. */
static void thread_native_entry(void *arg)
{
	base_thread_run(arg);
}

static int thread_stack_alloc(struct thread *t, uint64_t size, uint64_t *ip, uint64_t *sp)
{
	(void)size;
	*ip = (uint64_t)(uintptr_t)thread_native_entry;
	*sp = (uint64_t)(uintptr_t)t;
	return 0;
}
#endif

static void thread_stack_free(struct thread *t)
{
	if (!cap_valid(t->stack_ds))
		return;
	pd_detach(t->env->pd, t->stack_at);
	pd_free_ram(t->env->pd, t->stack_ds);
	cap_release(t->stack_ds);
	t->stack_ds = CAP_INVALID;
}

/* Empty the window's slots (keeping caps moved out of them) and free them. */
static void thread_window_free(struct cap_map *cm, struct thread *t)
{
	if (t->own_bt.window == KCAP_INVALID)
		return;
	cap_map_lock();
	for (unsigned j = 0; j < RECV_WINDOW_SLOTS; j++) {
		base_unmap(t->own_bt.window + KCAP(j), UNMAP_RELEASE);
		cap_map_remove(cm, cap_map_entry(cm, t->own_bt.window + KCAP(j)));
	}
	cap_map_unlock();
	t->own_bt.window = KCAP_INVALID;
}

/* CPU_KILL: core destroys the kernel thread, its irq and UTCB, and takes
 * back their quota; then drop the CPU-thread object's cap. */
static int thread_kill(struct thread *t)
{
	struct msg m;
	int err = base_drop_caps(
	    &m, base_request(t->env->cpu, CPU_KILL, t->cpu_thread, NULL, 0, &m));

	cap_release(t->cpu_thread);
	t->cpu_thread = CAP_INVALID;
	return err;
}

/* Everything but the CPU thread and the struct; for both create's unwind
 * and join. */
static void thread_free_local(struct cap_map *cm, struct thread *t)
{
	thread_stack_free(t);
	thread_window_free(cm, t);
	cap_map_lock();
	if (t->own_bt.self.idx)
		cap_map_remove(cm, t->own_bt.self.idx);
	cap_map_unlock();
	t->own_bt.self = CAP_INVALID;
}

static uint64_t thread_stack_size(uint64_t size)
{
	if (!size)
		return THREAD_STACK_DEFAULT;
	if (size > GUEST_STACK_SLOT - THREAD_PAGE)
		return 0; /* no room for the guard page */
	return (size + THREAD_PAGE - 1) & ~(THREAD_PAGE - 1);
}

/* The thread's cap map entries; 0 or -errno. */
static int thread_caps(struct cap_map *cm, struct thread *t, uint64_t badge)
{
	struct cap_index *self, *win;

	cap_map_lock();
	self = cap_map_insert_at(cm, badge, KCAP_THREAD(t->nr, THREAD_SLOT_GATE));
	win = self ? cap_map_alloc_range(cm, RECV_WINDOW_SLOTS) : NULL;
	cap_map_unlock();
	if (!self)
		return -EEXIST;
	t->own_bt.self = (cap_t){self};
	if (!win)
		return -ENOSPC;
	t->own_bt.window = cap_map_kcap(cm, win);
	return 0;
}

int thread_create(struct env *env, const char *name, void (*fn)(void *), void *arg,
		  uint64_t stack_size, struct thread **out)
{
	struct cap_map *cm = cap_map();
	uint64_t size = thread_stack_size(stack_size), utcb, badge, ip, sp, held;
	struct thread *t;
	int err, made;

	if (!env || !fn || !out || !size)
		return -EINVAL;
	if (!cap_valid(env->cpu) || !cap_valid(env->pd))
		return -ENOSYS;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->bt = &t->own_bt;
	t->own_bt.thread = t;
	t->own_bt.window = KCAP_INVALID;
	t->env = env;
	t->fn = fn;
	t->arg = arg;
	t->component = sys_utcb()->tcr[TCR_COMPONENT];
	mutex_lock(&base_state()->thread_lock);
	/* the kernel thread's badge, a word of CPU_CREATE_THREAD's reply, is
	 * in a variable until its cap map entry holds it (cap_badges_hold) */
	held = cap_badges_hold();
	err = cpu_create_thread(env->cpu, env->pd, name, &t->cpu_thread, &t->nr, &utcb,
				&badge);
	made = !err;
	if (made)
		err = t->nr < THREAD_AREA_THREADS ? thread_caps(cm, t, badge) : -ERANGE;
	cap_badges_done(held);
	if (!made)
		goto err_free;
	if (!err)
		err = thread_stack_alloc(t, size, &ip, &sp);
	if (!err)
		err = cpu_start(env->cpu, t->cpu_thread, ip, sp);
	if (err)
		goto err_kill;
	mutex_unlock(&base_state()->thread_lock);
	*out = t;
	return 0;
err_kill:
	thread_kill(t);
	thread_free_local(cm, t);
err_free:
	mutex_unlock(&base_state()->thread_lock);
	free(t);
	return err;
}

int thread_join(struct thread *t)
{
	int err;

	if (!t || !t->env || t == thread_self() ||
	    __atomic_exchange_n(&t->joined, 1, __ATOMIC_SEQ_CST))
		return -EINVAL;
	blockade_block(&t->join);
	mutex_lock(&base_state()->thread_lock);
	err = thread_kill(t);
	thread_free_local(cap_map(), t);
	mutex_unlock(&base_state()->thread_lock);
	free(t);
	return err;
}
