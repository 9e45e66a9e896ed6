/*
 * Guests run at CPL 3.
 *
 * Unicorn starts an x86-64 engine at CPL 0, where every privileged or
 * system instruction (mov to CR/DR, lgdt, ltr, wrmsr, sysret, far calls
 * through gates, ...) reaches emulator code never meant for hostile input:
 * a call gate makes QEMU abort on the never-loaded task register, an
 * armed debug breakpoint flushes translated code from inside the running
 * block.  Instead of listing such instructions, each engine is moved to
 * CPL 3 once, the way a kernel enters user mode: a kernel-owned page holds
 * a GDT (flat 64-bit code and data, DPL 0 and 3), a TSS for the task
 * register, and an `iretq` to CPL 3.  From then on the CPU itself raises
 * #GP (or #UD) for every privileged instruction, which the engine reports
 * as an interrupt (UC_HOOK_INTR): a fault of that thread.
 *
 * Nothing brings the engine back to CPL 0: `syscall` is taken by the
 * engine's hook (it never loads the kernel's CS), Unicorn does not deliver
 * interrupts through the IDT while an interrupt hook exists, the GDT holds
 * no gate, the LDT is null and the guest can change neither the GDT (its
 * page is read-only to it) nor GDTR/LDTR/TR.  IOPL stays 0: the kernel
 * masks it out of every rflags it writes (guest_user_rflags), and popf at
 * CPL 3 cannot raise it.
 *
 * Where Unicorn differs from the CPU, the kernel makes up for it:
 *   - it never checks the I/O permission of `in`/`out` at CPL 3: port
 *     hooks make them a #GP (vspace.c);
 *   - it keeps a contributory exception pending (the next #GP would be a
 *     double fault, then a triple fault): after an exception the engine
 *     returns to the CPU state saved here (guest_user_reset);
 *   - a 32-bit `iret` with VM in its flags image enters virtual-8086 mode
 *     even in long mode: that is a #GP of the thread, and the engine is
 *     reset the same way (guest_user_left, vcpu.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "kernel/guest/guest.h"

/* The kernel page is the top page of the address space.  The engine
 * turns a linear address into a 52-bit physical one (paging is off), so
 * it is mapped at the top of that: above every address a guest can map
 * (below 2^47), reached through the canonical KPAGE_ADDR.  A guest may
 * read it (the GDT is no secret), never write or run it. */
#define KPAGE_ADDR GUEST_KPAGE_ADDR
#define KPAGE_PHYS GUEST_KPAGE_PHYS
#define KPAGE	   0x1000ULL
#define GDT_OFF	   0x000
#define TSS_OFF	   0x100
#define STUB_OFF   0x800
#define FRAME_OFF  0xf00

#define SEL_USER_CODE (3 * 8 | 3)
#define SEL_USER_DATA (4 * 8 | 3)
#define SEL_TSS	      (5 * 8)
#define TSS_LIMIT     103
#define TSS_IOMAP_OFF 102 /* 16-bit I/O map base: past the limit */

/* Descriptors with the accessed bit set (a segment load would otherwise
 * write it back into the read-only page). */
static const uint64_t gdt[] = {
    0,
    0x00af9b000000ffffULL, /* kernel code, 64-bit, DPL 0 (the stub's) */
    0x00cf93000000ffffULL, /* kernel data, DPL 0 */
    0x00affb000000ffffULL, /* user code, 64-bit, DPL 3 */
    0x00cff3000000ffffULL, /* user data, DPL 3 */
};

/* Flags a guest may hold: CF PF AF ZF SF TF DF OF NT AC ID (not IF, IOPL,
 * RF, VM, VIF, VIP); bit 1 always reads as 1. */
#define RFLAGS_USER 0x244fd5ULL
#define RFLAGS_ONE  0x2ULL

uint64_t guest_user_rflags(uint64_t rflags)
{
	return (rflags & RFLAGS_USER) | RFLAGS_ONE;
}

static void kpage_fill(uint8_t *kp)
{
	uint64_t *frame = (uint64_t *)(kp + FRAME_OFF);
	uint16_t iomap = TSS_LIMIT + 1;

	memset(kp, 0, KPAGE);
	memcpy(kp + GDT_OFF, gdt, sizeof(gdt));
	memcpy(kp + TSS_OFF + TSS_IOMAP_OFF, &iomap, sizeof(iomap));
	kp[STUB_OFF] = 0x48; /* iretq */
	kp[STUB_OFF + 1] = 0xcf;
	/* iretq's frame: rip (just past the stub), cs, rflags, rsp, ss */
	frame[0] = KPAGE_ADDR + STUB_OFF + 2;
	frame[1] = SEL_USER_CODE;
	frame[2] = RFLAGS_ONE;
	frame[3] = 0;
	frame[4] = SEL_USER_DATA;
}

/* Descriptor tables and task register: GDT and TSS in the kernel page,
 * no IDT (interrupts go to the hook), no LDT. */
static int user_mode_tables(uc_engine *uc)
{
	uc_x86_mmr gdtr = {0, KPAGE_ADDR + GDT_OFF, sizeof(gdt) - 1, 0};
	uc_x86_mmr idtr = {0, 0, 0, 0};
	uc_x86_mmr ldtr = {0, 0, 0, 0};
	/* present 64-bit available TSS (type 9, P) */
	uc_x86_mmr tr = {SEL_TSS, KPAGE_ADDR + TSS_OFF, TSS_LIMIT, 0x89 << 8};

	if (uc_reg_write(uc, UC_X86_REG_GDTR, &gdtr) ||
	    uc_reg_write(uc, UC_X86_REG_IDTR, &idtr) ||
	    uc_reg_write(uc, UC_X86_REG_LDTR, &ldtr) ||
	    uc_reg_write(uc, UC_X86_REG_TR, &tr))
		return -EIO;
	return 0;
}

/* Contract: uc is a fresh UC_MODE_64 engine without hooks.  Maps the
 * kernel page and leaves the engine at CPL 3 with its CPU state saved in
 * u->clean.  0 or -errno; guest_user_free(u) after uc_close either way. */
int guest_user_mode(uc_engine *uc, struct guest_user *u)
{
	uint64_t rsp = KPAGE_ADDR + FRAME_OFF, cs = 0;
	uint8_t *kp = aligned_alloc(KPAGE, KPAGE);
	int err;

	u->kpage = kp;
	u->clean = NULL;
	if (!kp)
		return -ENOMEM;
	kpage_fill(kp);
	err = guest_uc_errno(uc_mem_map_ptr(uc, KPAGE_PHYS, KPAGE, UC_PROT_ALL, kp));
	if (err)
		return err;
	if (user_mode_tables(uc) || uc_reg_write(uc, UC_X86_REG_RSP, &rsp) ||
	    uc_emu_start(uc, KPAGE_ADDR + STUB_OFF, KPAGE_ADDR + STUB_OFF + 2, 0, 0) ||
	    uc_reg_read(uc, UC_X86_REG_CS, &cs) || cs != SEL_USER_CODE)
		return -EIO;
	/* the guest may read the tables, never write them */
	if (uc_mem_protect(uc, KPAGE_PHYS, KPAGE, UC_PROT_READ))
		return -EIO;
	rsp = 0;
	uc_reg_write(uc, UC_X86_REG_RSP, &rsp);
	if (uc_context_alloc(uc, &u->clean) || uc_context_save(uc, u->clean))
		return -ENOMEM;
	return 0;
}

/*
 * Forget the exceptions raised so far.  The CPU remembers a contributory
 * exception (#DE, #GP, ...) until it has been delivered through the IDT,
 * which Unicorn never does while an interrupt hook exists: the next #GP
 * of any thread of the engine would be a double fault, the one after it
 * a triple fault.  Restoring the CPU state saved at CPL 3 forgets it; the
 * caller reloads the guest registers afterwards.
 */
int guest_user_reset(uc_engine *uc, struct guest_user *u)
{
	return uc_context_restore(uc, u->clean) ? -EIO : 0;
}

/* Has the engine left 64-bit mode?  QEMU lets a 32-bit `iret` at CPL 3
 * whose flags image has VM set enter virtual-8086 mode (no CPU does that
 * in long mode), with segment bases taken from the stack; the segment
 * state is not part of a thread's registers, so it would stay for every
 * thread of the task.  It is a #GP of the thread that did it. */
bool guest_user_left(uc_engine *uc)
{
	uint64_t rflags = 0;

	uc_reg_read(uc, UC_X86_REG_RFLAGS, &rflags);
	return rflags & GUEST_RFLAGS_VM;
}

void guest_user_free(struct guest_user *u)
{
	if (u->clean)
		uc_context_free(u->clean);
	free(u->kpage);
	u->clean = NULL;
	u->kpage = NULL;
}
