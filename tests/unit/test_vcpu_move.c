/*
 * The Unicorn guest backend through kernel/backend.h: a computation
 * stopped mid-run moves to a fresh engine by its registers and memory and
 * finishes bit-exactly (SSE and x87 state), and x87 state written through
 * vcpu_set_regs is what the guest sees.  What a restore relies on.
 *
 * Guest code is assembled by the host assembler into .rodata snippets and
 * copied into a page mapped at CODE; DATA is a read-write page.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "vcpu_fixture.h"

SNIPPET(g_loop, "1: jmp 1b\n");
/* x = DATA[0]; repeat DATA[2] times: x = x * f + f (f = DATA[1]);
 * DATA[3] = x; plus an xmm2 running sum, also stored (DATA[4]). */
SNIPPET(g_sse, "movsd 0x600000, %xmm0\n movsd 0x600008, %xmm1\n"
	       " xorpd %xmm2, %xmm2\n xor %ecx, %ecx\n"
	       "1: mulsd %xmm1, %xmm0\n addsd %xmm1, %xmm0\n addsd %xmm0, %xmm2\n"
	       " inc %rcx\n cmp 0x600010, %rcx\n jb 1b\n"
	       " movsd %xmm0, 0x600018\n movsd %xmm2, 0x600020\n syscall\n");
/* The same in long double: x = DATA[0..1], f = DATA[2..3]; DATA[4] times
 * x = x * f + f, sum += x (sum, f, x and a temporary on the x87 stack);
 * DATA[6..7] = sum.  g_x87_store: store and pop ST(0). */
SNIPPET(g_x87, "fldt 0x600000\n fldt 0x600010\n fldz\n xor %ecx, %ecx\n"
	       "1: fld %st(2)\n fmul %st(2), %st\n fadd %st(2), %st\n fst %st(3)\n"
	       " faddp %st, %st(1)\n inc %rcx\n cmp 0x600020, %rcx\n jb 1b\n"
	       " fstpt 0x600030\n syscall\n");
SNIPPET(g_x87_store, "fstpt 0x600000\n syscall\n");

#define SSE_STEPS 40000000ULL
#define MXCSR_RZ  0x7f80ULL /* exceptions masked, round toward zero */

static void sse_setup(struct fixture *f)
{
	double x0 = 1.0, fac = 1.0000001;
	struct cpu_regs r;

	FIXTURE(*f, g_sse);
	memcpy(&f->data[0], &x0, 8);
	memcpy(&f->data[1], &fac, 8);
	f->data[2] = SSE_STEPS;
	vcpu_get_regs(f->cpu, &r);
	r.mxcsr = MXCSR_RZ;
	vcpu_set_regs(f->cpu, &r);
}

static void run_to_syscall(struct vcpu *cpu)
{
	struct vcpu_trap t;

	do
		vcpu_run(cpu, 1000000, &t);
	while (t.why == VCPU_PREEMPTED);
	assert_int_equal(t.why, VCPU_SYSCALL);
}

/* Run *ref (made by setup) to its syscall; run another one a short slice,
 * move its registers *mid and memory to a fresh engine *dst, finish it. */
static void move_mid_run(void (*setup)(struct fixture *), struct fixture *ref,
			 struct fixture *dst, struct cpu_regs *mid)
{
	struct fixture src;
	struct vcpu_trap t;

	setup(ref);
	run_to_syscall(ref->cpu);
	setup(&src);
	/* on a loaded machine a slice may end before the loop (counting in
	 * rcx) has begun: run more slices until it has */
	for (int i = 0; i < 500; i++) {
		vcpu_run(src.cpu, 2000, &t);
		assert_int_equal(t.why, VCPU_PREEMPTED);
		vcpu_get_regs(src.cpu, mid);
		if (mid->rcx)
			break;
	}
	FIXTURE(*dst, g_loop); /* different code, overwritten below */
	memcpy(dst->code, src.code, PAGE);
	memcpy(dst->data, src.data, PAGE);
	fixture_fini(&src);
	vcpu_set_regs(dst->cpu, mid);
	run_to_syscall(dst->cpu);
}

/* registers moved mid-loop into a fresh engine over copied memory finish
 * the SSE computation bit-exactly */
static void regs_move_to_fresh_engine(void **state)
{
	struct fixture ref, dst;
	struct cpu_regs r;

	move_mid_run(sse_setup, &ref, &dst, &r);
	assert_true(r.rcx > 0 && r.rcx < SSE_STEPS);
	assert_int_equal(r.mxcsr & 0xffc0, MXCSR_RZ);
	assert_memory_equal(&dst.data[3], &ref.data[3], 16);
	assert_true(ref.data[3] != 0 && ref.data[4] != 0);
	fixture_fini(&ref);
	fixture_fini(&dst);
}

#define X87_STEPS 3000000ULL
#define FPCW_RZ	  0x0f7fU /* exceptions masked, 64-bit precision, toward zero */

static void x87_setup(struct fixture *f)
{
	long double x0 = 1.0L, fac = 1.0000001L;
	struct cpu_regs r;

	FIXTURE(*f, g_x87);
	memcpy(&f->data[0], &x0, 10);
	memcpy(&f->data[2], &fac, 10);
	f->data[4] = X87_STEPS;
	vcpu_get_regs(f->cpu, &r);
	assert_true(r.fpcw == 0x037f && r.fptag == 0xffff); /* FNINIT's state */
	r.fpcw = FPCW_RZ;
	vcpu_set_regs(f->cpu, &r);
}

/* the same with x87 code: control word, status word (TOP), tags and data
 * registers moved mid-loop finish the long double computation
 * bit-exactly and leave the same x87 state */
static void x87_moves_to_fresh_engine(void **state)
{
	struct fixture ref, dst;
	struct cpu_regs r, a, b;

	move_mid_run(x87_setup, &ref, &dst, &r);
	assert_true(r.rcx > 0 && r.rcx < X87_STEPS);
	assert_int_equal(r.fpcw, FPCW_RZ);
	assert_int_not_equal(r.fptag, 0xffff); /* x, f and sum are live */
	assert_int_not_equal((r.fpsw >> 11) & 7, 0);
	assert_memory_equal(&dst.data[6], &ref.data[6], 10);
	assert_true(ref.data[6] != 0);
	vcpu_get_regs(ref.cpu, &a);
	vcpu_get_regs(dst.cpu, &b);
	assert_memory_equal(&a.fpcw, &b.fpcw, sizeof a - offsetof(struct cpu_regs, fpcw));
	fixture_fini(&ref);
	fixture_fini(&dst);
}

/* x87 state written through vcpu_set_regs reaches the guest: an fstpt
 * stores the physical register that TOP names and pops it */
static void x87_regs_reach_guest(void **state)
{
	struct fixture f;
	struct cpu_regs r;
	const uint8_t val[10] = {1, 2, 3, 4, 5, 6, 7, 0x80, 0xff, 0x3f};

	FIXTURE(f, g_x87_store);
	vcpu_get_regs(f.cpu, &r);
	r.fpsw = 5 << 11; /* TOP = 5: ST(0) is R5 */
	r.fptag = 0xffff & ~(3 << 10);
	memcpy(r.fpr[5], val, 10);
	vcpu_set_regs(f.cpu, &r);
	run_to_syscall(f.cpu);
	assert_memory_equal(&f.data[0], val, 10);
	vcpu_get_regs(f.cpu, &r);
	assert_int_equal((r.fpsw >> 11) & 7, 6); /* popped */
	assert_int_equal(r.fptag, 0xffff);
	fixture_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(regs_move_to_fresh_engine),
	    cmocka_unit_test(x87_moves_to_fresh_engine),
	    cmocka_unit_test(x87_regs_reach_guest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
