/*
 * The CPU session on guest threads: each case boots a node whose init is
 * a native function of this test.  It creates guest PDs (code in a RAM
 * dataspace attached executable, a stack dataspace per thread, init's own
 * gate mapped at INIT_GATE) and guest threads through the CPU session,
 * and talks to them with raw IPC: the guest code below sends on
 * INIT_GATE, init receives with an open wait on its own thread.  A case's
 * checks run inside the node; the first failing one is reported here.
 *
 * Guest code (hand-assembled, Intel syntax; gs:0 is the UTCB, so mr[i] is
 * gs:8+8i, tcr[TCR_THREAD_KCAP] gs:0x228, tcr[TCR_THREAD_NR] gs:0x238).
 * "hello" sends mr[0] = HELLO and the thread's own kernel thread cap as a
 * map item, which gives init a cap to the guest thread.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <capsule/native.h>
#include <base/env.h>
#include "core/core.h"

#define INIT_GATE   KCAP(0x400) /* init's gate in every guest PD */
#define SRV_GATE    KCAP(0x401) /* the server's gate in client PDs */
#define CODE	    GUEST_IMAGE_BASE
#define HELLO	    0x4e110
#define SENDER_WORD 0x5e4d

/* jmp . */
static const char code_spin[] = "\xeb\xfe";

/* mov gs:8, SENDER_WORD; send(INIT_GATE, 1 word); loop: sleep forever */
static const char code_sender[] =
    "\x65\x48\xc7\x04\x25\x08\x00\x00\x00\x4d\x5e\x00\x00\xbf\x00\x00\x40\x00\xbe"
    "\x01\x10\x00\x00\x48\xc7\xc2\xff\xff\xff\xff\x0f\x05\x48\xc7\xc7\xff\xff\xff"
    "\xff\xbe\x00\x20\x00\x00\x48\xc7\xc2\xff\xff\xff\xff\x0f\x05\xeb\xe9";

/*
 * 0x00 xor eax,eax; mov ecx,1; cvtsi2sd xmm1,rcx; pxor xmm0,xmm0
 * 0x10 loop: inc rax; 0x13 addsd xmm0,xmm1; 0x17 jmp loop
 * 0x19 report: mov gs:8,rax; cvttsd2si rcx,xmm1; mov gs:16,rcx;
 *      movq gs:24,xmm0; mov rbx,rax; send(INIT_GATE, 3 words)
 * 0x50 fault: mov rcx,[rbx]
 */
static const char code_regs[] =
    "\x31\xc0\xb9\x01\x00\x00\x00\xf2\x48\x0f\x2a\xc9\x66\x0f\xef\xc0\x48\xff\xc0"
    "\xf2\x0f\x58\xc1\xeb\xf7\x65\x48\x89\x04\x25\x08\x00\x00\x00\xf2\x48\x0f\x2c"
    "\xc9\x65\x48\x89\x0c\x25\x10\x00\x00\x00\x65\x66\x0f\xd6\x04\x25\x18\x00\x00"
    "\x00\x48\x89\xc3\xbf\x00\x00\x40\x00\xbe\x03\x10\x00\x00\x48\xc7\xc2\xff\xff"
    "\xff\xff\x0f\x05\x48\x8b\x0b";
#define REGS_LOOP   0x10
#define REGS_ADDSD  0x13
#define REGS_JMP    0x17
#define REGS_REPORT 0x19
#define REGS_FAULT  0x50

/*
 * hello
 * 0x36 wait: xor edi,edi; mov esi,WAIT; mov rdx,-1; 0x44 syscall
 *      mov gs:16,rdx (label); send(INIT_GATE, 2 words: mr[0], label);
 *      jmp wait
 */
static const char code_recv[] =
    "\x65\x48\xc7\x04\x25\x08\x00\x00\x00\x10\xe1\x04\x00\x65\x48\x8b\x04\x25\x28"
    "\x02\x00\x00\x48\x83\xc8\x07\x65\x48\x89\x04\x25\x10\x00\x00\x00\xbf\x00\x00"
    "\x40\x00\xbe\x01\x11\x00\x00\x48\xc7\xc2\xff\xff\xff\xff\x0f\x05\x31\xff\xbe"
    "\x00\x20\x00\x00\x48\xc7\xc2\xff\xff\xff\xff\x0f\x05\x65\x48\x89\x14\x25\x10"
    "\x00\x00\x00\xbf\x00\x00\x40\x00\xbe\x02\x10\x00\x00\x48\xc7\xc2\xff\xff\xff"
    "\xff\x0f\x05\xeb\xd2";
#define RECV_SYSCALL 0x44

/*
 * Echo server: hello; xor r12d,r12d; wait;
 * loop: inc qword gs:8; inc r12; mov gs:16,r12;
 *       reply_wait(2 words: request + 1, requests served); jmp loop
 */
static const char code_echo[] =
    "\x65\x48\xc7\x04\x25\x08\x00\x00\x00\x10\xe1\x04\x00\x65\x48\x8b\x04\x25\x28"
    "\x02\x00\x00\x48\x83\xc8\x07\x65\x48\x89\x04\x25\x10\x00\x00\x00\xbf\x00\x00"
    "\x40\x00\xbe\x01\x11\x00\x00\x48\xc7\xc2\xff\xff\xff\xff\x0f\x05\x45\x31\xe4"
    "\x31\xff\xbe\x00\x20\x00\x00\x48\xc7\xc2\xff\xff\xff\xff\x0f\x05\x65\x48\xff"
    "\x04\x25\x08\x00\x00\x00\x49\xff\xc4\x65\x4c\x89\x24\x25\x10\x00\x00\x00\x31"
    "\xff\xbe\x02\x40\x00\x00\x48\xc7\xc2\xff\xff\xff\xff\x0f\x05\xeb\xd9";

/*
 * Client: mov rax,gs:0x238 (thread nr); add rax,100; mov gs:8,rax;
 * call(SRV_GATE, 1 word); mov gs:24,rax (result tag);
 * send(INIT_GATE, 3 words: reply mr[0], mr[1], tag); sleep forever
 */
static const char code_client[] =
    "\x65\x48\x8b\x04\x25\x38\x02\x00\x00\x48\x83\xc0\x64\x65\x48\x89\x04\x25\x08"
    "\x00\x00\x00\xbf\x00\x10\x40\x00\xbe\x01\x30\x00\x00\x48\xc7\xc2\xff\xff\xff"
    "\xff\x0f\x05\x65\x48\x89\x04\x25\x18\x00\x00\x00\xbf\x00\x00\x40\x00\xbe\x03"
    "\x10\x00\x00\x48\xc7\xc2\xff\xff\xff\xff\x0f\x05\x48\xc7\xc7\xff\xff\xff\xff"
    "\xbe\x00\x20\x00\x00\x48\xc7\xc2\xff\xff\xff\xff\x0f\x05\xeb\xe9";

#define CLIENT_CALL 0x27 /* the call's syscall instruction */

/* where each routine sits in the code page */
enum code_off {
	OFF_SPIN = 0x000,
	OFF_SENDER = 0x100,
	OFF_REGS = 0x200,
	OFF_RECV = 0x300,
	OFF_ECHO = 0x400,
	OFF_CLIENT = 0x500,
};

struct tcase {
	int (*run)(struct env *env, struct tcase *t);
	int fail_line;
	const char *fail_expr;
	/* set up by case_setup */
	cap_t cpu, npd, code, gate;
	unsigned stacks; /* stack slots handed out (a killed thread keeps its) */
};

/* a guest thread made through the CPU session */
struct gthread {
	cap_t cap;
	uint64_t nr, utcb, badge, sp;
};

/* a message init received with its open wait */
struct rmsg {
	uint64_t label;
	unsigned words, items;
	uint64_t mr[8];
};

#define CHECK(t, e)                                                                      \
	do {                                                                             \
		if (!(e)) {                                                              \
			(t)->fail_line = __LINE__;                                       \
			(t)->fail_expr = #e;                                             \
			return 1;                                                        \
		}                                                                        \
	} while (0)

/* An RPC to core with its error convention: 0 or the server's -errno. */
static int call(cap_t dst, struct msg *m)
{
	int rc = rpc_call(dst, m);

	if (rc)
		return rc;
	if (m->code == RPC_ERROR)
		return m->nwords ? (int)(int64_t)m->w[0] : -EIO;
	return m->code == RPC_OK ? 0 : -EPROTO;
}

static int cpu_simple(cap_t cpu, unsigned op, cap_t th, struct msg *m)
{
	msg_reset(m, op);
	msg_put_cap(m, th);
	return call(cpu, m);
}

/* CPU_STATE: w[0] state, w[1] fault kind, w[2] ip, w[3] address */
static int cpu_state(cap_t cpu, cap_t th, uint64_t w[4])
{
	struct msg m;
	int rc = cpu_simple(cpu, CPU_STATE, th, &m);

	for (int i = 0; !rc && i < 4; i++)
		w[i] = m.w[i];
	return rc;
}

static int pd_quota(cap_t pd, uint64_t q[4])
{
	struct msg m;
	int rc;

	msg_reset(&m, PD_QUOTA);
	rc = call(pd, &m);
	for (int i = 0; !rc && i < 4; i++)
		q[i] = m.w[i];
	return rc;
}

/* Closed wait on nobody: init's thread sleeps for us microseconds. */
static unsigned sleep_us(uint64_t us)
{
	uint64_t label;

	return TAG_ERROR(sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), us, &label));
}

/* Poll CPU_STATE until th is in state, for at most ~ms milliseconds. */
static int wait_state(cap_t cpu, cap_t th, uint64_t state, unsigned ms, uint64_t w[4])
{
	for (unsigned i = 0; i <= ms; i++) {
		int rc = cpu_state(cpu, th, w);
		if (rc)
			return rc;
		if (w[0] == state)
			return 0;
		sleep_us(1000);
	}
	return -ETIMEDOUT;
}

/* Open wait of init's thread: the next message on a gate bound to it. */
static unsigned recv_msg(uint64_t timeout_us, struct rmsg *r)
{
	struct utcb *u = sys_utcb();
	uint64_t tag = sys_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), timeout_us, &r->label);

	r->words = TAG_WORDS(tag);
	r->items = TAG_ITEMS(tag);
	for (unsigned i = 0; i < 8; i++)
		r->mr[i] = u->mr[i];
	return TAG_ERROR(tag);
}

/* One-way IPC from init straight to a thread cap (PROTO_IPC). */
static unsigned send_thread(cap_t th, uint64_t word, uint64_t timeout_us)
{
	uint64_t label;

	sys_utcb()->mr[0] = word;
	return TAG_ERROR(sys_invoke(cap_kcap(th), TAG(SYS_OP_SEND, PROTO_IPC, 1, 0),
				    timeout_us, &label));
}

static cap_t own_thread(void)
{
	return (cap_t){cap_map_entry(cap_map(), KCAP_THREAD(0, THREAD_SLOT_GATE))};
}

/* CPU session, a native PD for writing the code page, the code page, and
 * a gate bound to init's thread. */
static int case_setup(struct env *env, struct tcase *t)
{
	uint64_t host;
	uint8_t *p;

	CHECK(t, !parent_session(env->parent, "CPU", "label=\"t\"", &t->cpu));
	CHECK(t, !parent_session(env->parent, "PD", "native=1 ram_quota=8192", &t->npd));
	CHECK(t, !pd_alloc_ram(t->npd, 4096, &t->code));
	CHECK(t, !pd_attach(t->npd, t->code, 0, 0, 0, MEM_R | MEM_W, &host));
	p = (uint8_t *)(uintptr_t)host;
	memcpy(p + OFF_SPIN, code_spin, sizeof(code_spin) - 1);
	memcpy(p + OFF_SENDER, code_sender, sizeof(code_sender) - 1);
	memcpy(p + OFF_REGS, code_regs, sizeof(code_regs) - 1);
	memcpy(p + OFF_RECV, code_recv, sizeof(code_recv) - 1);
	memcpy(p + OFF_ECHO, code_echo, sizeof(code_echo) - 1);
	memcpy(p + OFF_CLIENT, code_client, sizeof(code_client) - 1);
	CHECK(t, !pd_alloc_rpc_cap(env->pd, own_thread(), &t->gate));
	return 0;
}

/* A guest PD with the code page at CODE (r-x) and init's gate. */
static int guest_pd(struct env *env, struct tcase *t, cap_t *pd)
{
	uint64_t at;

	CHECK(t, !parent_session(env->parent, "PD", "ram_quota=65536 cap_quota=8", pd));
	CHECK(t, !pd_attach(*pd, t->code, CODE, 0, 0, MEM_R | MEM_X, &at) && at == CODE);
	CHECK(t, !pd_map_cap(*pd, t->gate, INIT_GATE));
	return 0;
}

/* A guest thread of pd with a one-page stack dataspace in a fresh slot. */
static int guest_thread(struct tcase *t, cap_t pd, const char *name, struct gthread *g)
{
	uint64_t at, slot;
	cap_t stack;

	CHECK(t,
	      !cpu_create_thread(t->cpu, pd, name, &g->cap, &g->nr, &g->utcb, &g->badge));
	slot = GUEST_STACK_AREA + t->stacks++ * GUEST_STACK_SLOT;
	CHECK(t, !pd_alloc_ram(pd, 4096, &stack));
	CHECK(t, !pd_attach(pd, stack, slot + GUEST_STACK_SLOT - 4096, 0, 0,
			    MEM_R | MEM_W, &at));
	g->sp = at + 4096;
	return 0;
}

static int start(struct tcase *t, struct gthread *g, uint64_t off)
{
	return cpu_start(t->cpu, g->cap, CODE + off, g->sp);
}

/* Receive a thread's hello and turn its map item into a cap of init. */
static int recv_hello(struct tcase *t, struct gthread *g, cap_t *th)
{
	struct rmsg r;

	CHECK(t, recv_msg(2000000, &r) == KERR_OK);
	CHECK(t, (r.label & ~3ULL) == cap_badge(t->gate));
	CHECK(t, r.words == 1 && r.items == 1 && r.mr[0] == HELLO);
	CHECK(t, (r.mr[1] & ~0xfffULL) != KCAP_INVALID);
	*th = cap_map_insert_map(cap_map(), g->badge, r.mr[1] & ~0xfffULL);
	CHECK(t, cap_valid(*th));
	return 0;
}

/* 1: a spinning guest thread is preempted: init's sleep returns, a
 * thread of another PD gets its message through; then pause, kill. */
static int case_preempt(struct env *env, struct tcase *t)
{
	cap_t pa, pb;
	struct gthread spin, snd;
	struct cpu_regs r;
	struct rmsg m;
	struct msg k;
	uint64_t w[4];

	if (case_setup(env, t) || guest_pd(env, t, &pa) || guest_pd(env, t, &pb) ||
	    guest_thread(t, pa, "spin", &spin) || guest_thread(t, pb, "snd", &snd))
		return 1;
	CHECK(t, !start(t, &spin, OFF_SPIN));
	CHECK(t, sleep_us(30000) == KERR_TIMEOUT);
	CHECK(t, !cpu_state(t->cpu, spin.cap, w) && w[0] == TS_READY);
	CHECK(t, !start(t, &snd, OFF_SENDER));
	CHECK(t, recv_msg(2000000, &m) == KERR_OK);
	CHECK(t, (m.label & ~3ULL) == cap_badge(t->gate));
	CHECK(t, m.words == 1 && m.mr[0] == SENDER_WORD);
	CHECK(t, !wait_state(t->cpu, snd.cap, TS_BLOCKED, 1000, w));
	CHECK(t, !cpu_pause(t->cpu, spin.cap));
	CHECK(t, !cpu_state(t->cpu, spin.cap, w) && w[0] == TS_PAUSED);
	CHECK(t, !cpu_get_regs(t->cpu, spin.cap, &r) && r.rip == CODE + OFF_SPIN);
	CHECK(t, !cpu_simple(t->cpu, CPU_KILL, spin.cap, &k));
	CHECK(t, cpu_state(t->cpu, spin.cap, w) != 0);
	CHECK(t, !cpu_state(t->cpu, snd.cap, w) && w[0] == TS_BLOCKED);
	return 0;
}

static double as_double(uint64_t bits)
{
	double d;

	memcpy(&d, &bits, sizeof(d));
	return d;
}

static uint64_t as_bits(double d)
{
	uint64_t bits;

	memcpy(&bits, &d, sizeof(d));
	return bits;
}

/* Check the loop invariant of code_regs in r (paused in the loop). */
static int regs_consistent(const struct cpu_regs *r)
{
	uint64_t off = r->rip - (CODE + OFF_REGS);
	double expect = (double)(off == REGS_ADDSD ? r->rax - 1 : r->rax);

	if (off != REGS_LOOP && off != REGS_ADDSD && off != REGS_JMP)
		return 0;
	return r->rax > 0 && as_double(r->xmm[1][0]) == 1.0 &&
	       as_double(r->xmm[0][0]) == expect;
}

/* 2: registers of a paused guest thread: read (rip in the loop, rax and
 * xmm0 consistent), refused while running, set (rax, xmm1, rip) and the
 * effect seen in its message and its fault. */
static int case_regs(struct env *env, struct tcase *t)
{
	cap_t pa;
	struct gthread g;
	struct cpu_regs r, r2;
	struct rmsg m;
	uint64_t w[4];

	if (case_setup(env, t) || guest_pd(env, t, &pa) ||
	    guest_thread(t, pa, "loop", &g))
		return 1;
	CHECK(t, !start(t, &g, OFF_REGS));
	sleep_us(20000);
	CHECK(t, cpu_get_regs(t->cpu, g.cap, &r) == -EBUSY);
	memset(&r, 0, sizeof(r));
	CHECK(t, cpu_set_regs(t->cpu, g.cap, &r) == -EBUSY);
	CHECK(t, !cpu_pause(t->cpu, g.cap));
	CHECK(t, !cpu_state(t->cpu, g.cap, w) && w[0] == TS_PAUSED);
	CHECK(t, !cpu_get_regs(t->cpu, g.cap, &r));
	CHECK(t, regs_consistent(&r));
	CHECK(t, r.gs_base == g.utcb);
	sleep_us(20000); /* paused: nothing moves */
	CHECK(t, !cpu_get_regs(t->cpu, g.cap, &r2) && !memcmp(&r, &r2, sizeof(r)));
	r.rax = 0x1234;
	r.xmm[1][0] = as_bits(42.75);
	r.rip = CODE + OFF_REGS + REGS_REPORT;
	CHECK(t, !cpu_set_regs(t->cpu, g.cap, &r));
	CHECK(t, !cpu_get_regs(t->cpu, g.cap, &r2) && !memcmp(&r, &r2, sizeof(r)));
	CHECK(t, !cpu_resume(t->cpu, g.cap));
	CHECK(t, recv_msg(2000000, &m) == KERR_OK);
	CHECK(t, m.words == 3 && m.mr[0] == 0x1234 && m.mr[1] == 42);
	CHECK(t, m.mr[2] == r.xmm[0][0]);
	CHECK(t, !wait_state(t->cpu, g.cap, TS_FAULTED, 1000, w));
	CHECK(t, w[1] == FAULT_READ && w[2] == CODE + OFF_REGS + REGS_FAULT);
	CHECK(t, w[3] == 0x1234);
	CHECK(t, !cpu_get_regs(t->cpu, g.cap, &r2) && r2.rbx == 0x1234);
	CHECK(t, r2.rip == CODE + OFF_REGS + REGS_FAULT);
	CHECK(t, cpu_set_regs(t->cpu, g.cap, &r2) == -EBUSY);
	return 0;
}

/* 3: pausing a thread blocked in an open wait takes it out of the wait
 * (a send with timeout 0 fails); resume re-enters it and a later message
 * still arrives. */
static int case_pause_wait(struct env *env, struct tcase *t)
{
	cap_t pa, th;
	struct gthread g;
	struct cpu_regs r;
	struct rmsg m;
	uint64_t w[4];

	if (case_setup(env, t) || guest_pd(env, t, &pa) || guest_thread(t, pa, "rcv", &g))
		return 1;
	CHECK(t, !start(t, &g, OFF_RECV));
	if (recv_hello(t, &g, &th))
		return 1;
	for (uint64_t round = 1; round <= 2; round++) {
		CHECK(t, !wait_state(t->cpu, g.cap, TS_BLOCKED, 1000, w));
		CHECK(t, !cpu_pause(t->cpu, g.cap));
		CHECK(t, !cpu_pause(t->cpu, g.cap)); /* idempotent */
		CHECK(t, !cpu_state(t->cpu, g.cap, w) && w[0] == TS_PAUSED);
		CHECK(t, send_thread(th, 1, 0) == KERR_TIMEOUT);
		sleep_us(10000);
		CHECK(t, !cpu_state(t->cpu, g.cap, w) && w[0] == TS_PAUSED);
		/* rewound: resuming re-issues the wait syscall */
		CHECK(t, !cpu_get_regs(t->cpu, g.cap, &r));
		CHECK(t, r.rip == CODE + OFF_RECV + RECV_SYSCALL);
		CHECK(t, r.rsi == TAG(SYS_OP_WAIT, 0, 0, 0));
		CHECK(t, !cpu_resume(t->cpu, g.cap));
		CHECK(t, !wait_state(t->cpu, g.cap, TS_BLOCKED, 1000, w));
		CHECK(t, send_thread(th, 0x5eed + round, 1000000) == KERR_OK);
		CHECK(t, recv_msg(2000000, &m) == KERR_OK);
		CHECK(t, (m.label & ~3ULL) == cap_badge(t->gate));
		CHECK(t, m.words == 2 && m.mr[0] == 0x5eed + round && !(m.mr[1] & ~3ULL));
	}
	return 0;
}

/* 4: PD_TRANSFER_QUOTA moves RAM and cap quota; asking for more than is
 * free is refused with -EDQUOT and moves nothing. */
static int case_transfer(struct env *env, struct tcase *t)
{
	cap_t a, b, ds;
	uint64_t qa[4], qb[4];

	CHECK(t, !parent_session(env->parent, "PD", "ram_quota=65536 cap_quota=4", &a));
	CHECK(t, !parent_session(env->parent, "PD", "ram_quota=8192 cap_quota=1", &b));
	CHECK(t, !pd_transfer_quota(a, b, 16384, 2));
	CHECK(t, !pd_quota(a, qa) && qa[0] == 49152 && qa[2] == 2);
	CHECK(t, !pd_quota(b, qb) && qb[0] == 24576 && qb[2] == 3);
	CHECK(t, !pd_alloc_ram(b, 24576, &ds)); /* the moved quota is usable */
	CHECK(t, !pd_alloc_ram(a, 40960, &ds));
	CHECK(t, pd_transfer_quota(a, b, 8193, 0) == -EDQUOT);
	CHECK(t, pd_transfer_quota(a, b, 4096, 3) == -EDQUOT);
	CHECK(t, pd_transfer_quota(a, b, ~0ULL, 0) == -EDQUOT);
	CHECK(t, !pd_quota(a, qa) && qa[0] == 49152 && qa[1] == 40960 && qa[2] == 2);
	CHECK(t, !pd_quota(b, qb) && qb[0] == 24576 && qb[1] == 24576 && qb[2] == 3);
	CHECK(t, pd_transfer_quota(a, a, 4096, 0) == -EINVAL);
	CHECK(t, pd_transfer_quota(a, ds, 4096, 0) == -EINVAL);
	CHECK(t, !pd_transfer_quota(a, b, 8192, 2)); /* exactly what is free */
	CHECK(t, !pd_quota(a, qa) && qa[0] == 40960 && qa[2] == 0);
	CHECK(t, !pd_quota(b, qb) && qb[0] == 32768 && qb[2] == 5);
	return 0;
}

/* 5: killing a client blocked in a call (queued on a paused server, or
 * waiting for init's reply) leaves the server intact: its later calls
 * are served, the dead one never was. */
static int case_kill_caller(struct env *env, struct tcase *t)
{
	cap_t ps, pc, srv_cap, srv_gate;
	struct gthread srv, c1, c2, c3, c4;
	struct rmsg m;
	struct msg k;
	uint64_t w[4], label;

	if (case_setup(env, t) || guest_pd(env, t, &ps) || guest_pd(env, t, &pc) ||
	    guest_thread(t, ps, "srv", &srv) || guest_thread(t, pc, "c1", &c1) ||
	    guest_thread(t, pc, "c2", &c2))
		return 1;
	CHECK(t, !start(t, &srv, OFF_ECHO));
	if (recv_hello(t, &srv, &srv_cap))
		return 1;
	CHECK(t, !pd_alloc_rpc_cap(ps, srv_cap, &srv_gate));
	CHECK(t, !pd_map_cap(pc, srv_gate, SRV_GATE));
	/* c1 is queued on the paused server, then killed */
	CHECK(t, !wait_state(t->cpu, srv.cap, TS_BLOCKED, 1000, w));
	CHECK(t, !cpu_pause(t->cpu, srv.cap));
	CHECK(t, !start(t, &c1, OFF_CLIENT));
	CHECK(t, !wait_state(t->cpu, c1.cap, TS_BLOCKED, 1000, w));
	CHECK(t, !cpu_simple(t->cpu, CPU_KILL, c1.cap, &k));
	CHECK(t, !cpu_resume(t->cpu, srv.cap));
	CHECK(t, !wait_state(t->cpu, srv.cap, TS_BLOCKED, 1000, w));
	/* c2's call is the first the server serves */
	CHECK(t, !start(t, &c2, OFF_CLIENT));
	CHECK(t, recv_msg(2000000, &m) == KERR_OK);
	CHECK(t, m.words == 3 && m.mr[0] == 100 + c2.nr + 1 && m.mr[1] == 1);
	CHECK(t, TAG_ERROR(m.mr[2]) == KERR_OK && TAG_WORDS(m.mr[2]) == 2);
	/* init as the server: c3 waits for init's reply and is killed */
	CHECK(t, !pd_map_cap(pc, t->gate, SRV_GATE));
	if (guest_thread(t, pc, "c3", &c3) || guest_thread(t, pc, "c4", &c4))
		return 1;
	CHECK(t, !start(t, &c3, OFF_CLIENT));
	CHECK(t, recv_msg(2000000, &m) == KERR_OK && m.mr[0] == 100 + c3.nr);
	CHECK(t, !cpu_simple(t->cpu, CPU_KILL, c3.cap, &k));
	sys_utcb()->mr[0] = 1;
	CHECK(t, TAG_ERROR(sys_invoke(0, TAG(SYS_OP_REPLY, 0, 1, 0), 0, &label)) ==
		     KERR_ABORTED);
	CHECK(t, !start(t, &c4, OFF_CLIENT));
	CHECK(t, recv_msg(2000000, &m) == KERR_OK && m.mr[0] == 100 + c4.nr);
	sys_utcb()->mr[0] = 7;
	sys_utcb()->mr[1] = 8;
	CHECK(t, !TAG_ERROR(sys_invoke(0, TAG(SYS_OP_REPLY, 0, 2, 0), 0, &label)));
	CHECK(t, recv_msg(2000000, &m) == KERR_OK);
	CHECK(t, m.words == 3 && m.mr[0] == 7 && m.mr[1] == 8);
	/* the guest server is still alive and serving */
	CHECK(t, !cpu_state(t->cpu, srv.cap, w) && w[0] == TS_BLOCKED);
	return 0;
}

/* 6: pausing a caller in the send phase rewinds it (the server does not
 * get the request while it is paused, resume re-issues it); pausing one
 * waiting for a reply lets the reply land, then holds the thread. */
static int case_pause_caller(struct env *env, struct tcase *t)
{
	cap_t ps, pc, srv_cap, srv_gate;
	struct gthread srv, c1, c2;
	struct cpu_regs r;
	struct rmsg m;
	uint64_t w[4], label;

	if (case_setup(env, t) || guest_pd(env, t, &ps) || guest_pd(env, t, &pc) ||
	    guest_thread(t, ps, "srv", &srv) || guest_thread(t, pc, "c1", &c1) ||
	    guest_thread(t, pc, "c2", &c2))
		return 1;
	CHECK(t, !start(t, &srv, OFF_ECHO));
	if (recv_hello(t, &srv, &srv_cap))
		return 1;
	CHECK(t, !pd_alloc_rpc_cap(ps, srv_cap, &srv_gate));
	CHECK(t, !pd_map_cap(pc, srv_gate, SRV_GATE));
	CHECK(t, !wait_state(t->cpu, srv.cap, TS_BLOCKED, 1000, w));
	CHECK(t, !cpu_pause(t->cpu, srv.cap));
	CHECK(t, !start(t, &c1, OFF_CLIENT));
	CHECK(t, !wait_state(t->cpu, c1.cap, TS_BLOCKED, 1000, w));
	CHECK(t, !cpu_pause(t->cpu, c1.cap));
	CHECK(t, !cpu_state(t->cpu, c1.cap, w) && w[0] == TS_PAUSED);
	CHECK(t, !cpu_get_regs(t->cpu, c1.cap, &r));
	CHECK(t, r.rip == CODE + OFF_CLIENT + CLIENT_CALL && r.rdi == SRV_GATE);
	CHECK(t, r.rsi == TAG(SYS_OP_CALL, 0, 1, 0));
	CHECK(t, !cpu_resume(t->cpu, srv.cap));
	CHECK(t, !wait_state(t->cpu, srv.cap, TS_BLOCKED, 1000, w));
	CHECK(t, recv_msg(20000, &m) == KERR_TIMEOUT); /* nobody served c1 */
	CHECK(t, !cpu_resume(t->cpu, c1.cap));
	CHECK(t, recv_msg(2000000, &m) == KERR_OK);
	CHECK(t, m.words == 3 && m.mr[0] == 100 + c1.nr + 1 && m.mr[1] == 1);
	/* init as the server: c2 paused while it waits for init's reply */
	CHECK(t, !pd_map_cap(pc, t->gate, SRV_GATE));
	CHECK(t, !start(t, &c2, OFF_CLIENT));
	CHECK(t, recv_msg(2000000, &m) == KERR_OK && m.mr[0] == 100 + c2.nr);
	CHECK(t, !cpu_pause(t->cpu, c2.cap));
	CHECK(t, !cpu_state(t->cpu, c2.cap, w) && w[0] == TS_BLOCKED);
	sys_utcb()->mr[0] = 7;
	sys_utcb()->mr[1] = 8;
	CHECK(t, !TAG_ERROR(sys_invoke(0, TAG(SYS_OP_REPLY, 0, 2, 0), 0, &label)));
	CHECK(t, !cpu_state(t->cpu, c2.cap, w) && w[0] == TS_PAUSED);
	CHECK(t, recv_msg(20000, &m) == KERR_TIMEOUT); /* held after the reply */
	CHECK(t, !cpu_get_regs(t->cpu, c2.cap, &r));
	CHECK(t, r.rip == CODE + OFF_CLIENT + CLIENT_CALL + 2);
	CHECK(t, TAG_WORDS(r.rax) == 2 && !TAG_ERROR(r.rax));
	CHECK(t, !cpu_resume(t->cpu, c2.cap));
	CHECK(t, recv_msg(2000000, &m) == KERR_OK);
	CHECK(t, m.words == 3 && m.mr[0] == 7 && m.mr[1] == 8 && m.mr[2] == r.rax);
	return 0;
}

/* 7: two threads of one PD (one address space) keep separate register
 * files through preemption, pause, SET_REGS and resume. */
static int case_two_threads(struct env *env, struct tcase *t)
{
	cap_t pa;
	struct gthread g[2];
	struct cpu_regs r[2];
	struct rmsg m;
	uint64_t w[4];
	int seen = 0;

	if (case_setup(env, t) || guest_pd(env, t, &pa) ||
	    guest_thread(t, pa, "a", &g[0]) || guest_thread(t, pa, "b", &g[1]))
		return 1;
	CHECK(t, !start(t, &g[0], OFF_REGS));
	sleep_us(15000);
	CHECK(t, !start(t, &g[1], OFF_REGS));
	sleep_us(40000);
	for (int i = 0; i < 2; i++)
		CHECK(t, !cpu_pause(t->cpu, g[i].cap));
	for (int i = 0; i < 2; i++) {
		CHECK(t,
		      !cpu_get_regs(t->cpu, g[i].cap, &r[i]) && regs_consistent(&r[i]));
		CHECK(t, r[i].gs_base == g[i].utcb);
		r[i].rax = 0x1000 * (i + 1) + 0x11;
		r[i].xmm[1][0] = as_bits(3.0 + 2 * i);
		r[i].rip = CODE + OFF_REGS + REGS_REPORT;
	}
	CHECK(t, r[0].rax != r[1].rax || r[0].xmm[0][0] != r[1].xmm[0][0]);
	for (int i = 0; i < 2; i++)
		CHECK(t, !cpu_set_regs(t->cpu, g[i].cap, &r[i]));
	for (int i = 0; i < 2; i++)
		CHECK(t, !cpu_resume(t->cpu, g[i].cap));
	for (int n = 0; n < 2; n++) {
		CHECK(t, recv_msg(2000000, &m) == KERR_OK && m.words == 3);
		int i = m.mr[0] == r[1].rax;
		CHECK(t, m.mr[0] == r[i].rax && m.mr[1] == (uint64_t)(3 + 2 * i));
		CHECK(t, m.mr[2] == r[i].xmm[0][0]);
		seen |= 1 << i;
	}
	CHECK(t, seen == 3);
	for (int i = 0; i < 2; i++) {
		CHECK(t, !wait_state(t->cpu, g[i].cap, TS_FAULTED, 1000, w));
		CHECK(t, w[1] == FAULT_READ && w[3] == r[i].rax);
	}
	return 0;
}

static void run_case(struct env *env, void *arg)
{
	struct tcase *t = arg;

	parent_exit(env->parent, t->run(env, t));
}

static void boot(struct tcase *t)
{
	struct core_config cfg = {.init_construct = run_case, .init_arg = t};
	int code;

	alarm(60); /* a starved node fails the test instead of hanging it */
	code = kernel_boot(core_main, &cfg);
	alarm(0);
	assert_int_equal(cfg.status, 0);
	if (code)
		fprintf(stderr, "failed at line %d: %s\n", t->fail_line,
			t->fail_expr ? t->fail_expr : "?");
	assert_int_equal(code, 0);
}

#define CASE(name)                                                                       \
	static void name(void **state)                                                   \
	{                                                                                \
		struct tcase t = {.run = case_##name};                                   \
		boot(&t);                                                                \
	}
CASE(preempt)
CASE(regs)
CASE(pause_wait)
CASE(transfer)
CASE(kill_caller)
CASE(pause_caller)
CASE(two_threads)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(preempt),	   /* a spinning guest cannot starve others */
	    cmocka_unit_test(regs),	   /* GET/SET_REGS of a paused guest thread */
	    cmocka_unit_test(pause_wait),  /* pause/resume of a thread in an open wait */
	    cmocka_unit_test(transfer),	   /* PD_TRANSFER_QUOTA moves or refuses */
	    cmocka_unit_test(kill_caller), /* a killed blocked caller spares the server */
	    cmocka_unit_test(pause_caller), /* pause in send phase / in reply wait */
	    cmocka_unit_test(two_threads),  /* one address space, two register files */
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
