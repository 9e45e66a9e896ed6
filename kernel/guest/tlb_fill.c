/*
 * Exact data faults: the engine's TLB is filled by the kernel.
 *
 * Unicorn 2.1.1 reports an access to unmapped or protected memory from
 * inside the translated block, without bringing the CPU state up to the
 * faulting instruction: RIP is the block's start and the lazily computed
 * flags are left half-way (the operands of the last flag-setting
 * instruction with the operation of an earlier one, whose value as RFLAGS
 * is made up; it once carried the VM bit and turned a page fault into a
 * #GP).  The registers saved at such a fault cannot be made exact after
 * the fact: what the flags should be is known only to the translator.
 *
 * A page fault, on the other hand, is raised the way QEMU raises every
 * exception inside a block: it first restores RIP and the flags' state
 * from the translator's record of the faulting instruction.  So each
 * engine runs with Unicorn's "virtual" TLB, whose misses come to
 * hook_tlb_fill: a page the task has mapped with the needed access is
 * entered (linear = physical, as before), any other access is refused and
 * becomes that page fault.  The hook sees only the page; after the run
 * vcpu.c asks fault_locate.c for the exact address of the access by
 * running the faulting instruction in the probe engine.
 *
 * The table the hook reads is the task's mappings with their access
 * rights (vspace_map / vspace_unmap keep it), sorted by address.  A miss
 * costs a binary search; it happens once per page until the engine's TLB
 * drops the entry.  Unmapping flushes the pages from the engine's TLB
 * (uc_mem_unmap), so a page that went away faults again.
 *
 * The kernel page (user_mode.c) is the one mapping outside the table: at
 * its linear address, read-only, backed by its physical page.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "kernel/guest/guest.h"

#define PAGE_MASK 0xfffULL

/* Index of the first range that ends after addr (m->n: none). */
static size_t map_find(const struct guest_map *m, uint64_t addr)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->r[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct guest_range *guest_map_range(const struct guest_map *m, uint64_t addr)
{
	size_t i = map_find(m, addr);

	return i < m->n && m->r[i].start <= addr ? &m->r[i] : NULL;
}

/* Room for want ranges.  0 or -ENOMEM. */
static int map_reserve(struct guest_map *m, size_t want)
{
	struct guest_range *r;
	size_t cap;

	if (want <= m->cap)
		return 0;
	cap = m->cap ? m->cap * 2 : 16;
	while (cap < want)
		cap *= 2;
	r = realloc(m->r, cap * sizeof(*r));
	if (!r)
		return -ENOMEM;
	m->r = r;
	m->cap = cap;
	return 0;
}

int guest_map_prepare(struct guest_map *m)
{
	return map_reserve(m, m->n + 1);
}

void guest_map_add(struct guest_map *m, uint64_t addr, uint64_t size, uint32_t prot,
		   uint8_t *host)
{
	size_t i = map_find(m, addr);

	memmove(&m->r[i + 1], &m->r[i], (m->n - i) * sizeof(m->r[0]));
	m->r[i] = (struct guest_range){addr, addr + size, prot, false, host};
	m->n++;
}

void guest_map_remove(struct guest_map *m, uint64_t addr, uint64_t size)
{
	uint64_t end = addr + size;
	size_t i = map_find(m, addr), j;

	if (i < m->n && m->r[i].start < addr && m->r[i].end > end) {
		/* inside one range: split it (guest_map_prepare made room) */
		memmove(&m->r[i + 1], &m->r[i], (m->n - i) * sizeof(m->r[0]));
		m->n++;
		m->r[i].end = addr;
		m->r[i + 1].host += end - m->r[i + 1].start;
		m->r[i + 1].start = end;
		return;
	}
	if (i < m->n && m->r[i].start < addr) {
		m->r[i].end = addr;
		i++;
	}
	for (j = i; j < m->n && m->r[j].end <= end; j++)
		;
	if (j < m->n && m->r[j].start < end) {
		m->r[j].host += end - m->r[j].start;
		m->r[j].start = end;
	}
	memmove(&m->r[i], &m->r[j], (m->n - j) * sizeof(m->r[0]));
	m->n -= j - i;
}

void guest_map_free(struct guest_map *m)
{
	free(m->r);
	*m = (struct guest_map){0};
}

static unsigned tlb_fault_kind(uc_mem_type type)
{
	return type == UC_MEM_WRITE   ? FAULT_WRITE
	       : type == UC_MEM_FETCH ? FAULT_EXEC
				      : FAULT_READ;
}

static uint32_t tlb_need(uc_mem_type type)
{
	return type == UC_MEM_WRITE   ? UC_PROT_WRITE
	       : type == UC_MEM_FETCH ? UC_PROT_EXEC
				      : UC_PROT_READ;
}

/* A TLB miss at page vaddr: enter the page, or refuse and record the
 * fault (the engine raises it with the state at the faulting
 * instruction).
 *
 * Outside a run the engine looks pages up for itself: uc_mem_unmap finds
 * the code of the range it drops this way.  A refusal there would leave
 * an error in the engine that fails every later uc_mem_map, so such a
 * lookup is answered with what it asks for; the entry is flushed with the
 * range right after (uc_mem_unmap and uc_mem_map flush the TLB). */
static bool hook_tlb_fill(uc_engine *uc, uint64_t vaddr, uc_mem_type type,
			  uc_tlb_entry *e, void *user)
{
	struct vspace *vs = user;
	bool kpage = vaddr == GUEST_KPAGE_ADDR;
	struct guest_range *r = kpage ? NULL : guest_map_range(&vs->map, vaddr);
	uint32_t prot = kpage ? UC_PROT_READ : r ? r->prot : 0;

	if (r && r->shared)
		prot = guest_share_prot(vs, r, vaddr, type);
	else if (!kpage)
		prot = guest_code_prot(vs, vaddr, prot, type);
	if (!vs->running)
		prot |= tlb_need(type);
	if (!(prot & tlb_need(type))) {
		if (!vs->trap.why) {
			vs->trap = (struct vcpu_trap){.why = VCPU_FAULT,
						      .fault_kind = tlb_fault_kind(type),
						      .fault_addr = vaddr};
			vs->page_fault = true;
		}
		return false;
	}
	e->paddr = kpage ? GUEST_KPAGE_PHYS : vaddr;
	e->perms = prot;
	return true;
}

/*
 * The engine is told to use its list of exit addresses, which stays
 * empty: with a single `until` address instead, every uc_emu_start ends
 * by looking up the code page of until - 1 to drop blocks translated
 * there, a lookup this hook would refuse (the top page is no code), and
 * the refusal leaves a fault behind in the engine.  vcpu.c's runs end by
 * a hook's stop only, never at an address.
 */
int guest_tlb_init(struct vspace *vs)
{
	if (uc_ctl_exits_enable(vs->uc) || uc_ctl_tlb_mode(vs->uc, UC_TLB_VIRTUAL) ||
	    uc_hook_add(vs->uc, &vs->tlb_hook, UC_HOOK_TLB_FILL, hook_tlb_fill, vs, 1, 0))
		return -EIO;
	/* forget what the move to CPL 3 entered the CPU's way */
	return uc_ctl_flush_tlb(vs->uc) ? -EIO : 0;
}

uint32_t guest_map_uc_prot(unsigned perms)
{
	uint32_t prot = 0;

	if (perms & MEM_R)
		prot |= UC_PROT_READ;
	if (perms & MEM_W)
		prot |= UC_PROT_WRITE;
	if (perms & MEM_X)
		prot |= UC_PROT_EXEC;
	return prot;
}
