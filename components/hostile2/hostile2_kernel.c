/*
 * hostile2 round on the kernel directly: TASK_* on its own task across
 * the slots, THREAD_* on its own threads, irq ops on its per-thread irq,
 * closed waits on foreign kcaps, invocations of every fixed selector.
 */
#include "hostile2.h"

#define SCRATCH	  0xe00 /* slots far above what the cap map hands out */
#define IRQ_STORM 10000

static void kernel_task(struct h2 *h)
{
	uint64_t task = KCAP(FIXED_TASK);

	/* map every slot of the low area onto scratch slots and back out */
	for (uint64_t i = 0; i < FIXED_USER_BASE + 0x40; i++) {
		uint64_t dst = KCAP(SCRATCH + i % 0x100);

		h2_kobj(h, task, PROTO_TASK,
			(uint64_t[]){TASK_MAP, i & 1 ? KCAP_INVALID : task,
				     KCAP(i) | RIGHTS_ALL, dst},
			4);
		h2_kobj(h, task, PROTO_TASK, (uint64_t[]){TASK_CAP_INFO, dst}, 2);
		h2_kobj(h, task, PROTO_TASK, (uint64_t[]){TASK_UNMAP, dst, UNMAP_SELF},
			3);
	}
	/* garbage sources, destinations, source tasks, flags */
	for (unsigned i = 0; i < 500; i++) {
		uint64_t src = h2_kcap(h), dst = h2_kcap(h);

		if (h2_vital(h, dst & ~0xfffULL))
			continue;
		h2_kobj(h, task, PROTO_TASK,
			(uint64_t[]){TASK_MAP, i % 3 ? h2_kcap(h) : task, src, dst}, 4);
		h2_kobj(h, task, PROTO_TASK, (uint64_t[]){TASK_MAP, task, dst, dst}, 4);
		h2_kobj(h, task, PROTO_TASK, (uint64_t[]){TASK_CAP_EQUAL, src, dst}, 3);
		h2_kobj(h, task, PROTO_TASK, (uint64_t[]){TASK_CAP_VALID, src}, 2);
		h2_kobj(h, task, PROTO_TASK,
			(uint64_t[]){TASK_UNMAP, dst, h2_rnd() & ~(uint64_t)UNMAP_SELF},
			3);
	}
	/* unmap of fixed selectors that are not vital (without UNMAP_SELF:
	 * revokes what was derived from them) */
	for (uint64_t i = 0; i < FIXED_THREAD_AREA; i++)
		h2_kobj(h, task, PROTO_TASK,
			(uint64_t[]){TASK_UNMAP, KCAP(i),
				     h2_vital(h, KCAP(i)) ? 0 : UNMAP_SELF},
			3);
	/* host memory: core only */
	for (unsigned i = 0; i < 20; i++) {
		uint64_t a = i & 1 ? (uint64_t)(uintptr_t)h->u : h2_rnd();

		h2_kobj(
		    h, task, PROTO_TASK,
		    (uint64_t[]){TASK_MAP_MEM, a, GUEST_RM_BASE, 0x1000, MEM_R | MEM_W},
		    5);
		h2_kobj(h, task, PROTO_TASK,
			(uint64_t[]){TASK_UNMAP_MEM, GUEST_IMAGE_BASE, 0x1000}, 3);
	}
	for (uint64_t op = 0; op < 12; op++)
		h2_kobj(h, task, PROTO_TASK, (uint64_t[]){op, 0, 0, 0}, op % 5);
}

static void kernel_thread(struct h2 *h)
{
	uint64_t self = KCAP_THREAD(h->nr, THREAD_SLOT_GATE);
	uint64_t mr[1 + CPU_REGS_WORDS];

	/* on its own running thread: refused, or harmless */
	h2_kobj(h, self, PROTO_THREAD, (uint64_t[]){THREAD_GET_REGS}, 1);
	for (unsigned i = 0; i < 1 + CPU_REGS_WORDS; i++)
		mr[i] = h2_rnd();
	mr[0] = THREAD_SET_REGS;
	h2_kobj(h, self, PROTO_THREAD, mr, 1 + CPU_REGS_WORDS);
	h2_kobj(h, self, PROTO_THREAD, (uint64_t[]){THREAD_STATE}, 1);
	h2_kobj(h, self, PROTO_THREAD, (uint64_t[]){THREAD_RESUME}, 1);
	/* its own priority, to the top: core's alone to set (a child is
	 * never above its parent), so the kernel refuses it */
	env_log(h->env, "hostile2: kernel: raising its own priority: %s",
		TAG_ERROR(h2_kobj(h, self, PROTO_THREAD,
				  (uint64_t[]){THREAD_SCHED, KERNEL_PRIO_MAX}, 2)) ==
			KERR_PERM
		    ? "refused"
		    : "GRANTED");
	/* rebinding its own thread: to garbage, to its own task with another
	 * number / UTCB, to the thread area of another number */
	for (unsigned i = 0; i < 10; i++) {
		uint64_t ctl[5] = {THREAD_CONTROL, i & 1 ? KCAP(FIXED_TASK) : h2_kcap(h),
				   i & 2 ? h2_rnd() : GUEST_UTCB_AREA, h2_kcap(h),
				   i & 4 ? h2_rnd() : h->nr + 1 + i};

		h2_kobj(h, self, PROTO_THREAD, ctl, 5);
	}
	/* every thread op on every other thread-area gate and garbage; the
	 * numbers wrap around to our own (i = THREAD_AREA_THREADS - 1, even
	 * as there are 151), where a THREAD_PAUSE (one draw in 8) paused us
	 * for good: with 48 sessions allowed, the storms before drew the
	 * random numbers so that it did, and the node stopped in a deadlock */
	for (unsigned i = 0; i < 300; i++) {
		uint64_t nr = (h->nr + 1 + i) % THREAD_AREA_THREADS,
			 k = KCAP_THREAD(nr, 0);

		if ((i & 1) || nr == h->nr)
			k = h2_kcap(h);
		h2_kobj(h, k, PROTO_THREAD,
			(uint64_t[]){1 + h2_rnd() % 8, h2_rnd(), h2_rnd()}, 3);
	}
}

static void kernel_irq(struct h2 *h)
{
	uint64_t irq = KCAP_THREAD(h->nr, THREAD_SLOT_IRQ), label;

	for (unsigned i = 0; i < IRQ_STORM; i++)
		h2_kobj(h, irq, PROTO_IRQ, (uint64_t[]){IRQ_TRIGGER}, 1);
	for (unsigned i = 0; i < 10; i++)
		sys_invoke(irq, TAG(SYS_OP_WAIT, 0, 0, 0), 1000, &label);
	for (uint64_t line = 0; line < 70; line += 7)
		h2_kobj(h, irq, PROTO_IRQ, (uint64_t[]){IRQ_LINE, line}, 2);
	h2_kobj(h, irq, PROTO_IRQ, (uint64_t[]){IRQ_LINE, ~0ULL}, 2);
	h2_kobj(h, irq, PROTO_IRQ, (uint64_t[]){IRQ_BIND, h2_kcap(h), 3}, 3);
	h2_kobj(h, irq, PROTO_IRQ, (uint64_t[]){IRQ_BIND, KCAP_THREAD(h->nr + 1, 0), 0},
		3);
	h2_kobj(h, irq, PROTO_IRQ, (uint64_t[]){IRQ_BIND}, 1);
	h2_kobj(h, irq, PROTO_IRQ, (uint64_t[]){~0ULL}, 1);
	/* the irqs of other thread numbers, and closed waits on foreign kcaps */
	for (unsigned i = 0; i < 60; i++) {
		uint64_t k = i & 1 ? KCAP_THREAD((h->nr + 1 + i) % THREAD_AREA_THREADS,
						 THREAD_SLOT_IRQ)
				   : h2_kcap(h);

		h2_kobj(h, k, PROTO_IRQ, (uint64_t[]){1 + i % 4, h2_rnd(), h2_rnd()}, 3);
		h->req++;
		h->refused +=
		    TAG_ERROR(sys_invoke(k, TAG(SYS_OP_WAIT, 0, 0, 0), 500, &label)) != 0;
	}
	h->req++;
	h->refused += TAG_ERROR(sys_invoke(KCAP(FIXED_PARENT), TAG(SYS_OP_WAIT, 0, 0, 0),
					   500, &label)) != 0;
}

/* Every op of every protocol on every non-vital slot below the user base. */
static void kernel_sweep(struct h2 *h)
{
	for (uint64_t i = 0; i < FIXED_USER_BASE; i++) {
		uint64_t k = KCAP(i);

		if (h2_vital(h, k))
			continue;
		for (unsigned proto = 0; proto <= PROTO_IRQ + 1; proto++)
			h2_kobj(h, k, proto,
				(uint64_t[]){1 + h2_rnd() % 8, h2_rnd(), h2_rnd()}, 3);
	}
	/* the factory: only core has one */
	for (unsigned op = 0; op < 6; op++)
		h2_kobj(h, KCAP(FIXED_FACTORY), PROTO_FACTORY, (uint64_t[]){op, 1, 0}, 3);
}

void round_kernel(struct h2 *h)
{
	kernel_task(h);
	kernel_thread(h);
	kernel_irq(h);
	kernel_sweep(h);
}
