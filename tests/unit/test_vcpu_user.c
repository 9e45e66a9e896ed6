/*
 * Guests run at CPL 3 (kernel/guest/user_mode.c): every privileged or
 * system instruction is a fault of the thread that executes it, the
 * engine stays at CPL 3 whatever the guest does, IOPL cannot be raised,
 * and fault addresses above the lower half are reported in full.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "vcpu_fixture.h"

#define INTR_GP	    13
#define RFLAGS_IOPL (3ULL << 12)
#define KPAGE_ADDR  0xfffffffffffff000ULL

/* Each case: the instruction at CODE, a syscall after it (reached only if
 * the instruction was let through). */
SNIPPET(p_dr7_w, "mov %rax, %dr7\n syscall\n");
SNIPPET(p_dr0_w, "mov %rax, %dr0\n syscall\n");
SNIPPET(p_dr6_r, "mov %dr6, %rax\n syscall\n");
SNIPPET(p_cr0_r, "mov %cr0, %rax\n syscall\n");
SNIPPET(p_cr3_w, "mov %rax, %cr3\n syscall\n");
SNIPPET(p_cr4_w, "mov %rax, %cr4\n syscall\n");
SNIPPET(p_lgdt, "lgdt 0x600000\n syscall\n");
SNIPPET(p_lidt, "lidt 0x600000\n syscall\n");
SNIPPET(p_lldt, "lldt %ax\n syscall\n");
SNIPPET(p_ltr, "ltr %ax\n syscall\n");
SNIPPET(p_wrmsr, "wrmsr\n syscall\n");
SNIPPET(p_rdmsr, "rdmsr\n syscall\n");
SNIPPET(p_in, "in $0x60, %al\n syscall\n");
SNIPPET(p_out, "out %al, $0x80\n syscall\n");
SNIPPET(p_insb, "insb\n syscall\n");
SNIPPET(p_cli, "cli\n syscall\n");
SNIPPET(p_sti, "sti\n syscall\n");
SNIPPET(p_hlt, "hlt\n syscall\n");
SNIPPET(p_sysret, "sysretq\n syscall\n");
SNIPPET(p_sysexit, "sysexitq\n syscall\n");
SNIPPET(p_swapgs, "swapgs\n syscall\n");
SNIPPET(p_invlpg, "invlpg 0x600000\n syscall\n");
SNIPPET(p_invd, "invd\n syscall\n");
SNIPPET(p_wbinvd, "wbinvd\n syscall\n");
SNIPPET(p_clts, "clts\n syscall\n");
SNIPPET(p_lmsw, "lmsw %ax\n syscall\n");
SNIPPET(p_rdpmc, "rdpmc\n syscall\n");
SNIPPET(p_xsetbv, "xsetbv\n syscall\n");
SNIPPET(p_monitor, "monitor\n syscall\n");
SNIPPET(p_vmcall, "vmcall\n syscall\n");
/* a far call through the kernel's code selector (DPL 0) */
SNIPPET(p_lcall_k, "lcall *0x600100\n syscall\n");
/* iretq to CPL 0: frame rip, cs 0x08, rflags, rsp, ss 0x10 at 0x600100 */
SNIPPET(p_iret_k, "mov $0x600100, %esp\n iretq\n syscall\n");
/* the kernel's data selector into ss */
SNIPPET(p_ss_k, "mov $0x10, %eax\n mov %eax, %ss\n syscall\n");
/* a write into the kernel page (GDT, TSS) */
SNIPPET(p_gdt_w, "movabs $0xfffffffffffff000, %rbx\n movq $0, (%rbx)\n syscall\n");
/* popf of IOPL 3 is ignored at CPL 3: cli still faults */
SNIPPET(p_popf_cli, "pushq $0x3202\n popfq\n cli\n syscall\n");
/* a port access in the middle of a block */
SNIPPET(p_out_mid, "mov $7, %eax\n out %al, $0x80\n mov $5, %eax\n syscall\n");
/* the same once the kernel was asked for IOPL 3 (vcpu_set_regs) */
SNIPPET(p_cli_only, "cli\n syscall\n");

static const struct {
	const char *name;
	const uint8_t *start, *end;
} priv_cases[] = {
#define P(n, s)                                                                          \
	{                                                                                \
		n, s, s##_end                                                            \
	}
    P("mov dr7", p_dr7_w),
    P("mov dr0", p_dr0_w),
    P("read dr6", p_dr6_r),
    P("read cr0", p_cr0_r),
    P("mov cr3", p_cr3_w),
    P("mov cr4", p_cr4_w),
    P("lgdt", p_lgdt),
    P("lidt", p_lidt),
    P("lldt", p_lldt),
    P("ltr", p_ltr),
    P("wrmsr", p_wrmsr),
    P("rdmsr", p_rdmsr),
    P("in", p_in),
    P("out", p_out),
    P("insb", p_insb),
    P("cli", p_cli),
    P("sti", p_sti),
    P("hlt", p_hlt),
    P("sysret", p_sysret),
    P("sysexit", p_sysexit),
    P("swapgs", p_swapgs),
    P("invlpg", p_invlpg),
    P("invd", p_invd),
    P("wbinvd", p_wbinvd),
    P("clts", p_clts),
    P("lmsw", p_lmsw),
    P("rdpmc", p_rdpmc),
    P("xsetbv", p_xsetbv),
    P("monitor", p_monitor),
    P("vmcall", p_vmcall),
    P("lcall kernel", p_lcall_k),
    P("iretq to CPL 0", p_iret_k),
    P("mov ss", p_ss_k),
    P("write GDT", p_gdt_w),
    P("popf IOPL", p_popf_cli),
#undef P
};

static void data_frames(uint64_t *data)
{
	/* lcall's m16:64 at 0x600100 and iretq's frame at the same place */
	data[0x100 / 8] = CODE;
	data[0x108 / 8] = 0x08;
	data[0x110 / 8] = 0x2;
	data[0x118 / 8] = DATA + 0x800;
	data[0x120 / 8] = 0x10;
}

/* every privileged or system instruction faults; never a syscall after */
static void privileged_instructions_fault(void **state)
{
	for (size_t i = 0; i < sizeof(priv_cases) / sizeof(priv_cases[0]); i++) {
		struct fixture f;
		struct vcpu_trap t;

		print_message("privileged: %s\n", priv_cases[i].name);
		fixture_init(&f, priv_cases[i].start, priv_cases[i].end);
		data_frames(f.data);
		for (int k = 0; k < 2; k++) {
			run_trap(f.cpu, &t);
			assert_int_equal(t.why, VCPU_FAULT);
			assert_true(t.fault_kind == FAULT_OTHER ||
				    t.fault_kind == FAULT_ILLEGAL ||
				    t.fault_kind == FAULT_WRITE);
			assert_in_range(t.fault_ip, CODE, CODE + 16);
		}
		fixture_fini(&f);
	}
}

/* the measured cases and port accesses fault exactly at the
 * instruction, with #GP */
static void faults_at_the_instruction(void **state)
{
	struct fixture f;
	struct vcpu_trap t;

	FIXTURE(f, p_dr7_w);
	run_trap(f.cpu, &t);
	assert_int_equal(t.why, VCPU_FAULT);
	assert_int_equal(t.fault_kind, FAULT_OTHER);
	assert_int_equal(t.fault_ip, CODE);
	assert_int_equal(t.fault_addr, INTR_GP);
	fixture_fini(&f);
	FIXTURE(f, p_lgdt);
	run_trap(f.cpu, &t);
	assert_int_equal(t.fault_ip, CODE);
	assert_int_equal(t.fault_addr, INTR_GP);
	fixture_fini(&f);
	FIXTURE(f, p_out_mid);
	run_trap(f.cpu, &t);
	assert_int_equal(t.why, VCPU_FAULT);
	assert_int_equal(t.fault_ip, CODE + 5);
	assert_int_equal(t.fault_addr, INTR_GP);
	fixture_fini(&f);
}

/* IOPL never reaches the engine: set_regs masks it, cli still faults */
static void iopl_cannot_be_raised(void **state)
{
	struct fixture f;
	struct vcpu_trap t;
	struct cpu_regs r;

	FIXTURE(f, p_cli_only);
	vcpu_get_regs(f.cpu, &r);
	r.rflags |= RFLAGS_IOPL;
	vcpu_set_regs(f.cpu, &r);
	vcpu_get_regs(f.cpu, &r);
	assert_int_equal(r.rflags & RFLAGS_IOPL, 0);
	run_trap(f.cpu, &t);
	assert_int_equal(t.why, VCPU_FAULT);
	assert_int_equal(t.fault_addr, INTR_GP);
	fixture_fini(&f);
}

SNIPPET(nc_read, "movabs $0xffff800000000000, %rbx\n mov (%rbx), %rax\n syscall\n");
SNIPPET(nc_write, "movabs $0x0000800000000000, %rbx\n movq $1, (%rbx)\n syscall\n");
SNIPPET(nc_high, "movabs $0xfffffffffffff000, %rbx\n mov (%rbx), %rax\n"
		 " movabs $0xffffffffdead0000, %rbx\n mov (%rbx), %rax\n syscall\n");
SNIPPET(nc_exec, "movabs $0xffff900000001000, %rax\n jmp *%rax\n");

/* addresses above the lower half come back whole, not as 52 bits */
static void upper_addresses_in_full(void **state)
{
	struct fixture f;
	struct vcpu_trap t;

	FIXTURE(f, nc_read);
	run_trap(f.cpu, &t);
	assert_int_equal(t.why, VCPU_FAULT);
	assert_int_equal(t.fault_kind, FAULT_READ);
	assert_int_equal(t.fault_addr, 0xffff800000000000ULL);
	assert_int_equal(t.fault_ip, CODE + 10);
	fixture_fini(&f);
	FIXTURE(f, nc_write);
	run_trap(f.cpu, &t);
	assert_int_equal(t.fault_kind, FAULT_WRITE);
	assert_int_equal(t.fault_addr, 0x0000800000000000ULL);
	fixture_fini(&f);
	/* the kernel page may be read; the next upper address faults */
	FIXTURE(f, nc_high);
	run_trap(f.cpu, &t);
	assert_int_equal(t.fault_kind, FAULT_READ);
	assert_int_equal(t.fault_addr, 0xffffffffdead0000ULL);
	fixture_fini(&f);
	FIXTURE(f, nc_exec);
	run_trap(f.cpu, &t);
	assert_int_equal(t.fault_kind, FAULT_EXEC);
	assert_int_equal(t.fault_ip, 0xffff900000001000ULL);
	fixture_fini(&f);
}

SNIPPET(x_gp, "cli\n");
/* a 32-bit iret whose flags image has VM set: cs:ip 0x1234:0x10, flags
 * VM|IOPL 3, then ss:sp, es, ds, fs, gs */
SNIPPET(x_vm86, "mov $0x600800, %esp\n"
		"movl $0x10, (%rsp)\n movl $0x1234, 4(%rsp)\n movl $0x23002, 8(%rsp)\n"
		"movl $0x100, 12(%rsp)\n movl $0x2000, 16(%rsp)\n"
		" iretl\n syscall\n");
SNIPPET(x_count, "1: inc %rax\n syscall\n jmp 1b\n");

/* QEMU keeps a contributory exception until it is delivered through the
 * IDT, which never happens here: the second #GP of an engine would be a
 * double fault (8), the third a triple fault.  Each stays a #GP. */
static void exceptions_do_not_accumulate(void **state)
{
	struct fixture f;
	struct vcpu_trap t;

	FIXTURE(f, x_gp);
	for (int i = 0; i < 4; i++) {
		struct vcpu *cpu;
		struct cpu_regs r;

		assert_int_equal(vcpu_create(f.vs, &cpu), 0);
		vcpu_get_regs(cpu, &r);
		r.rip = CODE;
		vcpu_set_regs(cpu, &r);
		run_trap(cpu, &t);
		assert_int_equal(t.why, VCPU_FAULT);
		assert_int_equal(t.fault_addr, INTR_GP);
		vcpu_destroy(cpu);
	}
	fixture_fini(&f);
}

/* entering vm86 mode is a #GP of that thread; the next thread of the
 * address space runs in 64-bit mode as before */
static void vm86_is_a_fault(void **state)
{
	struct fixture f;
	struct vcpu_trap t;
	struct vcpu *cpu;
	struct cpu_regs r;

	FIXTURE(f, x_vm86);
	run_trap(f.cpu, &t);
	assert_int_equal(t.why, VCPU_FAULT);
	assert_int_equal(t.fault_kind, FAULT_OTHER);
	assert_int_equal(t.fault_addr, INTR_GP);
	memcpy(f.code + 0x100, x_count, x_count_end - x_count);
	assert_int_equal(vcpu_create(f.vs, &cpu), 0);
	vcpu_get_regs(cpu, &r);
	r.rip = CODE + 0x100;
	vcpu_set_regs(cpu, &r);
	for (int i = 1; i <= 3; i++) {
		run_trap(cpu, &t);
		assert_int_equal(t.why, VCPU_SYSCALL);
		vcpu_get_regs(cpu, &r);
		assert_int_equal(r.rax, i);
	}
	vcpu_destroy(cpu);
	fixture_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(privileged_instructions_fault),
	    cmocka_unit_test(faults_at_the_instruction),
	    cmocka_unit_test(iopl_cannot_be_raised),
	    cmocka_unit_test(upper_addresses_in_full),
	    cmocka_unit_test(exceptions_do_not_accumulate),
	    cmocka_unit_test(vm86_is_a_fault),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
