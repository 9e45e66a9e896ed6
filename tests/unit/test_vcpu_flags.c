/*
 * The registers a data fault leaves are those at the faulting
 * instruction, flags included.
 *
 * The engine computes arithmetic flags lazily: an instruction records its
 * operands and the kind of operation, and the flags are worked out when
 * something reads them.  In the middle of a translated block the kind is
 * known only to the translator, so a fault there can leave the engine
 * with the operands of the last flag-setting instruction and the kind of
 * an earlier one: read back as RFLAGS this gave made-up flags (with the
 * VM bit, 0x1020002, the kernel reported a #GP instead of the page
 * fault), and the registers saved at the fault took them to the next run.
 *
 * Each case runs a block that sets the flags (a cmp after an
 * instruction that leaves the engine's lazy state as full flags), then a
 * load or store to a page that is absent or read-only, then more of the
 * block.  The fault must be the page fault at that instruction, with the
 * cmp's flags; after the "pager" maps the page, the run goes on from the
 * faulting instruction (what ran before it does not run again) and the
 * guest sees the same flags (pushfq).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "vcpu_fixture.h"

#define RFLAGS_CC 0x8d5ULL /* OF SF ZF AF PF CF */
#define FLAGS_VM  (1ULL << 17)

/* r8 counts the passes over the block's start; rbx is the cmp's source
 * (0x1020000: the stale kind reads it as flags, with VM set); the fault
 * is the load from WILD + 0x18 into rcx; then rdx = rflags as the guest
 * sees them */
SNIPPET(fl_read, "mov $0xdead0018, %esi\n mov $0x1020000, %ebx\n xor %eax, %eax\n"
		 " inc %r8\n cmp %rbx, %rax\n .globl fl_read_at\n fl_read_at:\n"
		 " mov (%rsi), %rcx\n pushfq\n pop %rdx\n syscall\n");
extern const uint8_t fl_read_at[];
/* the same with a source whose bits are CF|ZF (0x41): no VM, just wrong
 * flags; the fault is a store to WILD + 0x20 */
SNIPPET(fl_write, "mov $0xdead0020, %esi\n mov $0x41, %ebx\n mov $0x100, %eax\n"
		  " inc %r8\n cmp %rbx, %rax\n .globl fl_write_at\n fl_write_at:\n"
		  " mov %rax, (%rsi)\n pushfq\n pop %rdx\n syscall\n");
extern const uint8_t fl_write_at[];
/* sub with a memory operand sets the flags, then an add in the same
 * block; the fault is the store after it (several lazy kinds in a row) */
SNIPPET(fl_mem_op, "mov $0xdead0030, %esi\n mov $0x600000, %edi\n movq $5, (%rdi)\n"
		   " mov $3, %eax\n sub (%rdi), %rax\n mov $-1, %rbx\n add $1, %rbx\n"
		   " .globl fl_mem_op_at\n fl_mem_op_at:\n"
		   " mov %rbx, (%rsi)\n pushfq\n pop %rdx\n syscall\n");
extern const uint8_t fl_mem_op_at[];

/* What the host CPU computes for a - b: the reference flags. */
static uint64_t cmp_flags(uint64_t a, uint64_t b)
{
	uint64_t f;

	__asm__ volatile("cmp %2, %1\n pushfq\n pop %0"
			 : "=r"(f)
			 : "r"(a), "r"(b)
			 : "cc");
	return f & RFLAGS_CC;
}

static uint64_t add_flags(uint64_t a, uint64_t b)
{
	uint64_t f;

	__asm__ volatile("add %2, %1\n pushfq\n pop %0"
			 : "=r"(f), "+r"(a)
			 : "r"(b)
			 : "cc");
	return f & RFLAGS_CC;
}

struct flags_case {
	const char *name;
	const uint8_t *start, *end, *at;
	unsigned kind;
	uint64_t addr;
	unsigned wild_perms; /* of the page mapped before the run (0: none) */
	uint64_t want;	     /* the arithmetic flags at the fault */
};

/* Run c: the fault, its registers, then the rest after the page is
 * mapped read-write. */
static void run_case(const struct flags_case *c)
{
	uint64_t *wild = page_alloc(1);
	struct fixture f;
	struct vcpu_trap t;
	struct cpu_regs r;

	print_message("flags: %s\n", c->name);
	wild[3] = 0x1234;
	fixture_init(&f, c->start, c->end);
	if (c->wild_perms)
		assert_int_equal(vspace_map(f.vs, WILD, PAGE, wild, c->wild_perms), 0);
	run_trap(f.cpu, &t);
	assert_int_equal(t.why, VCPU_FAULT);
	assert_int_equal(t.fault_kind, c->kind);
	assert_int_equal(t.fault_addr, c->addr);
	assert_int_equal(t.fault_ip, CODE + (c->at - c->start));
	vcpu_get_regs(f.cpu, &r);
	assert_int_equal(r.rip, CODE + (c->at - c->start));
	assert_int_equal(r.rflags & ~RFLAGS_CC, 0x2);
	assert_int_equal(r.rflags & RFLAGS_CC, c->want);
	assert_int_equal(r.r8, 1);

	/* the pager maps the page: the access and the rest run once */
	if (c->wild_perms)
		assert_int_equal(vspace_unmap(f.vs, WILD, PAGE), 0);
	assert_int_equal(vspace_map(f.vs, WILD, PAGE, wild, MEM_R | MEM_W), 0);
	run_trap(f.cpu, &t);
	assert_int_equal(t.why, VCPU_SYSCALL);
	vcpu_get_regs(f.cpu, &r);
	assert_int_equal(r.r8, 1);
	assert_int_equal(r.rdx & RFLAGS_CC, c->want);
	assert_int_equal(r.rdx & FLAGS_VM, 0);
	assert_int_equal(r.rflags & RFLAGS_CC, c->want);
	fixture_fini(&f);
	free(wild);
}

/* a load from an absent page after a lazily computed cmp: the page fault,
 * not a #GP, with the cmp's flags */
static void read_fault_keeps_flags(void **state)
{
	struct flags_case c = {
	    "read",	fl_read,     fl_read_end, fl_read_at,
	    FAULT_READ, WILD + 0x18, 0,		  cmp_flags(0, 0x1020000)};
	uint64_t *wild = page_alloc(1);
	struct fixture f;
	struct vcpu_trap t;
	struct cpu_regs r;

	run_case(&c);
	/* the load reads what the pager put there */
	wild[3] = 0x1234;
	FIXTURE(f, fl_read);
	run_trap(f.cpu, &t);
	assert_int_equal(t.why, VCPU_FAULT);
	assert_int_equal(vspace_map(f.vs, WILD, PAGE, wild, MEM_R), 0);
	run_trap(f.cpu, &t);
	assert_int_equal(t.why, VCPU_SYSCALL);
	vcpu_get_regs(f.cpu, &r);
	assert_int_equal(r.rcx, 0x1234);
	assert_int_equal(r.rdx & RFLAGS_CC, c.want);
	fixture_fini(&f);
	free(wild);
}

/* a store to an absent page, and to a read-only one */
static void write_fault_keeps_flags(void **state)
{
	struct flags_case c = {
	    "write absent", fl_write, fl_write_end,	     fl_write_at, FAULT_WRITE,
	    WILD + 0x20,    0,	      cmp_flags(0x100, 0x41)};

	run_case(&c);
	c.name = "write read-only";
	c.wild_perms = MEM_R;
	run_case(&c);
}

/* several flag-setting instructions, one with a memory operand, before
 * the faulting store */
static void last_setter_wins(void **state)
{
	struct flags_case c = {
	    "sub mem, add", fl_mem_op, fl_mem_op_end,	fl_mem_op_at, FAULT_WRITE,
	    WILD + 0x30,    0,	       add_flags(-1, 1)};

	uint64_t *wild = page_alloc(1);
	struct fixture f;
	struct vcpu_trap t;
	struct cpu_regs r;

	FIXTURE(f, fl_mem_op);
	run_trap(f.cpu, &t);
	assert_int_equal(t.why, VCPU_FAULT);
	assert_int_equal(t.fault_kind, c.kind);
	assert_int_equal(t.fault_addr, c.addr);
	assert_int_equal(t.fault_ip, CODE + (c.at - c.start));
	vcpu_get_regs(f.cpu, &r);
	assert_int_equal(r.rflags & RFLAGS_CC, c.want);
	assert_int_equal(vspace_map(f.vs, WILD, PAGE, wild, MEM_R | MEM_W), 0);
	run_trap(f.cpu, &t);
	assert_int_equal(t.why, VCPU_SYSCALL);
	vcpu_get_regs(f.cpu, &r);
	assert_int_equal(r.rdx & RFLAGS_CC, c.want);
	assert_int_equal(wild[6], 0);
	assert_int_equal(r.rax, (uint64_t)-2);
	fixture_fini(&f);
	free(wild);
}

/* The same fault many times over, each on a fresh vcpu of one engine (a
 * later run must not inherit flags from an earlier fault). */
static void repeated_faults_stay_exact(void **state)
{
	struct flags_case c = {
	    "read",	fl_read,     fl_read_end, fl_read_at,
	    FAULT_READ, WILD + 0x18, 0,		  cmp_flags(0, 0x1020000)};
	struct fixture f;
	struct vcpu_trap t;
	struct cpu_regs r;

	FIXTURE(f, fl_read);
	for (int i = 0; i < 50; i++) {
		vcpu_get_regs(f.cpu, &r);
		r.rip = CODE;
		r.r8 = 0;
		vcpu_set_regs(f.cpu, &r);
		run_trap(f.cpu, &t);
		assert_int_equal(t.why, VCPU_FAULT);
		assert_int_equal(t.fault_kind, FAULT_READ);
		assert_int_equal(t.fault_addr, c.addr);
		vcpu_get_regs(f.cpu, &r);
		assert_int_equal(r.rflags & RFLAGS_CC, c.want);
		assert_int_equal(r.rflags & FLAGS_VM, 0);
	}
	fixture_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(read_fault_keeps_flags),
	    cmocka_unit_test(write_fault_keeps_flags),
	    cmocka_unit_test(last_setter_wins),
	    cmocka_unit_test(repeated_faults_stay_exact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
