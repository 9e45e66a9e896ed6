/*
 * hostile2 rounds on IPC itself (receive windows at the end of the cap
 * space, tags that claim more words and items than a UTCB holds, calls to
 * itself, replies to nobody) and on lifetimes (memory, region maps, UTCB
 * pages and ROMs used after they were freed, a thread killed while it
 * waits for a pager, a signal source freed under a running timer).
 */
#include "hostile2.h"

#define RECV_STACK 16384

static uint8_t recv_stack[RECV_STACK] __attribute__((aligned(16)));
static volatile uint64_t recv_window, recv_count;

/* Open waits with the receive window recv_window, counting messages. */
static void receiver(void)
{
	uint64_t label;

	for (;;) {
		sys_utcb()->br[0] = recv_window;
		if (!TAG_ERROR(sys_invoke(KCAP_INVALID, TAG(SYS_OP_WAIT, 0, 0, 0), 1000,
					  &label)))
			recv_count++;
	}
}

/* A reply carrying a cap into a window at or past the end of the space. */
static void ipc_windows(struct h2 *h)
{
	static const uint64_t windows[] = {
	    KCAP(CAP_SLOTS - 1), KCAP(CAP_SLOTS),     ~0ULL,
	    ~0xfffULL,		 KCAP(0x700) + 0x123, 1ULL << 63};
	struct utcb *u = h->u;
	uint64_t label, tag;
	struct msg m;

	for (unsigned i = 0; i < sizeof windows / sizeof windows[0]; i++) {
		msg_reset(&m, PD_ADDRESS_SPACE);
		tag = msg_to_utcb(u, &m, cap_badge(h->env->pd));
		u->br[0] = windows[i];
		tag = sys_invoke(cap_kcap(h->env->pd), tag | TAG(SYS_OP_CALL, 0, 0, 0),
				 H2_TIMEOUT, &label);
		h->req++;
		h->refused += TAG_ERROR(tag) != 0;
	}
	h2_kobj(h, KCAP(FIXED_TASK), PROTO_TASK,
		(uint64_t[]){TASK_UNMAP, KCAP(CAP_SLOTS - 1), UNMAP_SELF}, 3);
}

/* Messages to our own receiver thread: items past the window's end,
 * word and item counts past the UTCB. */
static void ipc_tags(struct h2 *h, uint64_t kt)
{
	static const uint64_t windows[] = {KCAP(CAP_SLOTS - 2), KCAP(CAP_SLOTS - 4),
					   KCAP(0xd00), ~0ULL};
	static const unsigned shapes[][2] = {{127, 7}, {64, 0}, {60, 4}, {63, 4},
					     {0, 7},   {1, 4},	{127, 0}};
	uint64_t label, tag;

	for (unsigned w = 0; w < sizeof windows / sizeof windows[0]; w++) {
		recv_window = windows[w];
		h2_sleep(2000);
		for (unsigned s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
			unsigned words = shapes[s][0], items = shapes[s][1];

			for (unsigned i = 0; i < UTCB_MRS; i++)
				h->u->mr[i] =
				    i >= words && i < words + items && i < UTCB_MRS
					? cap_kcap(h->env->log) | RIGHTS_ALL
					: h2_rnd();
			tag = sys_invoke(kt, TAG(SYS_OP_SEND, 0, words, items), 5000,
					 &label);
			h->req++;
			h->refused += TAG_ERROR(tag) != 0;
			/* and the same shapes to core and to the parent */
			for (unsigned i = 0; i < UTCB_MRS; i++)
				h->u->mr[i] = h2_rnd() & ~0xfffULL;
			tag = sys_invoke(
			    s & 1 ? cap_kcap(h->env->log) : KCAP(FIXED_PARENT),
			    TAG(SYS_OP_CALL, 0, words, items), H2_TIMEOUT, &label);
			h->req++;
			h->refused += TAG_ERROR(tag) != 0;
		}
	}
	for (unsigned i = 0; i < 3; i++)
		h2_kobj(h, KCAP(FIXED_TASK), PROTO_TASK,
			(uint64_t[]){TASK_UNMAP, KCAP(CAP_SLOTS - 1 - i), UNMAP_SELF}, 3);
}

void round_ipc(struct h2 *h)
{
	uint64_t sp = (uint64_t)(uintptr_t)(recv_stack + RECV_STACK) - 8, label, tag;
	uint64_t self = KCAP_THREAD(h->nr, THREAD_SLOT_GATE);
	cap_t t, kt;

	ipc_windows(h);
	if (!h2_call(h, h->env->cpu, CPU_CREATE_THREAD, &h->env->pd, 1, NULL, 0, &t)) {
		if (!h2_call(h, h->env->cpu, CPU_KERNEL_THREAD, &t, 1, NULL, 0, &kt)) {
			h2_call(h, h->env->cpu, CPU_START, &t, 1,
				(uint64_t[]){(uint64_t)(uintptr_t)receiver, sp}, 2, NULL);
			ipc_tags(h, cap_kcap(kt));
			cap_release(kt);
		}
		h2_call(h, h->env->cpu, CPU_KILL, &t, 1, NULL, 0, NULL);
		cap_release(t);
	}
	/* a call to itself, replies to nobody, every op */
	for (unsigned op = 0; op < 16; op++) {
		h->u->br[0] = KCAP_INVALID;
		tag = sys_invoke(op == SYS_OP_WAIT || op == SYS_OP_REPLY_WAIT ? KCAP_NIL
									      : self,
				 TAG(op, 0, 2, 0), 1000, &label);
		h->req++;
		h->refused += TAG_ERROR(tag) != 0;
	}
	env_log(h->env, "hostile2: ipc: our own receiver got %s",
		recv_count ? "messages" : "nothing");
}

/* Memory used after it was freed, through a thread that may fault. */
void round_uaf(struct h2 *h)
{
	cap_t ds, rm, r, rds, thr, uds, rom, romds;
	uint64_t sz = 0x2000, at, rat,
		 st[7] = {~0ULL, ~0ULL, ~0ULL, ~0ULL, ~0ULL, ~0ULL, ~0ULL};

	if (!pd_alloc_ram(h->env->pd, sz, &ds)) {
		if (!pd_attach(h->env->pd, ds, 0, 0, 0, MEM_R | MEM_W, &at)) {
			*(volatile uint64_t *)(uintptr_t)at = 1;
			h2_call(h, h->env->pd, PD_FREE_RAM, &ds, 1, NULL, 0, NULL);
			st[0] = h2_touch(h, at, 1);
			pd_detach(h->env->pd, at);
		}
		cap_release(ds);
	}
	if (!env_session(h->env, "RM", "", &rm)) {
		if (!rm_create(rm, 0x4000, &r) && !region_dataspace(r, &rds)) {
			if (!pd_alloc_ram(h->env->pd, 0x1000, &ds)) {
				region_attach(r, ds, 0, 0, 0, MEM_R | MEM_W, &rat);
				pd_free_ram(h->env->pd, ds);
				cap_release(ds);
			}
			if (!pd_attach(h->env->pd, rds, 0, 0, 0, MEM_R | MEM_W, &at)) {
				st[1] = h2_touch(h, at, 1);
				/* a hole: the toucher waits for a pager that never comes
				 */
				st[2] = h2_touch(h, at + 0x2000, 1);
				h2_call(h, rm, RM_DESTROY, &r, 1, NULL, 0, NULL);
				st[3] = h2_touch(h, at, 1);
				h2_call(h, h->env->pd, PD_DETACH, NULL, 0, &at, 1, NULL);
			}
			h2_call(h, r, REGION_DETACH, NULL, 0, (uint64_t[]){0}, 1, NULL);
			cap_release(rds);
			cap_release(r);
		}
		parent_close(h->env->parent, rm);
	}
	/* the UTCB page of a thread, attached, after the thread is gone */
	if (!h2_call(h, h->env->cpu, CPU_CREATE_THREAD, &h->env->pd, 1, NULL, 0, &thr)) {
		if (!h2_call(h, h->env->cpu, CPU_UTCB_DATASPACE, &thr, 1, NULL, 0,
			     &uds)) {
			if (!pd_attach(h->env->pd, uds, 0, 0, 0, MEM_R | MEM_W, &at)) {
				h2_call(h, h->env->cpu, CPU_KILL, &thr, 1, NULL, 0, NULL);
				h2_call(h, h->env->pd, PD_FREE_RAM, &uds, 1, NULL, 0,
					NULL);
				st[4] = h2_touch(h, at, 1);
				pd_detach(h->env->pd, at);
			}
			cap_release(uds);
		}
		h2_call(h, h->env->cpu, CPU_KILL, &thr, 1, NULL, 0, NULL);
		cap_release(thr);
	}
	/* the UTCB page of a live, sleeping thread, freed under it */
	st[6] = ~0ULL;
	if (!h2_call(h, h->env->cpu, CPU_CREATE_THREAD, &h->env->pd, 1, NULL, 0, &thr)) {
		uint64_t sp = (uint64_t)(uintptr_t)(recv_stack + RECV_STACK) - 8;
		struct msg m;

		recv_window = KCAP_INVALID;
		h2_call(h, h->env->cpu, CPU_START, &thr, 1,
			(uint64_t[]){(uint64_t)(uintptr_t)receiver, sp}, 2, NULL);
		/* until it waits in its receive (a loaded machine is slow) */
		for (int i = 0; i < 1000; i++) {
			h2_sleep(2000);
			if (!h2_call_r(h, h->env->cpu, CPU_STATE, &thr, 1, NULL, 0, &m) &&
			    m.nwords && m.w[0] == TS_BLOCKED)
				break;
		}
		if (!h2_call(h, h->env->cpu, CPU_UTCB_DATASPACE, &thr, 1, NULL, 0,
			     &uds)) {
			h2_call(h, h->env->pd, PD_FREE_RAM, &uds, 1, NULL, 0, NULL);
			cap_release(uds);
		}
		h2_sleep(5000);
		if (!h2_call(h, h->env->cpu, CPU_UTCB_DATASPACE, &thr, 1, NULL, 0,
			     &uds)) {
			h2_call(h, h->env->pd, PD_DS_SIZE, &uds, 1, NULL, 0, NULL);
			cap_release(uds);
		}
		if (!h2_call_r(h, h->env->cpu, CPU_STATE, &thr, 1, NULL, 0, &m) &&
		    m.nwords)
			st[6] = m.w[0];
		h2_call(h, h->env->cpu, CPU_KILL, &thr, 1, NULL, 0, NULL);
		cap_release(thr);
	}
	/* a ROM, attached, after its session is closed */
	if (!env_session(h->env, "ROM", "label=\"counter\"", &rom)) {
		if (!rom_dataspace(rom, &romds, &sz)) {
			h->req++;
			if (!pd_attach(h->env->pd, romds, 0, 0, 0, MEM_R, &at)) {
				parent_close(h->env->parent, rom);
				rom = CAP_INVALID;
				st[5] = h2_touch(h, at, 0);
				pd_detach(h->env->pd, at);
			}
			cap_release(romds);
		}
		if (rom.idx)
			parent_close(h->env->parent, rom);
	}
	env_log(
	    h->env,
	    "hostile2: uaf: thread states: freed ram %llu, region map %llu/%llu/%llu, "
	    "dead utcb %llu, closed rom %llu, live thread without utcb %s",
	    (unsigned long long)st[0], (unsigned long long)st[1],
	    (unsigned long long)st[2], (unsigned long long)st[3],
	    (unsigned long long)st[4], (unsigned long long)st[5],
	    /* it waits in 1 ms slices: ready or blocked, it lives on */
	    st[6] == TS_READY || st[6] == TS_BLOCKED ? "alive" : "not alive");
}

/* A second PD session of our own: a thread of our CPU session in it, its
 * RAM attached into our address space, then the session closed under
 * both; and its kernel thread rebound through the kernel directly. */
void round_cross_pd(struct h2 *h)
{
	uint64_t st[3] = {~0ULL, ~0ULL, ~0ULL}, at = 0, sz = 0x1000;
	cap_t pd2, t, kt, ds;
	struct msg m;

	if (env_session(h->env, "PD", "ram_quota=65536, cap_quota=8", &pd2))
		return;
	if (!h2_call(h, h->env->cpu, CPU_CREATE_THREAD, &pd2, 1, NULL, 0, &t)) {
		h2_call(h, h->env->cpu, CPU_START, &t, 1, (uint64_t[]){0x1000, 0}, 2,
			NULL);
		if (!h2_call(h, h->env->cpu, CPU_KERNEL_THREAD, &t, 1, NULL, 0, &kt)) {
			/* rebinding a thread core made: to our task, our UTCB,
			 * our own thread number, unmapped UTCBs, wild numbers */
			static const uint64_t utcbs[] = {0, GUEST_UTCB_AREA, 0xdead000,
							 GUEST_IMAGE_BASE, ~0xfffULL};
			for (unsigned i = 0; i < 10; i++) {
				uint64_t ctl[5] = {
				    THREAD_CONTROL, KCAP(FIXED_TASK),
				    i < 5 ? utcbs[i] : (uint64_t)(uintptr_t)h->u,
				    KCAP_INVALID,
				    i & 1 ? h->nr : THREAD_AREA_THREADS + i};

				h2_kobj(h, cap_kcap(kt), PROTO_THREAD, ctl, 5);
				h2_kobj(h, cap_kcap(kt), PROTO_THREAD,
					(uint64_t[]){THREAD_EX_REGS, 0xdead0000, 0}, 3);
			}
			cap_release(kt);
		}
	}
	if (!h2_call(h, pd2, PD_ALLOC_RAM, NULL, 0, &sz, 1, &ds)) {
		if (!pd_attach(h->env->pd, ds, 0, 0, 0, MEM_R | MEM_W, &at))
			st[0] = h2_touch(h, at, 1);
		cap_release(ds);
	}
	parent_close(h->env->parent, pd2);
	if (at) {
		st[1] = h2_touch(h, at, 1);
		pd_detach(h->env->pd, at);
	}
	if (t.idx) {
		if (!h2_call_r(h, h->env->cpu, CPU_STATE, &t, 1, NULL, 0, &m) && m.nwords)
			st[2] = m.w[0];
		h2_call(h, h->env->cpu, CPU_PAUSE, &t, 1, NULL, 0, NULL);
		h2_call_r(h, h->env->cpu, CPU_GET_REGS, &t, 1, NULL, 0, &m);
		h2_call(h, h->env->cpu, CPU_RESUME, &t, 1, NULL, 0, NULL);
		h2_call(h, h->env->cpu, CPU_KILL, &t, 1, NULL, 0, NULL);
		cap_release(t);
	}
	env_log(
	    h->env,
	    "hostile2: cross_pd: states: its ram %llu, after close %llu, its thread %llu",
	    (unsigned long long)st[0], (unsigned long long)st[1],
	    (unsigned long long)st[2]);
}

/* RAM whose quota came back must not stay in use: freed (or its PD
 * closed) while attached to a region map, again and again. */
void round_quota_evasion(struct h2 *h)
{
	uint64_t sz = 1 << 20, at, held = 0;
	cap_t rm, r, ds, pd2;

	if (env_session(h->env, "RM", "", &rm))
		return;
	if (rm_create(rm, 1ULL << 32, &r)) {
		parent_close(h->env->parent, rm);
		return;
	}
	for (unsigned i = 0; i < 64; i++) {
		int own = i & 1;
		cap_t from = h->env->pd;

		if (!own) {
			if (env_session(h->env, "PD", "ram_quota=1200000, cap_quota=4",
					&pd2))
				continue;
			from = pd2;
		}
		if (!h2_call(h, from, PD_ALLOC_RAM, NULL, 0, &sz, 1, &ds)) {
			h->req++;
			if (!region_attach(r, ds, (uint64_t)i << 20, 0, 0, MEM_R | MEM_W,
					   &at))
				held++;
			else
				h->refused++;
			if (own)
				h2_call(h, from, PD_FREE_RAM, &ds, 1, NULL, 0, NULL);
			cap_release(ds);
		}
		if (!own)
			parent_close(h->env->parent, pd2);
	}
	/* how much of it is still attached */
	unsigned live = 0;
	for (unsigned i = 0; i < 64; i++)
		live += !region_detach(r, (uint64_t)i << 20);
	env_log(h->env,
		"hostile2: quota: %llu MiB attached, then freed: %u MiB still held",
		(unsigned long long)held, live);
	rm_destroy(rm, r);
	cap_release(r);
	parent_close(h->env->parent, rm);
}
