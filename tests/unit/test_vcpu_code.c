/*
 * Translated code through kernel/backend.h: a guest that rewrites code
 * it already ran runs what it wrote (code_pages.c), and a run that
 * translates a lot of fresh code ends early, like a preemption, and the
 * thread goes on (tb_budget.c).
 *
 * JIT is a writable and executable region holding a chain of blocks:
 * block i is `add $k_i, %eax; jmp` to block i + 1, the last one `ret`.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include "vcpu_fixture.h"

#define JIT	0x800000ULL
#define STRIDE	16
#define PASSES	20
#define SLOW_US 5000000 /* a slice no test run reaches */

/* Pass k = 1, 2, ...: write k into every block's constant (rcx blocks at
 * JIT + 1, a stride apart), run the chain from JIT and report its sum in
 * rax with a syscall. */
SNIPPET(g_rewrite, "mov $1, %ebx\n"
		   "1: mov $0x800001, %edi\n mov %r12d, %ecx\n"
		   "2: mov %ebx, (%rdi)\n add $16, %rdi\n dec %ecx\n jnz 2b\n"
		   " xor %eax, %eax\n mov $0x800000, %edx\n call *%rdx\n"
		   " syscall\n inc %ebx\n jmp 1b\n");

/* the chain's blocks, constant 0 (written by the host) */
static void chain_fill(uint8_t *jit, unsigned blocks)
{
	for (unsigned i = 0; i < blocks; i++) {
		uint8_t *b = jit + i * STRIDE;
		int32_t rel = STRIDE - 10;

		memset(b, 0x90, STRIDE);
		b[0] = 0x05; /* add $imm32, %eax */
		memset(b + 1, 0, 4);
		if (i + 1 == blocks) {
			b[5] = 0xc3; /* ret */
			break;
		}
		b[5] = 0xe9; /* jmp rel32 */
		memcpy(b + 6, &rel, 4);
	}
}

struct chain {
	struct fixture f;
	uint8_t *jit;
	unsigned pages;
};

static void chain_init(struct chain *c, unsigned pages)
{
	struct cpu_regs r;

	FIXTURE(c->f, g_rewrite);
	c->pages = pages;
	c->jit = page_alloc(pages);
	chain_fill(c->jit, pages * PAGE / STRIDE);
	assert_int_equal(
	    vspace_map(c->f.vs, JIT, pages * PAGE, c->jit, MEM_R | MEM_W | MEM_X), 0);
	vcpu_get_regs(c->f.cpu, &r);
	r.r12 = pages * PAGE / STRIDE;
	vcpu_set_regs(c->f.cpu, &r);
}

static void chain_fini(struct chain *c)
{
	fixture_fini(&c->f);
	free(c->jit);
}

static uint64_t rax_of(struct vcpu *cpu)
{
	struct cpu_regs r;

	vcpu_get_regs(cpu, &r);
	return r.rax;
}

/* every pass sums what it wrote: the blocks translated in the pass before
 * are dropped when the guest writes their page (Unicorn alone checked
 * only the first write to a page: pass 2 summed 2 + 255 * 1 a page) */
static void rewritten_blocks_run_as_written(void **state)
{
	struct chain c;
	struct vcpu_trap t;
	unsigned blocks;

	chain_init(&c, 2);
	blocks = c.pages * PAGE / STRIDE;
	for (uint64_t k = 1; k <= PASSES; k++) {
		run_trap(c.f.cpu, &t);
		assert_int_equal(t.why, VCPU_SYSCALL);
		assert_int_equal(rax_of(c.f.cpu), k * blocks);
	}
	/* the guest's own code page was never made writable */
	assert_int_equal(c.f.code[0], g_rewrite[0]);
	chain_fini(&c);
}

/* code that rewrites the next instruction of its own block, on its own
 * page, sees every rewrite: 1000 increments of the `mov`'s constant */
SNIPPET(g_own_page, "1: incl 2f+1(%rip)\n 2: mov $0, %eax\n cmp $1000, %eax\n jne 1b\n"
		    " syscall\n");

static void rewriting_own_page_makes_progress(void **state)
{
	struct fixture f;
	struct vcpu_trap t;

	FIXTURE(f, g_own_page);
	assert_int_equal(vspace_unmap(f.vs, CODE, PAGE), 0);
	assert_int_equal(vspace_map(f.vs, CODE, PAGE, f.code, MEM_R | MEM_W | MEM_X), 0);
	run_trap(f.cpu, &t);
	assert_int_equal(t.why, VCPU_SYSCALL);
	assert_int_equal(rax_of(f.cpu), 1000);
	fixture_fini(&f);
}

/*
 * Shared memory: task B writes the chain through its own mapping of the
 * same host pages (a dataspace) that task A runs from.  Each pass B
 * writes k into every block, then A runs the chain: A must sum what B
 * wrote (before code_shared.c A's engine ran the blocks it translated in
 * pass 1 for ever: k = 2 summed 1 a block).
 */
#define ALIAS 0x900000ULL

/* run the chain at JIT, report its sum; again */
SNIPPET(g_run_chain, "1: xor %eax, %eax\n mov $0x800000, %edx\n call *%rdx\n"
		     " syscall\n jmp 1b\n");
/* pass k: write k into every block's constant through ALIAS; report */
SNIPPET(g_write_alias, "mov $1, %ebx\n"
		       "1: mov $0x900001, %edi\n mov %r12d, %ecx\n"
		       "2: mov %ebx, (%rdi)\n add $16, %rdi\n dec %ecx\n jnz 2b\n"
		       " syscall\n inc %ebx\n jmp 1b\n");

static void set_r12(struct vcpu *cpu, uint64_t v)
{
	struct cpu_regs r;

	vcpu_get_regs(cpu, &r);
	r.r12 = v;
	vcpu_set_regs(cpu, &r);
}

/* A maps the pages at JIT with run_perms, B at ALIAS read-write; B writes
 * pass k, A runs it, for k = 1..PASSES. */
static void shared_chain(unsigned run_perms)
{
	struct fixture a, b;
	struct vcpu_trap t;
	unsigned pages = 2, blocks = pages * PAGE / STRIDE;
	uint8_t *jit = page_alloc(pages);

	chain_fill(jit, blocks);
	FIXTURE(a, g_run_chain);
	FIXTURE(b, g_write_alias);
	assert_int_equal(vspace_map(a.vs, JIT, pages * PAGE, jit, run_perms), 0);
	assert_int_equal(vspace_map(b.vs, ALIAS, pages * PAGE, jit, MEM_R | MEM_W), 0);
	set_r12(b.cpu, blocks);
	for (uint64_t k = 1; k <= PASSES; k++) {
		run_trap(b.cpu, &t);
		assert_int_equal(t.why, VCPU_SYSCALL);
		run_trap(a.cpu, &t);
		assert_int_equal(t.why, VCPU_SYSCALL);
		assert_int_equal(rax_of(a.cpu), k * blocks);
	}
	fixture_fini(&a);
	fixture_fini(&b);
	free(jit);
}

static void code_written_by_another_task_runs_as_written(void **state)
{
	shared_chain(MEM_R | MEM_X);
}

static void shared_wx_code_written_by_another_task(void **state)
{
	shared_chain(MEM_R | MEM_W | MEM_X);
}

/* One task with both mappings of the pages (a JIT's two views): it writes
 * through ALIAS and runs from JIT in the same run. */
SNIPPET(g_dual, "mov $1, %ebx\n"
		"1: mov $0x900001, %edi\n mov %r12d, %ecx\n"
		"2: mov %ebx, (%rdi)\n add $16, %rdi\n dec %ecx\n jnz 2b\n"
		" xor %eax, %eax\n mov $0x800000, %edx\n call *%rdx\n"
		" syscall\n inc %ebx\n jmp 1b\n");

static void code_written_through_a_second_mapping(void **state)
{
	struct fixture f;
	struct vcpu_trap t;
	unsigned pages = 2, blocks = pages * PAGE / STRIDE;
	uint8_t *jit = page_alloc(pages);

	chain_fill(jit, blocks);
	FIXTURE(f, g_dual);
	assert_int_equal(vspace_map(f.vs, JIT, pages * PAGE, jit, MEM_R | MEM_X), 0);
	assert_int_equal(vspace_map(f.vs, ALIAS, pages * PAGE, jit, MEM_R | MEM_W), 0);
	set_r12(f.cpu, blocks);
	for (uint64_t k = 1; k <= PASSES; k++) {
		run_trap(f.cpu, &t);
		assert_int_equal(t.why, VCPU_SYSCALL);
		assert_int_equal(rax_of(f.cpu), k * blocks);
	}
	fixture_fini(&f);
	free(jit);
}

/* the same with the page also mapped writable elsewhere (a shared range,
 * code_shared.c): the page is mixed, the rewrites go on */
static void rewriting_own_shared_page_makes_progress(void **state)
{
	struct fixture f;
	struct vcpu_trap t;

	FIXTURE(f, g_own_page);
	assert_int_equal(vspace_unmap(f.vs, CODE, PAGE), 0);
	assert_int_equal(vspace_map(f.vs, CODE, PAGE, f.code, MEM_R | MEM_W | MEM_X), 0);
	assert_int_equal(vspace_map(f.vs, ALIAS, PAGE, f.code, MEM_R | MEM_W), 0);
	run_trap(f.cpu, &t);
	assert_int_equal(t.why, VCPU_SYSCALL);
	assert_int_equal(rax_of(f.cpu), 1000);
	fixture_fini(&f);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* 64 pages of chain: 16,384 fresh blocks a pass, more than one run may
 * translate.  A run with a slice it never reaches ends early, as a
 * preemption inside the chain; the passes still sum right (the buffer
 * is flushed between runs several times over). */
static void translating_run_ends_early(void **state)
{
	struct chain c;
	struct vcpu_trap t;
	unsigned blocks, early = 0;

	chain_init(&c, 64);
	blocks = c.pages * PAGE / STRIDE;
	for (uint64_t k = 1; k <= 4; k++) {
		for (;;) {
			double t0 = now_ms();

			vcpu_run(c.f.cpu, SLOW_US, &t);
			if (t.why != VCPU_PREEMPTED)
				break;
			assert_true(now_ms() - t0 < SLOW_US / 1000.0);
			early++;
		}
		assert_int_equal(t.why, VCPU_SYSCALL);
		assert_int_equal(rax_of(c.f.cpu), k * blocks);
	}
	assert_true(early >= 4);
	chain_fini(&c);
}

/* Blocks of 16 `enter $0, $31` (each copies 30 frame pointers inline,
 * about 6 KiB of host code) that then reset rsp and rbp: about 100 KiB a
 * block, 2048 blocks in one pass.  Counted at their size, the buffer is
 * flushed in time; counted as ordinary instructions (five times too
 * little) this crashed the process. */
#define STACK	   0x700000ULL
#define STACK_PGS  4
#define ENTERS	   16
#define ENTER_STEP 128
SNIPPET(g_enter, "mov $0x704000, %esp\n mov $0x800000, %edx\n call *%rdx\n syscall\n");

static void enter_fill(uint8_t *jit, unsigned blocks)
{
	/* enter $0, $31 ...; mov $0x703ff8, %esp; mov $0x702000, %ebp */
	const uint8_t enter[] = {0xc8, 0x00, 0x00, 0x1f};
	const uint8_t reset[] = {0xbc, 0xf8, 0x3f, 0x70, 0x00,
				 0xbd, 0x00, 0x20, 0x70, 0x00};

	for (unsigned i = 0; i < blocks; i++) {
		uint8_t *b = jit + i * ENTER_STEP;
		unsigned n = 0;
		int32_t rel;

		for (unsigned e = 0; e < ENTERS; e++, n += sizeof enter)
			memcpy(b + n, enter, sizeof enter);
		memcpy(b + n, reset, sizeof reset);
		n += sizeof reset;
		if (i + 1 == blocks) {
			b[n] = 0xc3; /* ret */
			break;
		}
		b[n++] = 0xe9; /* jmp rel32 */
		rel = (int32_t)(ENTER_STEP - (n + 4));
		memcpy(b + n, &rel, 4);
	}
}

static void enter_blocks_keep_the_buffer(void **state)
{
	struct fixture f;
	struct vcpu_trap t;
	unsigned pages = 64, blocks = pages * PAGE / ENTER_STEP;
	uint8_t *jit = page_alloc(pages), *stack = page_alloc(STACK_PGS);
	struct cpu_regs r;
	unsigned runs;

	enter_fill(jit, blocks);
	FIXTURE(f, g_enter);
	assert_int_equal(vspace_map(f.vs, JIT, pages * PAGE, jit, MEM_R | MEM_X), 0);
	assert_int_equal(vspace_map(f.vs, STACK, STACK_PGS * PAGE, stack, MEM_R | MEM_W),
			 0);
	vcpu_get_regs(f.cpu, &r);
	r.rbp = STACK + 2 * PAGE;
	vcpu_set_regs(f.cpu, &r);
	for (runs = 0; runs < 10000; runs++) {
		vcpu_run(f.cpu, SLOW_US, &t);
		if (t.why != VCPU_PREEMPTED)
			break;
	}
	print_message("enter: %u runs\n", runs);
	assert_int_equal(t.why, VCPU_SYSCALL);
	vcpu_get_regs(f.cpu, &r);
	assert_int_equal(r.rsp, STACK + STACK_PGS * PAGE);
	fixture_fini(&f);
	free(jit);
	free(stack);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rewritten_blocks_run_as_written),
	    cmocka_unit_test(rewriting_own_page_makes_progress),
	    cmocka_unit_test(code_written_by_another_task_runs_as_written),
	    cmocka_unit_test(shared_wx_code_written_by_another_task),
	    cmocka_unit_test(code_written_through_a_second_mapping),
	    cmocka_unit_test(rewriting_own_shared_page_makes_progress),
	    cmocka_unit_test(translating_run_ends_early),
	    cmocka_unit_test(enter_blocks_keep_the_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
