/*
 * Shared by the CPU-session tests (test_cpu_session.c, test_cpu_calls.c):
 * each case boots a node whose init is a native function of the test.  It
 * creates guest PDs (code in a RAM dataspace attached executable, a stack
 * dataspace per thread, init's own gate mapped at INIT_GATE) and guest
 * threads through the CPU session, and talks to them with raw IPC: the
 * guest code below sends on INIT_GATE, init receives with an open wait on
 * its own thread.  A case's checks run inside the node; the first failing
 * one is reported after kernel_boot.
 *
 * Guest code (hand-assembled, Intel syntax; gs:0 is the UTCB, so mr[i] is
 * gs:8+8i, tcr[TCR_THREAD_KCAP] gs:0x278, tcr[TCR_THREAD_NR] gs:0x288).
 * "hello" sends mr[0] = HELLO and the thread's own kernel thread cap as a
 * map item, which gives init a cap to the guest thread.
 */
#ifndef TESTS_UNIT_CPU_GUEST_H
#define TESTS_UNIT_CPU_GUEST_H

#include <stddef.h>
#include <string.h>
#include <base/env.h>

#define INIT_GATE   KCAP(0x400) /* init's gate in every guest PD */
#define SRV_GATE    KCAP(0x401) /* the server's gate in client PDs */
#define CODE	    GUEST_IMAGE_BASE
#define HELLO	    0x4e110
#define SENDER_WORD 0x5e4d

/* the hand-assembled code below reads these two tcr words by address */
_Static_assert(offsetof(struct utcb, tcr[TCR_THREAD_KCAP]) == 0x278 &&
		   offsetof(struct utcb, tcr[TCR_THREAD_NR]) == 0x288,
	       "cpu_guest.h: guest code's UTCB offsets");

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
    "\x65\x48\xc7\x04\x25\x08\x00\x00\x00\x10\xe1\x04\x00\x65\x48\x8b\x04\x25\x78"
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
    "\x65\x48\xc7\x04\x25\x08\x00\x00\x00\x10\xe1\x04\x00\x65\x48\x8b\x04\x25\x78"
    "\x02\x00\x00\x48\x83\xc8\x07\x65\x48\x89\x04\x25\x10\x00\x00\x00\xbf\x00\x00"
    "\x40\x00\xbe\x01\x11\x00\x00\x48\xc7\xc2\xff\xff\xff\xff\x0f\x05\x45\x31\xe4"
    "\x31\xff\xbe\x00\x20\x00\x00\x48\xc7\xc2\xff\xff\xff\xff\x0f\x05\x65\x48\xff"
    "\x04\x25\x08\x00\x00\x00\x49\xff\xc4\x65\x4c\x89\x24\x25\x10\x00\x00\x00\x31"
    "\xff\xbe\x02\x40\x00\x00\x48\xc7\xc2\xff\xff\xff\xff\x0f\x05\xeb\xd9";

/*
 * Client: mov rax,gs:0x288 (thread nr); add rax,100; mov gs:8,rax;
 * call(SRV_GATE, 1 word); mov gs:24,rax (result tag);
 * send(INIT_GATE, 3 words: reply mr[0], mr[1], tag); sleep forever
 */
static const char code_client[] =
    "\x65\x48\x8b\x04\x25\x88\x02\x00\x00\x48\x83\xc0\x64\x65\x48\x89\x04\x25\x08"
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

#define NODE_ALARM_S 60
#include "fixture_node.h"

static inline int cpu_simple(cap_t cpu, unsigned op, cap_t th, struct msg *m)
{
	msg_reset(m, op);
	msg_put_cap(m, th);
	return node_call(cpu, m);
}

/* CPU_STATE: w[0] state, w[1] fault kind, w[2] ip, w[3] address */
static inline int cpu_state(cap_t cpu, cap_t th, uint64_t w[4])
{
	struct msg m;
	int rc = cpu_simple(cpu, CPU_STATE, th, &m);

	for (int i = 0; !rc && i < 4; i++)
		w[i] = m.w[i];
	return rc;
}

/* Closed wait on nobody: init's thread sleeps for us microseconds. */
static inline unsigned sleep_us(uint64_t us)
{
	uint64_t label;

	return TAG_ERROR(sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), us, &label));
}

/* Poll CPU_STATE until th is in state, for at most ~ms milliseconds. */
static inline int wait_state(cap_t cpu, cap_t th, uint64_t state, unsigned ms,
			     uint64_t w[4])
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
static inline unsigned recv_msg(uint64_t timeout_us, struct rmsg *r)
{
	struct utcb *u = sys_utcb();
	uint64_t tag = sys_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), timeout_us, &r->label);

	r->words = TAG_WORDS(tag);
	r->items = TAG_ITEMS(tag);
	for (unsigned i = 0; i < 8; i++)
		r->mr[i] = u->mr[i];
	return TAG_ERROR(tag);
}

/* CPU session, a native PD for writing the code page, the code page, and
 * a gate bound to init's thread. */
static inline int case_setup(struct env *env, struct tcase *t)
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
	CHECK(t, !pd_alloc_rpc_cap(env->pd, node_own_thread(), &t->gate));
	return 0;
}

/* A guest PD with the code page at CODE (r-x) and init's gate. */
static inline int guest_pd(struct env *env, struct tcase *t, cap_t *pd)
{
	uint64_t at;

	CHECK(t, !parent_session(env->parent, "PD", "ram_quota=65536 cap_quota=8", pd));
	CHECK(t, !pd_attach(*pd, t->code, CODE, 0, 0, MEM_R | MEM_X, &at) && at == CODE);
	CHECK(t, !pd_map_cap(*pd, t->gate, INIT_GATE));
	return 0;
}

/* A guest thread of pd with a one-page stack dataspace in a fresh slot. */
static inline int guest_thread(struct tcase *t, cap_t pd, const char *name,
			       struct gthread *g)
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

static inline int start(struct tcase *t, struct gthread *g, uint64_t off)
{
	return cpu_start(t->cpu, g->cap, CODE + off, g->sp);
}

/* Receive a thread's hello and turn its map item into a cap of init. */
static inline int recv_hello(struct tcase *t, struct gthread *g, cap_t *th)
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

#endif
