/*
 * Guest threads: register contexts on a shared engine, and running them.
 *
 * Several vcpus share their vspace's engine.  The engine holds the
 * registers of at most one of them (vs->loaded); they are written into the
 * engine only when another vcpu runs next or after vcpu_set_regs, and read
 * back only when another vcpu is loaded or vcpu_get_regs asks.  The
 * syscall accessors touch only the registers they need, so the common
 * path "trap, read args, set result, run again" moves a handful of words.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "kernel/guest/guest.h"

#define SYSCALL_INSN_LEN 2	   /* 0f 05 */
#define RUN_UNTIL	 (~0ULL)   /* ignored: the engine uses exits (tlb_fill.c) */
#define INTR_GP		 13	   /* general protection, as the CPU reports it */
#define RFLAGS_RESERVED	 0x2ULL	   /* bit 1 always reads as 1 */
#define MXCSR_DEFAULT	 0x1f80ULL /* all exceptions masked */
#define FPCW_DEFAULT	 0x037f	   /* FNINIT: masked, 64-bit, to nearest */
#define FPTAG_EMPTY	 0xffff	   /* FNINIT: every x87 register empty */
/* GPRs, rip, rflags, bases, mxcsr, xmm; x87 control, status, tag, R0..R7 */
#define REGS_COUNT (21 + 16 + 3 + 8)

/* Engine register ids in the order regs_ptrs() lists the fields.  FP0..7
 * are the physical x87 registers: ST0..7 would depend on TOP, so they
 * would have to follow FPSW in a write. */
static int regs_ids[REGS_COUNT] = {
    UC_X86_REG_RAX,   UC_X86_REG_RBX,	 UC_X86_REG_RCX,     UC_X86_REG_RDX,
    UC_X86_REG_RSI,   UC_X86_REG_RDI,	 UC_X86_REG_RBP,     UC_X86_REG_RSP,
    UC_X86_REG_R8,    UC_X86_REG_R9,	 UC_X86_REG_R10,     UC_X86_REG_R11,
    UC_X86_REG_R12,   UC_X86_REG_R13,	 UC_X86_REG_R14,     UC_X86_REG_R15,
    UC_X86_REG_RIP,   UC_X86_REG_RFLAGS, UC_X86_REG_FS_BASE, UC_X86_REG_GS_BASE,
    UC_X86_REG_MXCSR, UC_X86_REG_XMM0,	 UC_X86_REG_XMM1,    UC_X86_REG_XMM2,
    UC_X86_REG_XMM3,  UC_X86_REG_XMM4,	 UC_X86_REG_XMM5,    UC_X86_REG_XMM6,
    UC_X86_REG_XMM7,  UC_X86_REG_XMM8,	 UC_X86_REG_XMM9,    UC_X86_REG_XMM10,
    UC_X86_REG_XMM11, UC_X86_REG_XMM12,	 UC_X86_REG_XMM13,   UC_X86_REG_XMM14,
    UC_X86_REG_XMM15, UC_X86_REG_FPCW,	 UC_X86_REG_FPSW,    UC_X86_REG_FPTAG,
    UC_X86_REG_FP0,   UC_X86_REG_FP1,	 UC_X86_REG_FP2,     UC_X86_REG_FP3,
    UC_X86_REG_FP4,   UC_X86_REG_FP5,	 UC_X86_REG_FP6,     UC_X86_REG_FP7,
};

_Static_assert(offsetof(struct cpu_regs, gs_base) == 19 * 8 &&
		   offsetof(struct cpu_regs, mxcsr) == 20 * 8,
	       "cpu_regs: rax..gs_base must be 20 consecutive words");

/* Pointers to r's fields in regs_ids order.  MXCSR is 32 bits in the
 * engine: it goes through *mxcsr32.  The x87 fields have the engine's
 * sizes (16-bit words, 10-byte registers). */
static void regs_ptrs(struct cpu_regs *r, uint32_t *mxcsr32, void **p)
{
	uint64_t *gpr = &r->rax;

	for (int i = 0; i < 20; i++)
		p[i] = &gpr[i]; /* rax..r15, rip, rflags, fs_base, gs_base */
	p[20] = mxcsr32;
	for (int i = 0; i < 16; i++)
		p[21 + i] = r->xmm[i];
	p[37] = &r->fpcw;
	p[38] = &r->fpsw;
	p[39] = &r->fptag;
	for (int i = 0; i < 8; i++)
		p[40 + i] = r->fpr[i];
}

static void regs_to_engine(struct vspace *vs, struct cpu_regs *r)
{
	uint32_t mxcsr = (uint32_t)r->mxcsr;
	void *p[REGS_COUNT];

	regs_ptrs(r, &mxcsr, p);
	uc_reg_write_batch(vs->uc, regs_ids, p, REGS_COUNT);
}

static void regs_from_engine(struct vspace *vs, struct cpu_regs *r)
{
	uint32_t mxcsr = 0;
	void *p[REGS_COUNT];

	regs_ptrs(r, &mxcsr, p);
	uc_reg_read_batch(vs->uc, regs_ids, p, REGS_COUNT);
	r->mxcsr = mxcsr;
}

/* True if the engine holds cpu's authoritative registers. */
static bool vcpu_in_engine(const struct vcpu *cpu)
{
	return cpu->vs->loaded == cpu && !cpu->dirty;
}

/* Save the loaded vcpu's registers and forget it. */
static void vspace_unload(struct vspace *vs)
{
	struct vcpu *old = vs->loaded;

	if (!old)
		return;
	if (!old->dirty)
		regs_from_engine(vs, &old->regs);
	old->dirty = false;
	vs->loaded = NULL;
}

/* Make the engine hold cpu's registers.  Returns true if it wrote them
 * (so cpu->regs.rip is current). */
static bool vcpu_load(struct vcpu *cpu)
{
	struct vspace *vs = cpu->vs;

	if (vcpu_in_engine(cpu))
		return false;
	if (vs->loaded != cpu)
		vspace_unload(vs);
	regs_to_engine(vs, &cpu->regs);
	vs->loaded = cpu;
	cpu->dirty = false;
	return true;
}

/* Contract: *out is a vcpu with zeroed registers (rflags, mxcsr and the
 * x87 control and tag words at their reset values), not loaded.  0 or
 * -ENOMEM. */
int vcpu_create(struct vspace *vs, struct vcpu **out)
{
	struct vcpu *cpu = calloc(1, sizeof(*cpu));

	if (!cpu)
		return -ENOMEM;
	cpu->vs = vs;
	cpu->regs.rflags = RFLAGS_RESERVED;
	cpu->regs.mxcsr = MXCSR_DEFAULT;
	/* Unicorn's reset leaves the x87 control word 0, which written back
	 * would mean 24-bit precision and no masked exception: start from
	 * FNINIT's state instead, as a Linux process does */
	cpu->regs.fpcw = FPCW_DEFAULT;
	cpu->regs.fptag = FPTAG_EMPTY;
	*out = cpu;
	return 0;
}

/* Contract: cpu is not running. */
void vcpu_destroy(struct vcpu *cpu)
{
	if (!cpu)
		return;
	if (cpu->vs->loaded == cpu)
		cpu->vs->loaded = NULL;
	if (cpu->vs->sys_cpu == cpu)
		cpu->vs->sys_cpu = NULL;
	free(cpu);
}

void vcpu_get_regs(struct vcpu *cpu, struct cpu_regs *out)
{
	if (vcpu_in_engine(cpu))
		regs_from_engine(cpu->vs, &cpu->regs);
	*out = cpu->regs;
}

void vcpu_set_regs(struct vcpu *cpu, const struct cpu_regs *in)
{
	cpu->regs = *in;
	cpu->regs.rflags = guest_user_rflags(in->rflags);
	cpu->regs.mxcsr &= 0xffffffffULL;
	cpu->regs.fp_reserved = 0;
	if (cpu->vs->loaded == cpu)
		cpu->dirty = true;
}

void vcpu_syscall_args(struct vcpu *cpu, uint64_t *kcap, uint64_t *tag, uint64_t *timeout)
{
	struct vspace *vs = cpu->vs;

	if (vs->sys_cpu == cpu && vcpu_in_engine(cpu)) {
		*kcap = vs->sys_args[0];
		*tag = vs->sys_args[1];
		*timeout = vs->sys_args[2];
		return;
	}
	if (vcpu_in_engine(cpu)) {
		int ids[3] = {UC_X86_REG_RDI, UC_X86_REG_RSI, UC_X86_REG_RDX};
		void *p[3] = {kcap, tag, timeout};

		uc_reg_read_batch(cpu->vs->uc, ids, p, 3);
		return;
	}
	*kcap = cpu->regs.rdi;
	*tag = cpu->regs.rsi;
	*timeout = cpu->regs.rdx;
}

void vcpu_syscall_result(struct vcpu *cpu, uint64_t tag, uint64_t label)
{
	if (vcpu_in_engine(cpu)) {
		int ids[2] = {UC_X86_REG_RAX, UC_X86_REG_RDX};
		void *p[2] = {&tag, &label};

		uc_reg_write_batch(cpu->vs->uc, ids, p, 2);
		return;
	}
	cpu->regs.rax = tag;
	cpu->regs.rdx = label;
}

void vcpu_rewind_syscall(struct vcpu *cpu)
{
	if (vcpu_in_engine(cpu)) {
		uint64_t rip = 0;

		uc_reg_read(cpu->vs->uc, UC_X86_REG_RIP, &rip);
		rip -= SYSCALL_INSN_LEN;
		uc_reg_write(cpu->vs->uc, UC_X86_REG_RIP, &rip);
		return;
	}
	cpu->regs.rip -= SYSCALL_INSN_LEN;
}

static unsigned err_fault_kind(uc_err err)
{
	switch (err) {
	case UC_ERR_READ_UNMAPPED:
	case UC_ERR_READ_PROT:
	case UC_ERR_READ_UNALIGNED:
		return FAULT_READ;
	case UC_ERR_WRITE_UNMAPPED:
	case UC_ERR_WRITE_PROT:
	case UC_ERR_WRITE_UNALIGNED:
		return FAULT_WRITE;
	case UC_ERR_FETCH_UNMAPPED:
	case UC_ERR_FETCH_PROT:
	case UC_ERR_FETCH_UNALIGNED:
		return FAULT_EXEC;
	case UC_ERR_INSN_INVALID:
		return FAULT_ILLEGAL;
	default:
		return FAULT_OTHER;
	}
}

/*
 * Classify the end of a run.  A hook's record wins (a syscall or fault
 * that raced with the watchdog's stop is still reported); then an error
 * without a hook record; then the watchdog's stop.  A clean stop nobody
 * asked for is `hlt`: a fault.
 */
static void vcpu_classify(struct vcpu *cpu, uc_err err, bool stopped,
			  struct vcpu_trap *trap)
{
	struct vspace *vs = cpu->vs;
	uint64_t rip = 0;

	if (vs->trap.why) {
		*trap = vs->trap;
		return;
	}
	if (err == UC_ERR_OK && stopped) {
		*trap = (struct vcpu_trap){.why = VCPU_PREEMPTED};
		return;
	}
	uc_reg_read(vs->uc, UC_X86_REG_RIP, &rip);
	trap->why = VCPU_FAULT;
	trap->fault_kind = err == UC_ERR_OK ? FAULT_OTHER : err_fault_kind(err);
	trap->fault_ip = rip;
	trap->fault_addr = 0;
}

/* A page fault (tlb_fill.c) left the registers at the faulting
 * instruction: report it, and the address of the access, which the TLB
 * hook saw only as its page.  A fetch fault's address is RIP if RIP is
 * in the page (the start of an instruction that ran over into it: the
 * page's start). */
static void vcpu_page_fault(struct vcpu *cpu, struct vcpu_trap *trap)
{
	struct vspace *vs = cpu->vs;
	uint64_t page = trap->fault_addr, addr;
	struct cpu_regs r;

	regs_from_engine(vs, &r);
	trap->fault_ip = r.rip;
	if (trap->fault_kind == FAULT_EXEC)
		trap->fault_addr = r.rip >= page && r.rip - page < 0x1000 ? r.rip : page;
	else if (guest_fault_addr_at(vs, &r, page, &addr) == 0)
		trap->fault_addr = addr;
}

/* A port access (and an access the TLB hook let through to memory the
 * engine has no mapping for) leaves RIP at the start of its translation
 * block (see fault_locate.c): move it to the faulting instruction, so
 * that the trap reports it and resuming after the pager mapped the page
 * runs exactly the rest of the thread. */
static void vcpu_fault_exact(struct vcpu *cpu, struct vcpu_trap *trap)
{
	struct vspace *vs = cpu->vs;
	struct cpu_regs r;
	uint64_t ip;

	if (trap->why == VCPU_FAULT && vs->page_fault) {
		vcpu_page_fault(cpu, trap);
		return;
	}
	if (trap->why != VCPU_FAULT ||
	    (trap->fault_kind != FAULT_READ && trap->fault_kind != FAULT_WRITE &&
	     !vs->port_fault))
		return;
	regs_from_engine(vs, &r);
	/* the block hook saw the block the fault is in; RIP may name the
	 * block that jumped into it (chained blocks) */
	if (vs->block && guest_fault_locate(vs, &r, vs->block, vs->block_end,
					    trap->fault_kind, trap->fault_addr, &ip) == 0)
		goto found;
	if (guest_fault_locate(vs, &r, trap->fault_ip, 0, trap->fault_kind,
			       trap->fault_addr, &ip))
		return;
found:
	uc_reg_write(vs->uc, UC_X86_REG_RIP, &ip);
	trap->fault_ip = ip;
}

/* rflags after a run; for a syscall read in one batch with its arguments
 * (vcpu_syscall_args takes them from there): the check costs the
 * syscall path no extra engine call. */
static uint64_t vcpu_exit_flags(struct vcpu *cpu, const struct vcpu_trap *trap)
{
	struct vspace *vs = cpu->vs;
	uint64_t rflags = 0;

	if (trap->why == VCPU_SYSCALL) {
		int ids[4] = {UC_X86_REG_RDI, UC_X86_REG_RSI, UC_X86_REG_RDX,
			      UC_X86_REG_RFLAGS};
		void *p[4] = {&vs->sys_args[0], &vs->sys_args[1], &vs->sys_args[2],
			      &rflags};

		uc_reg_read_batch(vs->uc, ids, p, 4);
		vs->sys_cpu = cpu;
		return rflags;
	}
	uc_reg_read(vs->uc, UC_X86_REG_RFLAGS, &rflags);
	return rflags;
}

/* After a run: an exception or the move to vm86 mode (user_mode.c)
 * leaves CPU state that is no thread's.  The registers go back to
 * cpu->regs, the engine returns to its state right after the move to
 * CPL 3 and gets them back on the next run.  Leaving 64-bit mode is a #GP
 * of the thread (whatever trap the run ended with). */
static void vcpu_user_check(struct vcpu *cpu, struct vcpu_trap *trap)
{
	struct vspace *vs = cpu->vs;
	bool left = vcpu_exit_flags(cpu, trap) & GUEST_RFLAGS_VM;

	if (left) {
		vs->sys_cpu = NULL;
		uint64_t rip = 0;

		uc_reg_read(vs->uc, UC_X86_REG_RIP, &rip);
		*trap = (struct vcpu_trap){.why = VCPU_FAULT,
					   .fault_kind = FAULT_OTHER,
					   .fault_ip = rip,
					   .fault_addr = INTR_GP};
	}
	if (left || vs->exception) {
		vspace_unload(vs);
		guest_user_reset(vs->uc, &vs->user);
	}
}

static void vcpu_run_reset(struct vspace *vs)
{
	memset(&vs->trap, 0, sizeof(vs->trap));
	vs->block = vs->block_end = 0;
	vs->port_fault = vs->exception = vs->page_fault = false;
}

/* A run that ended at a write to a page of translated code
 * (code_pages.c) goes on at the writing instruction, as does one that
 * ended at an access the record of shared code refused (code_shared.c). */
static bool vcpu_code_written(struct vspace *vs, uc_err err, uint64_t *rip)
{
	if (err == UC_ERR_OK || !vs->page_fault)
		return false;
	uc_reg_read(vs->uc, UC_X86_REG_RIP, rip);
	return guest_code_write_fault(vs, *rip) || guest_share_fault(vs, *rip);
}

/* Contract: cpu is not running and its vspace runs nothing else.  Runs
 * it until a syscall, a fault, the watchdog's stop at until_us or *kick
 * set. */
void vcpu_run_until(struct vcpu *cpu, uint64_t until_us, _Atomic uint64_t *kick,
		    struct vcpu_trap *trap)
{
	struct vspace *vs = cpu->vs;
	uint64_t rip = 0;
	bool stopped;
	uc_err err;

	if (vcpu_load(cpu))
		rip = cpu->regs.rip;
	else
		uc_reg_read(vs->uc, UC_X86_REG_RIP, &rip);
	vs->sys_cpu = NULL;
	vs->kick = kick;
	guest_tb_run_begin(vs);
	guest_code_settle(vs);
	wd_run_begin(&vs->wd, until_us * 1000ULL);
	do {
		vcpu_run_reset(vs);
		vs->running = true;
		err = uc_emu_start(vs->uc, rip, RUN_UNTIL, 0, 0);
		vs->running = false;
	} while (vcpu_code_written(vs, err, &rip));
	guest_code_settle(vs);
	stopped = wd_run_end(&vs->wd) || vs->kicked || guest_tb_stopped(vs);
	vs->kick = NULL;
	vs->kicked = false;
	vcpu_classify(cpu, err, stopped, trap);
	vcpu_fault_exact(cpu, trap);
	vcpu_user_check(cpu, trap);
}

void vcpu_run(struct vcpu *cpu, unsigned slice_us, struct vcpu_trap *trap)
{
	vcpu_run_until(cpu, wd_now_ns() / 1000ULL + slice_us, NULL, trap);
}
