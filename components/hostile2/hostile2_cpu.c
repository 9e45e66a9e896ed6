/*
 * hostile2 rounds on the CPU session and on its own threads: garbage
 * creates, wild starts, registers of running threads, garbage register
 * sets; the exception irq its parent listens to; and (last) the attacks
 * that may legitimately kill only itself.
 */
#include <errno.h>
#include <string.h>
#include "hostile2.h"

#define THREAD_STORM 200
#define SPIN_STACK   16384

static uint8_t spin_stack[SPIN_STACK] __attribute__((aligned(16)));

/* A thread that sleeps forever in short closed waits. */
static void spin(void)
{
	for (;;)
		h2_sleep(1000);
}

static int cpu_new(struct h2 *h, cap_t *t)
{
	return h2_call(h, h->env->cpu, CPU_CREATE_THREAD, &h->env->pd, 1, NULL, 0, t);
}

static void cpu_kill(struct h2 *h, cap_t t)
{
	struct cpu_regs r;
	struct msg m;

	h2_call(h, h->env->cpu, CPU_KILL, &t, 1, NULL, 0, NULL);
	h2_call(h, h->env->cpu, CPU_KILL, &t, 1, NULL, 0, NULL);
	h2_call_r(h, h->env->cpu, CPU_GET_REGS, &t, 1, NULL, 0, &m);
	memset(&r, 0, sizeof r);
	h2_call(h, h->env->cpu, CPU_SET_REGS, &t, 1, (uint64_t *)&r, CPU_REGS_WORDS,
		NULL);
	h2_call(h, h->env->cpu, CPU_START, &t, 1, (uint64_t[]){0, 0}, 2, NULL);
	cap_release(t);
}

/* Registers of a thread in any state, garbage registers, resume. */
static void cpu_regs_abuse(struct h2 *h, cap_t t, uint64_t wild_ip)
{
	uint64_t regs[CPU_REGS_WORDS];
	struct msg m;

	h2_call_r(h, h->env->cpu, CPU_GET_REGS, &t, 1, NULL, 0, &m);
	h2_call_r(h, h->env->cpu, CPU_STATE, &t, 1, NULL, 0, &m);
	for (unsigned i = 0; i < CPU_REGS_WORDS; i++)
		regs[i] = h2_rnd();
	h2_call(h, h->env->cpu, CPU_SET_REGS, &t, 1, regs, CPU_REGS_WORDS, NULL);
	h2_call(h, h->env->cpu, CPU_PAUSE, &t, 1, NULL, 0, NULL);
	h2_call(h, h->env->cpu, CPU_PAUSE, &t, 1, NULL, 0, NULL);
	h2_call_r(h, h->env->cpu, CPU_GET_REGS, &t, 1, NULL, 0, &m);
	/* garbage everywhere, including the segment bases and mxcsr */
	regs[16] = wild_ip;
	regs[17] = ~0ULL;     /* rflags */
	regs[18] = ~0ULL;     /* fs_base */
	regs[19] = 0xdead000; /* gs_base: the UTCB is found there */
	regs[20] = ~0ULL;     /* mxcsr with reserved bits */
	h2_call(h, h->env->cpu, CPU_SET_REGS, &t, 1, regs, CPU_REGS_WORDS, NULL);
	h2_call(h, h->env->cpu, CPU_SET_REGS, &t, 1, regs, 3, NULL); /* too short */
	h2_call(h, h->env->cpu, CPU_RESUME, &t, 1, NULL, 0, NULL);
	h2_sleep(2000);
	h2_call_r(h, h->env->cpu, CPU_STATE, &t, 1, NULL, 0, &m);
	h2_call(h, h->env->cpu, CPU_RESUME, &t, 1, NULL, 0, NULL);
}

static void cpu_wild(struct h2 *h)
{
	static const uint64_t ips[] = {0,
				       0xdead0000,
				       ~0ULL,
				       GUEST_IMAGE_BASE + 1,
				       0xffff800000000000ULL,
				       GUEST_UTCB_AREA,
				       GUEST_RM_BASE + GUEST_RM_SIZE};
	static const uint64_t sps[] = {0, ~0ULL, 0x1001, GUEST_UTCB_AREA + 8};

	for (unsigned i = 0; i < sizeof ips / sizeof ips[0]; i++) {
		cap_t t;

		if (cpu_new(h, &t))
			continue;
		h2_call(h, h->env->cpu, CPU_START, &t, 1,
			(uint64_t[]){ips[i], sps[i % 4]}, 2, NULL);
		h2_call(h, h->env->cpu, CPU_START, &t, 1, (uint64_t[]){ips[i], 0}, 2,
			NULL);
		h2_sleep(1000);
		cpu_regs_abuse(h, t, ips[(i + 1) % 7]);
		cpu_kill(h, t);
	}
	/* a running (sleeping) thread: registers without pausing it first */
	cap_t t;

	if (!cpu_new(h, &t)) {
		uint64_t sp = (uint64_t)(uintptr_t)(spin_stack + SPIN_STACK) - 8;

		h2_call(h, h->env->cpu, CPU_START, &t, 1,
			(uint64_t[]){(uint64_t)(uintptr_t)spin, sp}, 2, NULL);
		h2_sleep(3000);
		cpu_regs_abuse(h, t, (uint64_t)(uintptr_t)spin);
		cpu_kill(h, t);
	}
}

void round_cpu(struct h2 *h)
{
	static cap_t storm[THREAD_STORM];
	cap_t bad[] = {h->env->log, h->env->parent, h->env->cpu, CAP_INVALID};
	struct pd_quota q0, q1;
	unsigned n = 0;

	pd_quota_get(h->env->pd, &q0);
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cap_t t;

		if (!h2_call(h, h->env->cpu, CPU_CREATE_THREAD, &bad[i], 1, NULL, 0, &t))
			cpu_kill(h, t);
		for (uint64_t op = CPU_START; op <= CPU_KERNEL_THREAD; op++)
			h2_call(h, h->env->cpu, op, &bad[i], 1, (uint64_t[]){1, 2}, 2,
				NULL);
	}
	/* names that lie about their length */
	for (unsigned i = 0; i < 20; i++) {
		uint64_t k = cap_kcap(h->env->pd), w[50];

		for (unsigned j = 0; j < 50; j++)
			w[j] = h2_rnd();
		w[0] = i & 1 ? ~0ULL : 1ULL << 40;
		h2_forge(h, cap_kcap(h->env->cpu), CPU_CREATE_THREAD, &k, 1, w, 50);
		h2_forge(h, cap_kcap(h->env->cpu), 1 + i % 12, &k, 1, w, i);
	}
	for (; n < THREAD_STORM; n++)
		if (cpu_new(h, &storm[n]))
			break;
	for (unsigned i = 0; i < n; i++)
		cpu_kill(h, storm[i]);
	env_log(h->env, "hostile2: cpu thread storm stopped after %s",
		n < THREAD_STORM ? "a refusal" : "NO LIMIT");
	cpu_wild(h);
	for (uint64_t op = 0; op < 20; op++)
		h2_call(h, h->env->cpu, op < 16 ? op : h2_rnd(), NULL, 0, NULL, 0, NULL);
	pd_quota_get(h->env->pd, &q1);
	env_log(h->env, "hostile2: cpu: quota %s",
		q0.ram_used == q1.ram_used && q0.cap_used == q1.cap_used ? "restored"
									 : "LEAKED");
}

/* The exception irq of our CPU session is what our parent listens to for
 * our faults: taking it away from the parent must be refused, or the
 * parent would wait forever for a faulted child. */
void round_exc_irq(struct h2 *h)
{
	uint64_t label, tag, kt = KCAP_THREAD(h->nr, THREAD_SLOT_GATE);
	unsigned unbound = 0;
	cap_t irq;

	for (unsigned i = 0; i < 3; i++) {
		if (h2_call(h, h->env->cpu, CPU_EXCEPTION_IRQ, NULL, 0, NULL, 0, &irq))
			continue;
		tag = h2_kobj(h, cap_kcap(irq), PROTO_IRQ, (uint64_t[]){IRQ_UNBIND}, 1);
		tag = h2_kobj(h, cap_kcap(irq), PROTO_IRQ,
			      (uint64_t[]){IRQ_BIND, kt, 0x40}, 3);
		unbound += !TAG_ERROR(tag);
		h2_kobj(h, cap_kcap(irq), PROTO_IRQ, (uint64_t[]){IRQ_LINE, 3}, 2);
		for (unsigned j = 0; j < 100; j++)
			h2_kobj(h, cap_kcap(irq), PROTO_IRQ, (uint64_t[]){IRQ_TRIGGER},
				1);
		sys_invoke(cap_kcap(irq), TAG(SYS_OP_WAIT, 0, 0, 0), 1000, &label);
		cap_release(irq);
	}
	env_log(h->env, "hostile2: exception irq taken from the parent: %s",
		unbound ? "YES" : "never");
}

/* Last: things that may legitimately stop only this component. */
void round_self(struct h2 *h)
{
	uint64_t sz = 0x2000, local = 0, stack = (uint64_t)(uintptr_t)&local & ~0xfffULL;
	uint64_t addrs[] = {GUEST_IMAGE_BASE, GUEST_IMAGE_BASE + 0x1000,
			    (uint64_t)(uintptr_t)h->u, stack, stack - 0x1000};
	static const uint64_t offs[] = {0, 0x1000, 0x3000, ~0xfffULL};
	unsigned granted = 0;
	cap_t ds;

	if (!h2_call(h, h->env->pd, PD_ALLOC_RAM, NULL, 0, &sz, 1, &ds)) {
		for (unsigned a = 0; a < sizeof addrs / sizeof addrs[0]; a++)
			for (unsigned o = 0; o < sizeof offs / sizeof offs[0]; o++) {
				uint64_t w[4] = {addrs[a], offs[o], 0x2000,
						 MEM_R | MEM_X};

				granted += !h2_call(h, h->env->pd, PD_ATTACH, &ds, 1, w,
						    4, NULL);
			}
	}
	env_log(h->env, "hostile2: attaches over its text, UTCB and stack granted: %u",
		granted);
	h2_round_end(h, "self");
	env_log(h->env, "hostile2: detaching its own text");
	h2_call(h, h->env->pd, PD_DETACH, NULL, 0, (uint64_t[]){GUEST_IMAGE_BASE}, 1,
		NULL);
	/* the detach was refused: fault the honest way */
	volatile uint64_t *wild = (volatile uint64_t *)0xdead0000UL;

	__asm__ volatile("" : "+r"(wild));
	*wild = 1;
}
