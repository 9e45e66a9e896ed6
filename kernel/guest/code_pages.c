/*
 * Self-modifying code: a page is either written or run, never both at
 * once.
 *
 * Unicorn 2.1.1 protects translated code with QEMU's "not dirty" mark on
 * the write entries of the engine's TLB: the first write to a page with
 * code takes the slow path and drops the translations it overlaps.  But
 * it then clears the mark at once (unicorn issue #2367), although the
 * page still holds the other blocks; later writes to them take the fast
 * path and the stale blocks run on.  A guest that rewrites a chain of
 * blocks saw one block per page change (tbfill: 263,168 instead of
 * 524,288 after its first rewrite).
 *
 * Since the kernel fills the engine's TLB itself (tlb_fill.c), it keeps
 * every page of a writable and executable mapping in one of two modes:
 *   - code: it was fetched from; its TLB entry has read and execute
 *     rights, no write;
 *   - data: its translations are gone; its entry has read and write
 *     rights, no execute.
 * A fetch from a data page turns it into code (the fill replaces the
 * page's entry, so the write right goes with it).  A write to a code page
 * is refused by the fill: the run stops at the writing instruction with
 * exact registers, vcpu.c calls guest_code_write_fault, which drops every
 * translation of the page (uc_ctl_remove_cache) and runs the instruction
 * again, now with a write entry.  Pages mapped without both rights are
 * left alone: they can hold no code that changes.
 *
 * A writing instruction whose own block lies on (or runs into) the page it
 * writes would lose its write right again each time its block is
 * translated: such a page becomes mixed, with all rights, and only
 * Unicorn's own check (the first write after each translation) guards it.
 *
 * Writes through another mapping of the same memory (a dataspace shared
 * with another task, or mapped twice) are code_shared.c's: such a range
 * leaves this file's modes.
 *
 * The mode of each page that was ever code is kept in a hash table of
 * page addresses (low bits: the mode), bounded by the pages the task has
 * mapped writable and executable.
 */
#include <errno.h>
#include <stdlib.h>
#include "kernel/guest/guest.h"

#define PAGE	     0x1000ULL
#define PAGE_MASK    (PAGE - 1)
#define CODE_MIN_CAP 64
#define PROT_WX	     (UC_PROT_WRITE | UC_PROT_EXEC)

enum { MODE_DATA = 1, MODE_CODE = 2, MODE_MIXED = 3 };

static size_t slot_of(const struct guest_code *c, uint64_t page)
{
	return (size_t)((page >> 12) * 0x9e3779b97f4a7c15ULL >> 20) & (c->cap - 1);
}

/* The slot of page (an empty one if it is not in the table). */
static uint64_t *code_slot(const struct guest_code *c, uint64_t page)
{
	size_t i = slot_of(c, page);

	while (c->slot[i] && (c->slot[i] & ~PAGE_MASK) != page)
		i = (i + 1) & (c->cap - 1);
	return &c->slot[i];
}

static unsigned code_mode(const struct guest_code *c, uint64_t page)
{
	return c->cap ? (unsigned)(*code_slot(c, page) & PAGE_MASK) : MODE_DATA;
}

/* Move the entries of c (those outside [lo, hi)) into a table of cap
 * slots.  0 or -ENOMEM (c unchanged). */
static int code_rehash(struct guest_code *c, size_t cap, uint64_t lo, uint64_t hi)
{
	struct guest_code n = {.slot = calloc(cap, sizeof(uint64_t)), .cap = cap};

	if (!n.slot)
		return -ENOMEM;
	for (size_t i = 0; i < c->cap; i++) {
		uint64_t page = c->slot[i] & ~PAGE_MASK;

		if (!c->slot[i] || (page >= lo && page < hi))
			continue;
		*code_slot(&n, page) = c->slot[i];
		n.n++;
	}
	free(c->slot);
	c->slot = n.slot;
	c->cap = n.cap;
	c->n = n.n;
	return 0;
}

/* Record page's mode.  0 or -ENOMEM. */
static int code_set(struct guest_code *c, uint64_t page, unsigned mode)
{
	uint64_t *s;

	if (!c->cap || 2 * (c->n + 1) > c->cap) {
		if (code_rehash(c, c->cap ? 2 * c->cap : CODE_MIN_CAP, 1, 0))
			return -ENOMEM;
	}
	s = code_slot(c, page);
	if (!*s)
		c->n++;
	*s = page | mode;
	return 0;
}

uint32_t guest_code_prot(struct vspace *vs, uint64_t page, uint32_t prot,
			 uc_mem_type type)
{
	struct guest_code *c = &vs->code;
	uint32_t need = type == UC_MEM_WRITE   ? UC_PROT_WRITE
			: type == UC_MEM_FETCH ? UC_PROT_EXEC
					       : UC_PROT_READ;
	unsigned mode;

	if ((prot & PROT_WX) != PROT_WX)
		return prot;
	mode = code_mode(c, page);
	if (mode == MODE_MIXED)
		return prot;
	if (type == UC_MEM_FETCH && mode != MODE_CODE) {
		if (code_set(c, page, MODE_CODE))
			return prot; /* no room to remember it: as before */
		mode = MODE_CODE;
	}
	prot &= mode == MODE_CODE ? ~UC_PROT_WRITE : ~UC_PROT_EXEC;
	if (!(prot & need)) {
		if (vs->running)
			c->write_fault = page; /* refused: a write to code */
		else
			c->pending = page; /* the engine's own lookup gets all
					    * it asks for: flush it later */
	} else if (c->pending == page && (prot & UC_PROT_WRITE)) {
		c->pending = 0; /* its entry is a write entry now */
	}
	return prot;
}

/*
 * After a run that ended in a page fault: was it a write to a code page?
 * Then drop the page's translations and say so (the caller runs the
 * writing instruction again).  rip is the writing instruction.
 *
 * Until the page's write entry replaces it, the TLB may still hold the
 * page's execute entry (the removal itself looked the page up for a
 * fetch): c->pending names the page, and guest_code_settle flushes the
 * TLB if the run ends before the write came.
 */
bool guest_code_write_fault(struct vspace *vs, uint64_t rip)
{
	struct guest_code *c = &vs->code;
	uint64_t page = c->write_fault, ip = rip & ~PAGE_MASK;

	c->write_fault = 0;
	if (!page || !vs->page_fault || vs->trap.fault_kind != FAULT_WRITE ||
	    vs->trap.fault_addr != page)
		return false;
	if (c->pending)
		uc_ctl_flush_tlb(vs->uc);
	uc_ctl_remove_cache(vs->uc, page, page + PAGE);
	/* the block that runs the write again starts on ip's page and may
	 * run into the next one */
	if (code_set(c, page, ip == page || ip + PAGE == page ? MODE_MIXED : MODE_DATA))
		return false;
	c->pending = page;
	c->rewrites++;
	return true;
}

void guest_code_settle(struct vspace *vs)
{
	struct guest_code *c = &vs->code;

	guest_share_settle(vs);
	c->write_fault = 0;
	if (c->pending) {
		uc_ctl_flush_tlb(vs->uc);
		c->pending = 0;
	}
}

void guest_code_unmap(struct vspace *vs, uint64_t addr, uint64_t size)
{
	struct guest_code *c = &vs->code;

	if (c->n)
		code_rehash(c, c->cap, addr, addr + size);
	if (c->pending >= addr && c->pending - addr < size)
		c->pending = 0;
}

void guest_code_free(struct vspace *vs)
{
	free(vs->code.slot);
	vs->code = (struct guest_code){0};
}
