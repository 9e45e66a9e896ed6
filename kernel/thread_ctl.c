/*
 * The THREAD_* protocol: bind to a task, start, pause/resume, registers,
 * state.  Pause semantics (abi.h): a thread blocked in a receive or in the
 * send phase of a call is taken out of it and rewound, so resume re-issues
 * the syscall; a thread waiting for a reply stays blocked and pauses when
 * the reply (or an error) arrives.
 */
#include <stdlib.h>
#include <string.h>
#include "kernel/kernel.h"

#define NATIVE_STACK (1u << 20)

unsigned thread_bind(struct thread *t, struct task *task, uint64_t utcb_addr,
		     struct kobj *pager, unsigned pager_rights, uint64_t nr)
{
	struct utcb *u;

	if (t->task || t->state != TS_INACTIVE)
		return KERR_BUSY;
	if (nr >= THREAD_AREA_THREADS)
		return KERR_RANGE;
	if (task->flags == TASK_NATIVE) {
		u = t->own_utcb = calloc(1, sizeof *u);
		if (!u)
			return KERR_NOMEM;
		utcb_addr = (uint64_t)(uintptr_t)u;
	} else {
		if (utcb_addr & 7)
			return KERR_INVAL;
		u = task_mem_host(task, utcb_addr, sizeof *u);
		if (!u)
			return KERR_RANGE;
		if (vcpu_create(task->vs, &t->vcpu))
			return KERR_NOMEM;
	}
	t->task = task;
	kobj_get(&task->obj);
	klist_add_tail(&task->threads, &t->task_link);
	t->nr = (unsigned)nr;
	t->utcb = u;
	t->utcb_addr = utcb_addr;
	u->self = utcb_addr;
	u->tcr[TCR_THREAD_KCAP] = KCAP_THREAD(nr, THREAD_SLOT_GATE);
	u->tcr[TCR_THREAD_NR] = nr;
	if (pager) {
		kobj_get(pager);
		t->pager = pager;
		t->pager_rights = pager_rights;
	}
	return KERR_OK;
}

static unsigned thread_control(struct thread *caller, struct thread *t, struct utcb *u)
{
	struct cap_space *cs = &caller->task->caps;
	struct kobj *task = cap_space_lookup(cs, u->mr[1], NULL);
	struct kobj *pager = NULL;
	unsigned pr = 0;

	if (!task || task->type != KOBJ_TASK || task->dead)
		return KERR_INVAL_CAP;
	if (u->mr[3] != KCAP_INVALID) {
		pager = cap_space_lookup(cs, u->mr[3], &pr);
		if (!pager || pager->type != KOBJ_GATE)
			return KERR_INVAL_CAP;
	}
	return thread_bind(t, (struct task *)task, u->mr[2], pager, pr, u->mr[4]);
}

static unsigned thread_ex_regs(struct thread *t, uint64_t ip, uint64_t sp)
{
	struct cpu_regs r;

	if (!t->task)
		return KERR_INVAL;
	if (thread_is_native(t)) {
		if (t->coro || t->state != TS_INACTIVE)
			return KERR_BUSY;
		if (!ip)
			return KERR_INVAL;
		if (coro_create(&t->coro, (native_entry_t)(uintptr_t)ip,
				(void *)(uintptr_t)sp, NATIVE_STACK))
			return KERR_NOMEM;
	} else {
		if (t->state != TS_INACTIVE && !(t->state == TS_READY && t->paused))
			return KERR_BUSY;
		vcpu_get_regs(t->vcpu, &r);
		r.rip = ip;
		r.rsp = sp;
		r.gs_base = t->utcb_addr;
		vcpu_set_regs(t->vcpu, &r);
	}
	if (t->state == TS_INACTIVE) {
		t->state = TS_READY;
		sched_ready(t, false);
	}
	return KERR_OK;
}

static unsigned thread_pause(struct thread *t)
{
	if (t->paused || t->state == TS_FAULTED || t->state == TS_DEAD)
		return KERR_OK;
	t->paused = true;
	if (t->state == TS_READY) {
		sched_unready(t);
	} else if (t->state == TS_BLOCKED && t->wait != IPC_REPLY_WAIT) {
		ipc_cancel(t);
		thread_rewind(t);
		t->state = TS_READY;
	}
	return KERR_OK;
}

/* A guest thread halted by a memory fault waits for its pager: once the
 * pager has mapped the page, THREAD_RESUME continues it at the faulting
 * instruction (the backend re-executes it). */
static bool thread_pager_resumable(const struct thread *t)
{
	return t->state == TS_FAULTED && t->vcpu &&
	       (t->fault_kind == FAULT_READ || t->fault_kind == FAULT_WRITE ||
		t->fault_kind == FAULT_EXEC);
}

static unsigned thread_resume(struct thread *t)
{
	if (t->state == TS_FAULTED) {
		if (!thread_pager_resumable(t))
			return KERR_INVAL;
		t->state = TS_READY;
		t->fault_kind = FAULT_NONE;
		sched_ready(t, false);
		return KERR_OK;
	}
	if (!t->paused)
		return KERR_OK;
	t->paused = false;
	if (t->state == TS_READY)
		sched_ready(t, false);
	return KERR_OK;
}

static enum thread_state thread_state_of(const struct thread *t)
{
	if (t->state == TS_READY && t->paused)
		return TS_PAUSED;
	return t->state;
}

/* Registers may be read while the thread cannot run. */
static bool thread_stopped(const struct thread *t)
{
	return t->state == TS_INACTIVE || t->state == TS_FAULTED ||
	       (t->state == TS_READY && t->paused);
}

static uint64_t thread_regs(struct thread *t, struct utcb *u, uint64_t tag, bool set)
{
	struct cpu_regs r;

	if (!t->vcpu)
		return kres(t->task ? KERR_NOSYS : KERR_INVAL);
	if (!thread_stopped(t) || (set && t->state == TS_FAULTED))
		return kres(KERR_BUSY);
	if (!set) {
		vcpu_get_regs(t->vcpu, &r);
		memcpy(&u->mr[0], &r, sizeof r);
		return kres_words(CPU_REGS_WORDS, 0);
	}
	if (TAG_WORDS(tag) < 1 + CPU_REGS_WORDS)
		return kres(KERR_INVAL);
	memcpy(&r, &u->mr[1], sizeof r);
	vcpu_set_regs(t->vcpu, &r);
	return kres(KERR_OK);
}

uint64_t thread_invoke(struct thread *caller, struct thread *t, struct utcb *u,
		       uint64_t tag)
{
	unsigned words = TAG_WORDS(tag);

	if (words < 1)
		return kres(KERR_INVAL);
	if (t->state == TS_DEAD && u->mr[0] != THREAD_STATE)
		return kres(KERR_ABORTED);
	switch (u->mr[0]) {
	case THREAD_CONTROL:
		return kres(words < 5 ? KERR_INVAL : thread_control(caller, t, u));
	case THREAD_EX_REGS:
		return kres(words < 3 ? KERR_INVAL
				      : thread_ex_regs(t, u->mr[1], u->mr[2]));
	case THREAD_PAUSE:
		return kres(thread_pause(t));
	case THREAD_RESUME:
		return kres(thread_resume(t));
	case THREAD_GET_REGS:
		return thread_regs(t, u, tag, false);
	case THREAD_SET_REGS:
		return thread_regs(t, u, tag, true);
	case THREAD_SCHED:
		if (words < 2 || u->mr[1] > KERNEL_PRIO_MAX)
			return kres(KERR_INVAL);
		if (caller->task != caller->obj.node->root)
			return kres(KERR_PERM);
		sched_set_prio(t, (unsigned)u->mr[1]);
		return kres(KERR_OK);
	case THREAD_STATE:
		u->mr[0] = thread_state_of(t);
		u->mr[1] = t->fault_ip;
		u->mr[2] = t->fault_addr;
		u->mr[3] = t->fault_kind;
		return kres_words(4, 0);
	default:
		return kres(KERR_NOSYS);
	}
}
