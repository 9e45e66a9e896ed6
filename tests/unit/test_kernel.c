/*
 * The kernel through its one syscall: a node booted with kernel_boot whose
 * root thread (native, like core) creates tasks, threads, gates and irqs
 * through the factory protocol and exercises IPC.  Only native threads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>
#include <capsule/abi.h>
#include <capsule/native.h>
#include "kernel/kernel.h"

/* ---- helpers run inside the node ---------------------------------------- */

static int failed_line;
#define CHECK(c)                                                                         \
	do {                                                                             \
		if (!(c)) {                                                              \
			fprintf(stderr, "CHECK failed line %d: %s\n", __LINE__, #c);     \
			failed_line = __LINE__;                                          \
			kernel_stop(1000 + __LINE__);                                    \
		}                                                                        \
	} while (0)

#define ROOT_TASK   KCAP(FIXED_TASK)
#define ROOT_THREAD KCAP_THREAD(0, THREAD_SLOT_GATE)
#define NEVER	    SYS_TIMEOUT_NEVER

static uint64_t kcall_v(uint64_t kcap, unsigned proto, const uint64_t *w, unsigned n)
{
	struct utcb *u = kernel_native_utcb();
	uint64_t label;

	for (unsigned i = 0; i < n; i++)
		u->mr[i] = w[i];
	return kernel_native_invoke(kcap, TAG(SYS_OP_CALL, proto, n, 0), NEVER, &label);
}
#define KCALL(kcap, proto, ...)                                                          \
	kcall_v(kcap, proto, (const uint64_t[]){__VA_ARGS__},                            \
		sizeof((const uint64_t[]){__VA_ARGS__}) / sizeof(uint64_t))

/* Create an object with the factory, its cap landing at dst. */
static unsigned create(uint64_t dst, uint64_t op, uint64_t a1, uint64_t a2)
{
	kernel_native_utcb()->br[0] = dst;
	uint64_t t = KCALL(KCAP(FIXED_FACTORY), PROTO_FACTORY, op, a1, a2);
	if (!TAG_ERROR(t))
		CHECK(TAG_ITEMS(t) == 1 &&
		      kernel_native_utcb()->mr[0] == (dst | RIGHTS_ALL));
	return TAG_ERROR(t);
}

/* New native thread at kcap th in task, started at fn(arg). */
static void spawn(uint64_t task, uint64_t th, unsigned nr, native_entry_t fn, void *arg)
{
	CHECK(create(th, FACTORY_THREAD, 0, 0) == KERR_OK);
	CHECK(!TAG_ERROR(
	    KCALL(th, PROTO_THREAD, THREAD_CONTROL, task, 0, KCAP_INVALID, nr)));
	CHECK(!TAG_ERROR(KCALL(th, PROTO_THREAD, THREAD_EX_REGS, (uint64_t)(uintptr_t)fn,
			       (uint64_t)(uintptr_t)arg)));
}

static unsigned sleep_us(uint64_t us)
{
	uint64_t label;
	return TAG_ERROR(
	    kernel_native_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), us, &label));
}

static unsigned thread_state(uint64_t th)
{
	CHECK(!TAG_ERROR(KCALL(th, PROTO_THREAD, THREAD_STATE)));
	return (unsigned)kernel_native_utcb()->mr[0];
}

static int boot(native_entry_t root)
{
	failed_line = 0;
	return kernel_boot(root, NULL);
}

/* ---- an echo server in its own task ------------------------------------- */

struct echo {
	uint64_t label;	 /* label of the last request */
	unsigned served; /* requests answered */
	unsigned bad;	 /* receives that returned an error */
	uint64_t infotype, inforights;
};
static struct echo echo;

#define SRV_TASK   KCAP(0x300)
#define SRV_THREAD KCAP(0x301)
#define SRV_GATE   KCAP(0x302)
#define SRV_WINDOW KCAP(0x600)

/* Receives; answers mr[0]+mr[1], and for a map item its type and rights. */
static void echo_server(void *arg)
{
	struct utcb *u = kernel_native_utcb();
	uint64_t label, tag;

	u->br[0] = SRV_WINDOW;
	tag = kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER, &label);
	for (;;) {
		if (TAG_ERROR(tag)) {
			echo.bad++;
			tag = kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER,
						   &label);
			continue;
		}
		uint64_t sum = u->mr[0] + u->mr[1], item = TAG_ITEMS(tag) ? u->mr[2] : 0;
		echo.label = label;
		if (item) {
			/* ask our own task what arrived in the window */
			u->mr[0] = TASK_CAP_INFO;
			u->mr[1] = item & ~0xfffULL;
			kernel_native_invoke(KCAP(FIXED_TASK),
					     TAG(SYS_OP_CALL, PROTO_TASK, 2, 0), NEVER,
					     NULL);
			echo.infotype = u->mr[0];
			echo.inforights = u->mr[1];
		}
		echo.served++;
		u->mr[0] = sum;
		u->mr[1] = item;
		tag = kernel_native_invoke(0, TAG(SYS_OP_REPLY_WAIT, 0, 2, 0), NEVER,
					   &label);
	}
}

/* Task with the echo server, its own task cap mapped at FIXED_TASK, and a
 * gate labelled 0x40 bound to it at SRV_GATE. */
static void start_echo(void)
{
	echo = (struct echo){0};
	CHECK(create(SRV_TASK, FACTORY_TASK, TASK_NATIVE, 0) == KERR_OK);
	CHECK(!TAG_ERROR(KCALL(SRV_TASK, PROTO_TASK, TASK_MAP, KCAP_INVALID,
			       SRV_TASK | RIGHTS_ALL, KCAP(FIXED_TASK))));
	spawn(SRV_TASK, SRV_THREAD, 1, echo_server, NULL);
	CHECK(create(SRV_GATE, FACTORY_GATE, SRV_THREAD, 0x40) == KERR_OK);
}

static uint64_t call_echo(uint64_t gate, uint64_t a, uint64_t b, uint64_t timeout)
{
	struct utcb *u = kernel_native_utcb();
	uint64_t label;

	u->mr[0] = a;
	u->mr[1] = b;
	return kernel_native_invoke(gate, TAG(SYS_OP_CALL, 0, 2, 0), timeout, &label);
}

/* ---- cases ---------------------------------------------------------------- */

static void root_round_trip(void *arg)
{
	struct utcb *u = kernel_native_utcb();
	uint64_t tag, label;

	start_echo();
	CHECK(create(KCAP(0x310), FACTORY_IRQ, 0x77, 0) == KERR_OK);
	u->mr[0] = 20;
	u->mr[1] = 22;
	u->mr[2] = KCAP(0x310) | RIGHT_W | RIGHT_R;
	tag = kernel_native_invoke(SRV_GATE, TAG(SYS_OP_CALL, 0, 2, 1), NEVER, &label);
	CHECK(TAG_ERROR(tag) == KERR_OK && TAG_WORDS(tag) == 2);
	CHECK(u->mr[0] == 42);
	CHECK(u->mr[1] == (SRV_WINDOW | RIGHT_W | RIGHT_R));
	CHECK(echo.label == (0x40 | RIGHT_W | RIGHT_S));
	CHECK(echo.infotype == KOBJ_IRQ && echo.inforights == (RIGHT_W | RIGHT_R));
	/* a weaker cap to the same gate: the server sees the weaker label */
	CHECK(!TAG_ERROR(KCALL(ROOT_TASK, PROTO_TASK, TASK_MAP, KCAP_INVALID,
			       SRV_GATE | RIGHT_R | RIGHT_W, KCAP(0x311))));
	tag = call_echo(KCAP(0x311), 1, 2, NEVER);
	CHECK(!TAG_ERROR(tag) && u->mr[0] == 3 && echo.label == (0x40 | RIGHT_W));
	CHECK(echo.served == 2 && echo.bad == 0);
	kernel_stop(0);
}

/* call/reply with words and a map item; label = gate label | rights */
static void call_reply_round_trip(void **state)
{
	assert_int_equal(boot(root_round_trip), 0);
}

static void root_inval_cap(void *arg)
{
	start_echo();
	CHECK(TAG_ERROR(call_echo(KCAP(0x777), 1, 1, NEVER)) == KERR_INVAL_CAP);
	CHECK(TAG_ERROR(call_echo(KCAP_INVALID, 1, 1, NEVER)) == KERR_INVAL_CAP);
	/* map, then unmap with UNMAP_SELF: the copy is gone */
	CHECK(!TAG_ERROR(KCALL(ROOT_TASK, PROTO_TASK, TASK_MAP, KCAP_INVALID,
			       SRV_GATE | RIGHTS_ALL, KCAP(0x320))));
	CHECK(!TAG_ERROR(call_echo(KCAP(0x320), 1, 1, NEVER)));
	CHECK(!TAG_ERROR(
	    KCALL(ROOT_TASK, PROTO_TASK, TASK_UNMAP, KCAP(0x320), UNMAP_SELF)));
	CHECK(TAG_ERROR(call_echo(KCAP(0x320), 1, 1, NEVER)) == KERR_INVAL_CAP);
	/* revoke: a copy given to the server's task goes when the root's
	 * cap is unmapped without UNMAP_SELF */
	CHECK(!TAG_ERROR(KCALL(SRV_TASK, PROTO_TASK, TASK_MAP, KCAP_INVALID,
			       SRV_GATE | RIGHTS_ALL, KCAP(0x330))));
	CHECK(!TAG_ERROR(KCALL(SRV_TASK, PROTO_TASK, TASK_CAP_VALID, KCAP(0x330))));
	CHECK(kernel_native_utcb()->mr[0] == 1);
	CHECK(!TAG_ERROR(KCALL(ROOT_TASK, PROTO_TASK, TASK_UNMAP, SRV_GATE, 0)));
	CHECK(!TAG_ERROR(KCALL(SRV_TASK, PROTO_TASK, TASK_CAP_VALID, KCAP(0x330))));
	CHECK(kernel_native_utcb()->mr[0] == 0);
	CHECK(!TAG_ERROR(call_echo(SRV_GATE, 1, 1, NEVER)));
	/* wrong protocol for the object, missing RIGHT_S, non-root MAP_MEM */
	CHECK(TAG_ERROR(KCALL(SRV_TASK, PROTO_THREAD, THREAD_STATE)) == KERR_NOSYS);
	CHECK(TAG_ERROR(KCALL(KCAP(0x311), PROTO_GATE, GATE_INFO)) == KERR_INVAL_CAP);
	kernel_stop(0);
}

/* empty, revoked and unmapped kcaps answer KERR_INVAL_CAP */
static void invalid_caps(void **state)
{
	assert_int_equal(boot(root_inval_cap), 0);
}

static void root_timeouts(void *arg)
{
	uint64_t t0;

	/* a gate bound to a thread that never receives */
	CHECK(create(KCAP(0x340), FACTORY_THREAD, 0, 0) == KERR_OK);
	CHECK(create(KCAP(0x341), FACTORY_GATE, KCAP(0x340), 0x80) == KERR_OK);
	t0 = timeout_now();
	CHECK(TAG_ERROR(call_echo(KCAP(0x341), 0, 0, 20000)) == KERR_TIMEOUT);
	CHECK(timeout_now() - t0 >= 20000);
	CHECK(TAG_ERROR(call_echo(KCAP(0x341), 0, 0, 0)) == KERR_TIMEOUT);
	t0 = timeout_now();
	CHECK(sleep_us(10000) == KERR_TIMEOUT);
	CHECK(timeout_now() - t0 >= 10000);
	/* an open wait with nothing pending and timeout 0 returns at once */
	CHECK(TAG_ERROR(kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), 0, NULL)) ==
	      KERR_TIMEOUT);
	kernel_stop(0);
}

/* send to nobody with a timeout, sleep, poll */
static void timeouts(void **state)
{
	assert_int_equal(boot(root_timeouts), 0);
}

static unsigned irq_hits;
static void irq_waiter(void *arg)
{
	uint64_t label;

	for (;;) {
		uint64_t tag =
		    kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER, &label);
		if (!TAG_ERROR(tag) && label == 0x55)
			irq_hits++;
	}
}

static void root_irq(void *arg)
{
	uint64_t label, tag;

	CHECK(create(KCAP(0x350), FACTORY_IRQ, 0, 0) == KERR_OK);
	CHECK(!TAG_ERROR(KCALL(KCAP(0x350), PROTO_IRQ, IRQ_BIND, ROOT_THREAD, 0x99)));
	for (int i = 0; i < 3; i++)
		CHECK(!TAG_ERROR(KCALL(KCAP(0x350), PROTO_IRQ, IRQ_TRIGGER)));
	for (int i = 0; i < 3; i++) {
		tag = kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), 0, &label);
		CHECK(TAG_ERROR(tag) == KERR_OK && label == 0x99 && TAG_WORDS(tag) == 0);
	}
	tag = kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), 0, &label);
	CHECK(TAG_ERROR(tag) == KERR_TIMEOUT);
	/* a second bind is refused; unbind, then bind to a waiting thread */
	CHECK(TAG_ERROR(KCALL(KCAP(0x350), PROTO_IRQ, IRQ_BIND, ROOT_THREAD, 0x99)) ==
	      KERR_BUSY);
	CHECK(!TAG_ERROR(KCALL(KCAP(0x350), PROTO_IRQ, IRQ_UNBIND)));
	irq_hits = 0;
	spawn(ROOT_TASK, KCAP(0x351), 1, irq_waiter, NULL);
	CHECK(sleep_us(1000) == KERR_TIMEOUT);
	CHECK(!TAG_ERROR(KCALL(KCAP(0x350), PROTO_IRQ, IRQ_BIND, KCAP(0x351), 0x55)));
	for (int i = 0; i < 5; i++)
		CHECK(!TAG_ERROR(KCALL(KCAP(0x350), PROTO_IRQ, IRQ_TRIGGER)));
	CHECK(sleep_us(1000) == KERR_TIMEOUT);
	CHECK(irq_hits == 5);
	kernel_stop(0);
}

/* irq triggers count and are delivered one message each */
static void irq_counting(void **state)
{
	assert_int_equal(boot(root_irq), 0);
}

static void root_pause(void *arg)
{
	start_echo();
	CHECK(sleep_us(1000) == KERR_TIMEOUT); /* server now waits */
	CHECK(thread_state(SRV_THREAD) == TS_BLOCKED);
	CHECK(!TAG_ERROR(KCALL(SRV_THREAD, PROTO_THREAD, THREAD_PAUSE)));
	CHECK(thread_state(SRV_THREAD) == TS_PAUSED);
	/* paused: not receiving */
	CHECK(TAG_ERROR(call_echo(SRV_GATE, 1, 2, 5000)) == KERR_TIMEOUT);
	CHECK(!TAG_ERROR(KCALL(SRV_THREAD, PROTO_THREAD, THREAD_RESUME)));
	CHECK(!TAG_ERROR(call_echo(SRV_GATE, 1, 2, NEVER)));
	CHECK(kernel_native_utcb()->mr[0] == 3);
	CHECK(echo.served == 1 && echo.bad == 0); /* the receive was restarted */
	/* registers of a native thread are not available */
	CHECK(TAG_ERROR(KCALL(SRV_THREAD, PROTO_THREAD, THREAD_GET_REGS)) == KERR_NOSYS);
	kernel_stop(0);
}

/* a thread paused in its receive restarts the receive on resume */
static void pause_resume_receiver(void **state)
{
	assert_int_equal(boot(root_pause), 0);
}

static unsigned client_err = ~0u;
static void client(void *arg)
{
	uint64_t gate = (uint64_t)(uintptr_t)arg;

	client_err = TAG_ERROR(call_echo(gate, 0, 0, NEVER));
	kernel_native_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER, NULL);
}

static void silent_server(void *arg)
{
	for (;;)
		kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER, NULL);
}

static void root_abort(void *arg)
{
	/* server takes the call and never replies; its task then dies */
	CHECK(create(KCAP(0x360), FACTORY_TASK, TASK_NATIVE, 0) == KERR_OK);
	spawn(KCAP(0x360), KCAP(0x361), 1, silent_server, NULL);
	CHECK(create(KCAP(0x362), FACTORY_GATE, KCAP(0x361), 0x10) == KERR_OK);
	spawn(ROOT_TASK, KCAP(0x363), 1, client, (void *)(uintptr_t)KCAP(0x362));
	CHECK(sleep_us(1000) == KERR_TIMEOUT);
	CHECK(thread_state(KCAP(0x363)) == TS_BLOCKED && client_err == ~0u);
	CHECK(!TAG_ERROR(
	    KCALL(ROOT_TASK, PROTO_TASK, TASK_UNMAP, KCAP(0x360), UNMAP_SELF)));
	CHECK(sleep_us(1000) == KERR_TIMEOUT);
	CHECK(client_err == KERR_ABORTED);
	CHECK(thread_state(KCAP(0x361)) == TS_DEAD);
	CHECK(TAG_ERROR(call_echo(KCAP(0x362), 0, 0, NEVER)) == KERR_ABORTED);

	/* a sender still queued at a thread that is destroyed */
	client_err = ~0u;
	CHECK(create(KCAP(0x370), FACTORY_THREAD, 0, 0) == KERR_OK);
	CHECK(create(KCAP(0x371), FACTORY_GATE, KCAP(0x370), 0x20) == KERR_OK);
	spawn(ROOT_TASK, KCAP(0x372), 2, client, (void *)(uintptr_t)KCAP(0x371));
	CHECK(sleep_us(1000) == KERR_TIMEOUT);
	CHECK(client_err == ~0u);
	CHECK(!TAG_ERROR(
	    KCALL(ROOT_TASK, PROTO_TASK, TASK_UNMAP, KCAP(0x370), UNMAP_SELF)));
	CHECK(sleep_us(1000) == KERR_TIMEOUT);
	CHECK(client_err == KERR_ABORTED);
	kernel_stop(0);
}

/* destroying a task or thread aborts the partners waiting on it */
static void destroy_aborts_partner(void **state)
{
	assert_int_equal(boot(root_abort), 0);
}

static void root_stop(void *arg)
{
	kernel_stop(42);
	CHECK(0); /* not reached */
}

/* kernel_boot returns kernel_stop's code; a node boots twice in a process */
static void stop_code_and_reboot(void **state)
{
	assert_int_equal(boot(root_stop), 42);
	assert_int_equal(boot(root_stop), 42);
}

static void root_deadlock(void *arg)
{
	kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER, NULL);
}

/* nothing runnable, nothing pending: kernel_boot reports -1 */
static void deadlock_detected(void **state)
{
	assert_int_equal(boot(root_deadlock), -1);
	assert_int_equal(failed_line, 0);
}

/* ---- a guest thread (Unicorn backend) ---------------------------------- */

/* Guest code, copied to GUEST_IMAGE_BASE: mr[0] = 7 through %gs (the
 * UTCB), CALL the gate at kcap 0x300000, keep reply word and result tag
 * in rbx / r13, then write to an unmapped address. */
extern const unsigned char guest_code_start[], guest_code_end[];
__asm__(".pushsection .rodata\n"
	"guest_code_start:\n"
	"	mov %gs:0, %r12\n"
	"	movq $7, 8(%r12)\n"
	"	movabs $0x300000, %rdi\n"
	"	movabs $0x3001, %rsi\n"
	"	mov $-1, %rdx\n"
	"	syscall\n"
	"	mov 8(%r12), %rbx\n"
	"	mov %rax, %r13\n"
	"	mov %rbx, 0xdead000\n"
	"1:	jmp 1b\n"
	"guest_code_end:\n"
	".popsection\n");

static uint8_t *guest_mem; /* code page, UTCB page, stack page */

static void root_guest(void *arg)
{
	struct utcb *u = kernel_native_utcb(), *gu = (struct utcb *)(guest_mem + 4096);
	uint64_t h = (uint64_t)(uintptr_t)guest_mem, label, tag;
	struct cpu_regs r;

	memcpy(guest_mem, guest_code_start, (size_t)(guest_code_end - guest_code_start));
	CHECK(create(KCAP(0x380), FACTORY_TASK, TASK_GUEST, 0) == KERR_OK);
	CHECK(!TAG_ERROR(KCALL(KCAP(0x380), PROTO_TASK, TASK_MAP_MEM, h, GUEST_IMAGE_BASE,
			       4096, MEM_R | MEM_X)));
	CHECK(!TAG_ERROR(KCALL(KCAP(0x380), PROTO_TASK, TASK_MAP_MEM, h + 4096,
			       GUEST_UTCB_AREA, 8192, MEM_R | MEM_W)));
	CHECK(TAG_ERROR(KCALL(KCAP(0x380), PROTO_TASK, TASK_MAP_MEM, h + 4096,
			      GUEST_UTCB_AREA + 4096, 4096, MEM_R)) == KERR_BUSY);
	/* service gate (label 0x200) mapped R|W into the guest; pager gate */
	CHECK(create(KCAP(0x381), FACTORY_GATE, ROOT_THREAD, 0x200) == KERR_OK);
	CHECK(!TAG_ERROR(KCALL(KCAP(0x380), PROTO_TASK, TASK_MAP, KCAP_INVALID,
			       KCAP(0x381) | RIGHT_R | RIGHT_W, KCAP(0x300))));
	CHECK(create(KCAP(0x382), FACTORY_GATE, ROOT_THREAD, 0x300) == KERR_OK);
	CHECK(create(KCAP(0x383), FACTORY_THREAD, 0, 0) == KERR_OK);
	CHECK(TAG_ERROR(KCALL(KCAP(0x383), PROTO_THREAD, THREAD_CONTROL, KCAP(0x380),
			      0x7000000, KCAP(0x382), 1)) == KERR_RANGE); /* no memory */
	CHECK(!TAG_ERROR(KCALL(KCAP(0x383), PROTO_THREAD, THREAD_CONTROL, KCAP(0x380),
			       GUEST_UTCB_AREA, KCAP(0x382), 1)));
	CHECK(gu->self == GUEST_UTCB_AREA &&
	      gu->tcr[TCR_THREAD_KCAP] == KCAP_THREAD(1, 0));
	CHECK(!TAG_ERROR(KCALL(KCAP(0x383), PROTO_THREAD, THREAD_EX_REGS,
			       GUEST_IMAGE_BASE, GUEST_UTCB_AREA + 8192 - 8)));

	tag = kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER, &label);
	CHECK(!TAG_ERROR(tag) && TAG_WORDS(tag) == 1 && u->mr[0] == 7);
	CHECK(label == (0x200 | RIGHT_W));
	u->mr[0] = 99;
	tag = kernel_native_invoke(0, TAG(SYS_OP_REPLY_WAIT, 0, 1, 0), NEVER, &label);
	CHECK(!TAG_ERROR(tag) && TAG_WORDS(tag) == 4 && label == (0x300 | 3));
	CHECK(u->mr[0] == FAULT_MSG && u->mr[1] == FAULT_WRITE && u->mr[3] == 0xdead000);
	CHECK(thread_state(KCAP(0x383)) == TS_FAULTED);
	CHECK(!TAG_ERROR(KCALL(KCAP(0x383), PROTO_THREAD, THREAD_GET_REGS)));
	memcpy(&r, u->mr, sizeof r);
	CHECK(r.rbx == 99 && r.r13 == TAG(0, 0, 1, 0) && r.gs_base == GUEST_UTCB_AREA);
	kernel_stop(0);
}

/* guest thread: UTCB through MAP_MEM, call/reply, fault report to the pager */
static void guest_call_and_fault(void **state)
{
	guest_mem = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(guest_mem != MAP_FAILED);
	assert_int_equal(boot(root_guest), 0);
	munmap(guest_mem, 3 * 4096);
}

/* Guest code for the pager test: rbx += 1, store it to 0x50000000 (not
 * mapped yet: the root maps it lazily and resumes), load it back into
 * rcx, then store to 0xdead000 (fatal).  A resume that re-ran the add
 * would leave rbx == 2. */
extern const unsigned char pager_code_start[], pager_code_store[], pager_code_ud2[],
    pager_code_end[];
__asm__(".pushsection .rodata\n"
	"pager_code_start:\n"
	"	mov $0x50000000, %edi\n"
	"	add $1, %rbx\n"
	"	add $3, %r14\n"
	"pager_code_store:\n"
	"	mov %rbx, (%rdi)\n"
	"	add %rbx, %r14\n"
	"	mov 8(%rdi), %rcx\n"
	"	add $1, %rcx\n"
	"	mov %rcx, 0xdead000\n"
	"1:	jmp 1b\n"
	"pager_code_ud2:\n"
	"	ud2\n"
	"pager_code_end:\n"
	".popsection\n");

static uint8_t *pager_mem; /* code page, UTCB page, stack page, lazy page */

/* wait for one fault message on the pager gate (label 0x300); its ip */
static uint64_t wait_fault(unsigned kind, uint64_t addr)
{
	struct utcb *u = kernel_native_utcb();
	uint64_t label,
	    tag = kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER, &label);

	CHECK(!TAG_ERROR(tag) && label == (0x300 | 3) && u->mr[0] == FAULT_MSG);
	CHECK(u->mr[1] == kind && u->mr[3] == addr);
	return u->mr[2];
}

static void root_pager(void *arg)
{
	struct utcb *u = kernel_native_utcb();
	uint64_t h = (uint64_t)(uintptr_t)pager_mem;
	uint64_t *lazy = (uint64_t *)(pager_mem + 3 * 4096), label;
	struct cpu_regs r;

	memcpy(pager_mem, pager_code_start, (size_t)(pager_code_end - pager_code_start));
	lazy[1] = 41;
	CHECK(create(KCAP(0x380), FACTORY_TASK, TASK_GUEST, 0) == KERR_OK);
	CHECK(!TAG_ERROR(KCALL(KCAP(0x380), PROTO_TASK, TASK_MAP_MEM, h, GUEST_IMAGE_BASE,
			       4096, MEM_R | MEM_X)));
	CHECK(!TAG_ERROR(KCALL(KCAP(0x380), PROTO_TASK, TASK_MAP_MEM, h + 4096,
			       GUEST_UTCB_AREA, 8192, MEM_R | MEM_W)));
	CHECK(create(KCAP(0x382), FACTORY_GATE, ROOT_THREAD, 0x300) == KERR_OK);
	CHECK(create(KCAP(0x383), FACTORY_THREAD, 0, 0) == KERR_OK);
	CHECK(!TAG_ERROR(KCALL(KCAP(0x383), PROTO_THREAD, THREAD_CONTROL, KCAP(0x380),
			       GUEST_UTCB_AREA, KCAP(0x382), 1)));
	/* resuming a thread that never faulted is a no-op */
	CHECK(!TAG_ERROR(KCALL(KCAP(0x383), PROTO_THREAD, THREAD_RESUME)));
	CHECK(!TAG_ERROR(KCALL(KCAP(0x383), PROTO_THREAD, THREAD_EX_REGS,
			       GUEST_IMAGE_BASE, GUEST_UTCB_AREA + 8192 - 8)));
	/* the reported ip is the faulting store, not its block's start */
	CHECK(wait_fault(FAULT_WRITE, 0x50000000) ==
	      GUEST_IMAGE_BASE + (uint64_t)(pager_code_store - pager_code_start));
	CHECK(thread_state(KCAP(0x383)) == TS_FAULTED);
	/* resuming before the page is there faults again, the same way */
	CHECK(!TAG_ERROR(KCALL(KCAP(0x383), PROTO_THREAD, THREAD_RESUME)));
	wait_fault(FAULT_WRITE, 0x50000000);
	CHECK(!TAG_ERROR(KCALL(KCAP(0x380), PROTO_TASK, TASK_MAP_MEM, h + 3 * 4096,
			       0x50000000, 4096, MEM_R | MEM_W)));
	CHECK(!TAG_ERROR(KCALL(KCAP(0x383), PROTO_THREAD, THREAD_RESUME)));
	wait_fault(FAULT_WRITE, 0xdead000);
	CHECK(!TAG_ERROR(KCALL(KCAP(0x383), PROTO_THREAD, THREAD_GET_REGS)));
	memcpy(&r, u->mr, sizeof r);
	if (r.rbx != 1 || r.r14 != 4)
		fprintf(stderr, "pager resume not exact: rbx=%llu r14=%llu\n",
			(unsigned long long)r.rbx, (unsigned long long)r.r14);
	CHECK(r.rbx == 1 && r.r14 == 4 && r.rcx == 42 && lazy[0] == 1);
	/* an illegal instruction is no fault a pager can resolve */
	CHECK(create(KCAP(0x384), FACTORY_THREAD, 0, 0) == KERR_OK);
	CHECK(!TAG_ERROR(KCALL(KCAP(0x384), PROTO_THREAD, THREAD_CONTROL, KCAP(0x380),
			       GUEST_UTCB_AREA + 0x800, KCAP(0x382), 2)));
	CHECK(!TAG_ERROR(KCALL(KCAP(0x384), PROTO_THREAD, THREAD_EX_REGS,
			       GUEST_IMAGE_BASE + (pager_code_ud2 - pager_code_start),
			       GUEST_UTCB_AREA + 8192 - 64)));
	CHECK(!TAG_ERROR(
	    kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER, &label)));
	CHECK(u->mr[0] == FAULT_MSG && u->mr[1] == FAULT_ILLEGAL);
	CHECK(TAG_ERROR(KCALL(KCAP(0x384), PROTO_THREAD, THREAD_RESUME)) == KERR_INVAL);
	CHECK(thread_state(KCAP(0x384)) == TS_FAULTED);
	kernel_stop(0);
}

/* a guest thread faulting on an unmapped page is reported at the faulting
 * instruction and continues exactly there once the pager mapped the page
 * and resumed it; a non-memory fault cannot be resumed */
static void guest_pager_resume(void **state)
{
	pager_mem = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(pager_mem != MAP_FAILED);
	assert_int_equal(boot(root_pager), 0);
	assert_int_equal(failed_line, 0);
	munmap(pager_mem, 4 * 4096);
}

/* ---- closed wait on an irq ------------------------------------------------ */

#define CW_IRQ	  KCAP(0x360) /* bound to the waiter, label 0x64 */
#define CW_THREAD KCAP(0x361)
#define CW_GATE	  KCAP(0x362) /* bound to the waiter */
#define CW_OTHER  KCAP(0x363) /* a second irq bound to the waiter, label 0x68 */
static struct {
	unsigned woken;	     /* closed waits that ended */
	uint64_t label[3];   /* their labels */
	unsigned err[3];     /* and errors */
	uint64_t open_label; /* what the open wait in between got */
} cw;

/* closed wait, open wait, closed wait */
static void closed_waiter(void *arg)
{
	uint64_t label = 0, tag;

	for (int i = 0; i < 3; i++) {
		if (i == 1) {
			tag = kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER,
						   &label);
			cw.open_label = TAG_ERROR(tag) ? 0 : label;
		}
		tag = kernel_native_invoke(CW_IRQ, TAG(SYS_OP_WAIT, 0, 0, 0),
					   i == 1 ? 0 : NEVER, &label);
		cw.err[cw.woken] = TAG_ERROR(tag);
		cw.label[cw.woken++] = label;
	}
	for (;;)
		sleep_us(1000000);
}

static void root_closed_wait(void *arg)
{
	uint64_t label, tag;

	cw = (typeof(cw)){0};
	CHECK(create(CW_IRQ, FACTORY_IRQ, 0, 0) == KERR_OK);
	CHECK(create(CW_OTHER, FACTORY_IRQ, 0, 0) == KERR_OK);
	spawn(ROOT_TASK, CW_THREAD, 1, closed_waiter, NULL);
	CHECK(create(CW_GATE, FACTORY_GATE, CW_THREAD, 0x80) == KERR_OK);
	CHECK(!TAG_ERROR(KCALL(CW_IRQ, PROTO_IRQ, IRQ_BIND, CW_THREAD, 0x64)));
	CHECK(!TAG_ERROR(KCALL(CW_OTHER, PROTO_IRQ, IRQ_BIND, CW_THREAD, 0x68)));
	/* the root may not wait on an irq bound to another thread, nor on a
	 * kcap that is no irq or empty */
	CHECK(TAG_ERROR(kernel_native_invoke(CW_IRQ, TAG(SYS_OP_WAIT, 0, 0, 0), 0,
					     &label)) == KERR_INVAL_CAP);
	CHECK(TAG_ERROR(kernel_native_invoke(ROOT_TASK, TAG(SYS_OP_WAIT, 0, 0, 0), 0,
					     &label)) == KERR_INVAL_CAP);
	CHECK(TAG_ERROR(kernel_native_invoke(KCAP(0x777), TAG(SYS_OP_WAIT, 0, 0, 0), 0,
					     &label)) == KERR_INVAL_CAP);
	CHECK(sleep_us(1000) == KERR_TIMEOUT);
	CHECK(thread_state(CW_THREAD) == TS_BLOCKED);
	/* neither an IPC to its gate or thread nor its other irq ends it */
	CHECK(TAG_ERROR(call_echo(CW_GATE, 1, 2, 2000)) == KERR_TIMEOUT);
	CHECK(TAG_ERROR(call_echo(CW_THREAD, 1, 2, 2000)) == KERR_TIMEOUT);
	CHECK(!TAG_ERROR(KCALL(CW_OTHER, PROTO_IRQ, IRQ_TRIGGER)));
	CHECK(sleep_us(1000) == KERR_TIMEOUT);
	CHECK(cw.woken == 0 && thread_state(CW_THREAD) == TS_BLOCKED);
	/* its irq does; the other irq stays pending for the open wait, and a
	 * closed wait with timeout 0 and nothing pending times out */
	CHECK(!TAG_ERROR(KCALL(CW_IRQ, PROTO_IRQ, IRQ_TRIGGER)));
	CHECK(sleep_us(1000) == KERR_TIMEOUT);
	CHECK(cw.woken == 2 && cw.err[0] == KERR_OK && cw.label[0] == 0x64);
	CHECK(cw.open_label == 0x68);
	CHECK(cw.err[1] == KERR_TIMEOUT);
	/* unbinding the irq aborts the third closed wait */
	CHECK(thread_state(CW_THREAD) == TS_BLOCKED);
	CHECK(!TAG_ERROR(KCALL(CW_IRQ, PROTO_IRQ, IRQ_UNBIND)));
	CHECK(sleep_us(1000) == KERR_TIMEOUT);
	CHECK(cw.woken == 3 && cw.err[2] == KERR_ABORTED);
	/* a trigger counted before the wait ends the wait at once */
	CHECK(!TAG_ERROR(KCALL(CW_IRQ, PROTO_IRQ, IRQ_BIND, ROOT_THREAD, 0x6c)));
	CHECK(!TAG_ERROR(KCALL(CW_IRQ, PROTO_IRQ, IRQ_TRIGGER)));
	tag = kernel_native_invoke(CW_IRQ, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER, &label);
	CHECK(TAG_ERROR(tag) == KERR_OK && label == 0x6c && TAG_WORDS(tag) == 0);
	kernel_stop(0);
}

/* SYS_OP_WAIT on an irq bound to the caller waits for that irq only: IPC
 * and other irqs stay queued; unbinding aborts the wait */
static void closed_wait_on_irq(void **state)
{
	assert_int_equal(boot(root_closed_wait), 0);
	assert_int_equal(failed_line, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(call_reply_round_trip),
	    cmocka_unit_test(invalid_caps),
	    cmocka_unit_test(timeouts),
	    cmocka_unit_test(irq_counting),
	    cmocka_unit_test(pause_resume_receiver),
	    cmocka_unit_test(destroy_aborts_partner),
	    cmocka_unit_test(stop_code_and_reboot),
	    cmocka_unit_test(deadlock_detected),
	    cmocka_unit_test(guest_call_and_fault),
	    cmocka_unit_test(guest_pager_resume),
	    cmocka_unit_test(closed_wait_on_irq),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
