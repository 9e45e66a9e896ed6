/*
 * Memory of a task: the TASK_MAP_MEM regions (task address -> host memory),
 * mirrored into the guest vspace.  The kernel uses them to find the host
 * view of a guest thread's UTCB.
 */
#include <errno.h>
#include <stdlib.h>
#include "kernel/kernel.h"

#define PAGE_MASK 0xfffULL

static bool ranges_overlap(uint64_t a, uint64_t as, uint64_t b, uint64_t bs)
{
	return a < b + bs && b < a + as;
}

void *task_mem_host(struct task *t, uint64_t addr, uint64_t len)
{
	struct klist *l;

	for (l = t->regions.next; l != &t->regions; l = l->next) {
		struct mem_region *r = klist_entry(l, struct mem_region, link);

		if (addr >= r->addr && len <= r->size && addr - r->addr <= r->size - len)
			return r->host + (addr - r->addr);
	}
	return NULL;
}

/* Map host memory [host, host+size) at addr of t.  Returns enum kerr. */
unsigned task_mem_map(struct task *t, uint64_t host, uint64_t addr, uint64_t size,
		      unsigned perms)
{
	struct mem_region *r;
	struct klist *l;

	if ((host | addr | size) & PAGE_MASK || !size || !host ||
	    perms & ~(unsigned)(MEM_R | MEM_W | MEM_X))
		return KERR_INVAL;
	if (addr + size < addr || host + size < host)
		return KERR_RANGE;
	for (l = t->regions.next; l != &t->regions; l = l->next) {
		r = klist_entry(l, struct mem_region, link);
		if (ranges_overlap(addr, size, r->addr, r->size))
			return KERR_BUSY;
	}
	r = calloc(1, sizeof *r);
	if (!r)
		return KERR_NOMEM;
	if (t->vs) {
		int e = vspace_map(t->vs, addr, size, (void *)(uintptr_t)host, perms);
		if (e) {
			free(r);
			return e == -EEXIST   ? KERR_BUSY
			       : e == -ENOMEM ? KERR_NOMEM
					      : KERR_RANGE;
		}
	}
	r->addr = addr;
	r->size = size;
	r->host = (uint8_t *)(uintptr_t)host;
	r->perms = perms;
	klist_add_tail(&t->regions, &r->link);
	return KERR_OK;
}

/* A thread whose UTCB memory went away can do no more IPC: abort what it
 * waits for; its next syscall faults. */
static void task_mem_drop_utcbs(struct task *t, uint64_t addr, uint64_t size)
{
	struct klist *l;

	for (l = t->threads.next; l != &t->threads; l = l->next) {
		struct thread *th = klist_entry(l, struct thread, task_link);

		if (!th->utcb || th->own_utcb ||
		    !ranges_overlap(th->utcb_addr, sizeof(struct utcb), addr, size))
			continue;
		th->utcb = NULL;
		if (th->state == TS_BLOCKED)
			ipc_complete(th, kres(KERR_ABORTED), 0, false);
	}
}

/* Unmap every region inside [addr, addr+size); a region only partly inside
 * is an error (KERR_INVAL) and nothing changes.  Returns enum kerr. */
unsigned task_mem_unmap(struct task *t, uint64_t addr, uint64_t size)
{
	struct klist *l, *next;

	if ((addr | size) & PAGE_MASK || !size)
		return KERR_INVAL;
	if (addr + size < addr)
		return KERR_RANGE;
	for (l = t->regions.next; l != &t->regions; l = l->next) {
		struct mem_region *r = klist_entry(l, struct mem_region, link);

		if (ranges_overlap(addr, size, r->addr, r->size) &&
		    (r->addr < addr || r->addr + r->size > addr + size))
			return KERR_INVAL;
	}
	task_mem_drop_utcbs(t, addr, size);
	for (l = t->regions.next; l != &t->regions; l = next) {
		struct mem_region *r = klist_entry(l, struct mem_region, link);

		next = l->next;
		if (!ranges_overlap(addr, size, r->addr, r->size))
			continue;
		if (t->vs)
			vspace_unmap(t->vs, r->addr, r->size);
		klist_del(&r->link);
		free(r);
	}
	return KERR_OK;
}

/* Forget every region (task dies, its threads are gone).  The vspace is
 * destroyed next (task_kill) and its mappings with it: unmapping each
 * from the engine first flushed its TLB and code page by page, 3-4 ms of
 * the node's thread for a task of 256 MiB. */
void task_mem_fini(struct task *t)
{
	while (!klist_empty(&t->regions)) {
		struct mem_region *r =
		    klist_entry(t->regions.next, struct mem_region, link);

		klist_del(&r->link);
		free(r);
	}
}
