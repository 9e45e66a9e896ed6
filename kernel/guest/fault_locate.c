/*
 * Finding a faulting instruction, and the exact address of its access, in
 * a probe engine.
 *
 * A page fault (tlb_fill.c) leaves the registers at the faulting
 * instruction, but the TLB hook saw only the page: guest_fault_addr_at
 * runs that one instruction in the probe, whose first access gives the
 * address (an instruction whose first access is to another page, such as
 * a `movs` from a mapped source, keeps the page's start).
 *
 * The other faults that arrive from inside a block leave RIP at the start
 * of the translation block holding the faulting instruction (unicorn
 * issue #1323, still so in 2.1.1), while the registers already reflect
 * the block's instructions before it.  Resuming there would run those
 * again.  guest_fault_locate finds the faulting instruction: in a probe engine that
 * holds only a copy of the block's code pages, each instruction from the
 * block start is run alone (count 1) with the registers as they are now;
 * the first whose first memory access hits the faulting address with the
 * same kind is taken as the faulting one.  Nothing of the task changes:
 * the probe has no data memory, so every access in it faults.
 *
 * The block: with chained blocks RIP may name the block that jumped into
 * the faulting one (its instructions and the jump already done), so the
 * caller passes the block the block hook saw entered last, and the walk
 * ends at that block's end (code past it did not run; walking on could
 * match a later instruction that reads the same address).
 *
 * Port accesses (`in`, `out`, vspace.c) are found the same way: their
 * hook cannot stop the engine before the rest of the block has run, so
 * only RIP is exact for them, the other registers are those at the block's
 * end (the thread never resumes from such a fault).
 *
 * Limits: a block whose earlier instruction computes the same address
 * from the current registers (e.g. two stores through one register that
 * the block changes in between) is ambiguous; the first match wins.  If
 * nothing matches, RIP stays at the block start.
 */
#include <errno.h>
#include <stdlib.h>
#include "kernel/guest/guest.h"

#define PAGE	     0x1000ULL
#define CODE_PAGES   2
#define LOCATE_INSNS 256
#define LOCATE_UNTIL (~0ULL)
#define PROBE_REGS   20 /* rax..r15, rip, rflags, fs_base, gs_base */
/* Every locate maps code pages, runs single-instruction blocks and unmaps
 * the pages: the engine translates them anew each time into its
 * translation buffer, which Unicorn fills up to 1 GiB before reusing it
 * (10,000 data faults grew a node by 34 KB each).  Flushing the buffer
 * costs more than a fresh engine, so the probe is closed after this many
 * locates and made again on the next: a task's probe holds a few MB at
 * most, and the renewal is a small part of a fault's cost. */
#define PROBE_USES 32

static const int probe_ids[PROBE_REGS] = {
    UC_X86_REG_RAX, UC_X86_REG_RBX,    UC_X86_REG_RCX,	   UC_X86_REG_RDX,
    UC_X86_REG_RSI, UC_X86_REG_RDI,    UC_X86_REG_RBP,	   UC_X86_REG_RSP,
    UC_X86_REG_R8,  UC_X86_REG_R9,     UC_X86_REG_R10,	   UC_X86_REG_R11,
    UC_X86_REG_R12, UC_X86_REG_R13,    UC_X86_REG_R14,	   UC_X86_REG_R15,
    UC_X86_REG_RIP, UC_X86_REG_RFLAGS, UC_X86_REG_FS_BASE, UC_X86_REG_GS_BASE,
};

static void probe_code(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
	struct probe *p = user;

	if (!p->insn_size)
		p->insn_size = size;
}

static uint32_t probe_in(uc_engine *uc, uint32_t port, int size, void *user)
{
	((struct probe *)user)->port = true;
	return 0;
}

static void probe_out(uc_engine *uc, uint32_t port, int size, uint32_t value, void *user)
{
	((struct probe *)user)->port = true;
}

static void probe_intr(uc_engine *uc, uint32_t intno, void *user)
{
	((struct probe *)user)->exception = true;
	uc_emu_stop(uc);
}

static bool probe_mem(uc_engine *uc, uc_mem_type type, uint64_t addr, int size,
		      int64_t value, void *user)
{
	struct probe *p = user;

	if (!p->faulted) {
		p->faulted = true;
		p->kind = type == UC_MEM_WRITE_UNMAPPED || type == UC_MEM_WRITE_PROT
			      ? FAULT_WRITE
			  : type == UC_MEM_FETCH_UNMAPPED || type == UC_MEM_FETCH_PROT
			      ? FAULT_EXEC
			      : FAULT_READ;
		p->addr = guest_fault_addr(addr);
		p->size = size;
	}
	return false;
}

/* The probe engine of vs, made on first use.  NULL if that fails. */
static struct probe_engine *probe_get(struct vspace *vs)
{
	struct probe_engine *pe = vs->probe;
	uc_hook h;

	if (pe)
		return pe;
	pe = calloc(1, sizeof(*pe));
	if (!pe)
		return NULL;
	if (guest_uc_open(&pe->uc)) {
		free(pe);
		return NULL;
	}
	/* at CPL 3 like the guest: the walk may run instructions past the
	 * faulting one */
	if (guest_enable_sse(pe->uc) || guest_user_mode(pe->uc, &pe->user) ||
	    uc_hook_add(pe->uc, &h, UC_HOOK_CODE, probe_code, &pe->p, 1, 0) ||
	    uc_hook_add(pe->uc, &h, UC_HOOK_MEM_INVALID, probe_mem, &pe->p, 1, 0) ||
	    uc_hook_add(pe->uc, &h, UC_HOOK_INTR, probe_intr, &pe->p, 1, 0) ||
	    uc_hook_add(pe->uc, &h, UC_HOOK_INSN, probe_in, &pe->p, 1, 0,
			UC_X86_INS_IN) ||
	    uc_hook_add(pe->uc, &h, UC_HOOK_INSN, probe_out, &pe->p, 1, 0,
			UC_X86_INS_OUT)) {
		uc_close(pe->uc);
		guest_user_free(&pe->user);
		free(pe);
		return NULL;
	}
	vs->probe = pe;
	return pe;
}

void guest_probe_destroy(struct vspace *vs)
{
	if (!vs->probe)
		return;
	uc_close(vs->probe->uc);
	guest_user_free(&vs->probe->user);
	free(vs->probe);
	vs->probe = NULL;
}

/* Copy the code pages from the block start into the probe; how many. */
static unsigned probe_load_code(struct vspace *vs, struct probe_engine *pe, uint64_t page)
{
	uint8_t buf[PAGE];
	unsigned n;

	for (n = 0; n < CODE_PAGES; n++) {
		uint64_t a = page + n * PAGE;
		if (uc_mem_read(vs->uc, a, buf, PAGE) != UC_ERR_OK)
			break;
		if (uc_mem_map(pe->uc, a, PAGE, UC_PROT_READ | UC_PROT_EXEC) != UC_ERR_OK)
			break;
		uc_mem_write(pe->uc, a, buf, PAGE);
	}
	return n;
}

/* Run the one instruction at ip with regs r in the probe. */
static void probe_step(struct probe_engine *pe, struct cpu_regs *r, uint64_t ip)
{
	void *p[PROBE_REGS];
	uint64_t *gpr = &r->rax;

	r->rip = ip;
	for (int i = 0; i < PROBE_REGS; i++)
		p[i] = &gpr[i];
	uc_reg_write_batch(pe->uc, (int *)probe_ids, p, PROBE_REGS);
	pe->p = (struct probe){0};
	uc_emu_start(pe->uc, ip, LOCATE_UNTIL, 0, 1);
	/* the next step's #GP must not be a #DF, nor run in vm86 mode */
	if (pe->p.exception || guest_user_left(pe->uc))
		guest_user_reset(pe->uc, &pe->user);
}

/* Does the probed instruction's first access match a fault of kind at
 * addr (FAULT_OTHER: a port access, see vspace.c)? */
static bool probe_matches(const struct probe *p, unsigned kind, uint64_t addr)
{
	if (kind == FAULT_OTHER)
		return p->port;
	return p->faulted && p->kind == kind && p->addr <= addr &&
	       addr - p->addr < (uint64_t)(p->size > 0 ? p->size : 1);
}

/* Walk [start, end) one probed instruction at a time for the first whose
 * access matches. */
static int locate_walk(struct probe_engine *pe, const struct cpu_regs *now,
		       uint64_t start, uint64_t end, unsigned kind, uint64_t addr,
		       uint64_t *ip)
{
	struct cpu_regs r;

	for (unsigned i = 0; i < LOCATE_INSNS && start < end; i++) {
		r = *now;
		probe_step(pe, &r, start);
		if (!pe->p.insn_size)
			break;
		if (probe_matches(&pe->p, kind, addr)) {
			*ip = start;
			return 0;
		}
		start += pe->p.insn_size;
	}
	return -ENOENT;
}

int guest_fault_addr_at(struct vspace *vs, const struct cpu_regs *now, uint64_t page,
			uint64_t *addr)
{
	struct probe_engine *pe = probe_get(vs);
	uint64_t code = now->rip & ~(PAGE - 1);
	struct cpu_regs r = *now;
	const struct probe *p;
	unsigned pages;
	int err = -ENOENT;

	if (!pe)
		return -ENOMEM;
	pages = probe_load_code(vs, pe, code);
	probe_step(pe, &r, now->rip);
	p = &pe->p;
	if (p->faulted && p->addr < page + PAGE &&
	    p->addr + (uint64_t)(p->size > 0 ? p->size : 1) > page) {
		*addr = p->addr > page ? p->addr : page;
		err = 0;
	}
	if (pages)
		uc_mem_unmap(pe->uc, code, pages * PAGE);
	if (++pe->uses >= PROBE_USES)
		guest_probe_destroy(vs);
	return err;
}

int guest_fault_locate(struct vspace *vs, const struct cpu_regs *now, uint64_t start,
		       uint64_t block_end, unsigned kind, uint64_t addr, uint64_t *ip)
{
	struct probe_engine *pe = probe_get(vs);
	uint64_t page = start & ~(PAGE - 1), end;
	unsigned pages;
	int err;

	if (!pe)
		return -ENOMEM;
	pages = probe_load_code(vs, pe, page);
	end = page + pages * PAGE;
	if (block_end > start && block_end < end)
		end = block_end; /* past the block's end is code that did not run */
	err = locate_walk(pe, now, start, end, kind, addr, ip);
	if (pages)
		uc_mem_unmap(pe->uc, page, pages * PAGE);
	if (++pe->uses >= PROBE_USES)
		guest_probe_destroy(vs);
	return err;
}
