/*
 * Code in shared memory: a page one engine runs and another writes.
 *
 * code_pages.c keeps each engine's own writes and fetches of a page
 * apart, but a dataspace can be mapped by several tasks (a JIT's producer
 * and consumer, a loader and the task it loads) or twice by one (a JIT's
 * writable and executable views).  A write through one mapping changes
 * the code translated through another, which its engine never sees: it
 * ran the blocks it translated first for ever.
 *
 * So the process keeps one record per host page (the "physical" page: a
 * dataspace's page, whatever address it is mapped at) of which engines
 * hold it as code, and at which of their addresses.  It is kept only for
 * shared ranges: a mapping whose host pages another mapping (of any
 * engine, or another one of the same engine) also maps, one of them
 * writable and the other executable.  vspace_map finds them; the TLB
 * hook (tlb_fill.c) of every other range costs what it did before.
 *
 * In a shared range the TLB entry of a page follows the record:
 *   - a page held as code by any engine has no write right anywhere;
 *   - an engine may execute it only at an address it is recorded at.
 * An access these refuse stops the run at the exact instruction
 * (page fault through the TLB hook) and vcpu.c calls guest_share_fault
 * outside the run:
 *   - a fetch: the engine is recorded as holding the page at that
 *     address, and every engine with a writable mapping of the page
 *     flushes its TLB (the running one now, the others before their next
 *     run), so their next write to it faults too;
 *   - a write: every holder's translations of the page are dropped
 *     (uc_ctl_remove_cache: the writer's now, the others' before their
 *     next run, guest_share_settle), the record is emptied and the write
 *     goes on.
 * Only the node's scheduler thread runs a node's engines, so the others
 * are never inside a run when their work is queued; a node never shares
 * host memory with another, but the record is the process's and has a
 * lock.
 *
 * A writing instruction that lies on the page it writes (through any of
 * its mappings) would lose its translation at every write: its engine
 * holds the page "mixed", with all rights, as long as no other engine
 * holds it (code_pages.c does the same for a private page), and only
 * Unicorn's own check guards the engine's own blocks there.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include "kernel/guest/guest.h"

#define PAGE	    0x1000ULL
#define PAGE_MASK   (PAGE - 1)
#define BUCKETS	    4096
#define RESET_PAGES 64 /* a bigger range is reset by a flush of all code */

/* An engine holds a host page as code at vaddr. */
struct holder {
	uintptr_t host;
	struct vspace *vs;
	uint64_t vaddr;
	bool mixed;
	struct holder *next;
};

static pthread_mutex_t share_lock = PTHREAD_MUTEX_INITIALIZER;
static struct holder *bucket[BUCKETS];
static struct vspace *engines; /* every engine of the process */

static struct holder **bucket_of(uintptr_t host)
{
	return &bucket[(uint64_t)(host >> 12) * 0x9e3779b97f4a7c15ULL >> 52];
}

void guest_share_add(struct vspace *vs)
{
	pthread_mutex_lock(&share_lock);
	vs->share.next = engines;
	vs->share.prev = NULL;
	if (engines)
		engines->share.prev = vs;
	engines = vs;
	pthread_mutex_unlock(&share_lock);
}

/* Forget vs's holders in [addr, end) (all: 0, UINT64_MAX).  Locked. */
static void holders_drop(struct vspace *vs, uint64_t addr, uint64_t end)
{
	for (size_t b = 0; b < BUCKETS; b++) {
		for (struct holder **p = &bucket[b]; *p;) {
			struct holder *h = *p;

			if (h->vs == vs && h->vaddr >= addr && h->vaddr < end) {
				*p = h->next;
				free(h);
			} else {
				p = &h->next;
			}
		}
	}
}

void guest_share_remove(struct vspace *vs)
{
	pthread_mutex_lock(&share_lock);
	holders_drop(vs, 0, UINT64_MAX);
	if (vs->share.prev)
		vs->share.prev->share.next = vs->share.next;
	else
		engines = vs->share.next;
	if (vs->share.next)
		vs->share.next->share.prev = vs->share.prev;
	pthread_mutex_unlock(&share_lock);
}

/* An engine's map changes under the lock: other threads read it under
 * the lock only (guest_share_map looks at every engine's), its own
 * thread at any time. */
int guest_share_prepare(struct vspace *vs)
{
	int err;

	pthread_mutex_lock(&share_lock);
	err = guest_map_prepare(&vs->map);
	pthread_mutex_unlock(&share_lock);
	return err;
}

void guest_share_unmap(struct vspace *vs, uint64_t addr, uint64_t size)
{
	pthread_mutex_lock(&share_lock);
	guest_map_remove(&vs->map, addr, size);
	if (vs->share.held)
		holders_drop(vs, addr, addr + size);
	pthread_mutex_unlock(&share_lock);
}

/* Queue work for vs's next run (locked): drop its code at vaddr (or all
 * of it: vaddr 0) and flush its TLB. */
static void share_queue(struct vspace *vs, uint64_t vaddr)
{
	struct guest_share *s = &vs->share;

	if (vaddr && s->ndrop < SHARE_DROP_MAX)
		s->drop[s->ndrop++] = vaddr;
	else
		s->drop_all = true;
	atomic_store(&s->stale, true);
}

static bool wx_pair(uint32_t a, uint32_t b)
{
	return ((a & UC_PROT_WRITE) && (b & UC_PROT_EXEC)) ||
	       ((a & UC_PROT_EXEC) && (b & UC_PROT_WRITE));
}

/* Range r of vs became shared: what its engine translated or remembered
 * of it the private way goes (locked; vs is not running). */
static void range_reset(struct vspace *vs, struct guest_range *r)
{
	r->shared = true;
	guest_code_unmap(vs, r->start, r->end - r->start);
	if (r->end - r->start > RESET_PAGES * PAGE) {
		share_queue(vs, 0);
		return;
	}
	for (uint64_t a = r->start; a < r->end; a += PAGE)
		share_queue(vs, a);
}

void guest_share_map(struct vspace *vs, uint64_t addr, uint64_t size, uint32_t prot,
		     uint8_t *host)
{
	struct guest_range *n;

	pthread_mutex_lock(&share_lock);
	guest_map_add(&vs->map, addr, size, prot, host);
	n = guest_map_range(&vs->map, addr);
	for (struct vspace *e = engines; e; e = e->share.next) {
		for (size_t i = 0; i < e->map.n; i++) {
			struct guest_range *r = &e->map.r[i];
			uintptr_t h0 = (uintptr_t)r->host, h1 = h0 + (r->end - r->start);
			uintptr_t n0 = (uintptr_t)n->host, n1 = n0 + (n->end - n->start);

			if (r == n || h1 <= n0 || n1 <= h0 || !wx_pair(r->prot, n->prot))
				continue;
			if (!r->shared)
				range_reset(e, r);
			n->shared = true; /* new: nothing translated in it yet */
		}
	}
	pthread_mutex_unlock(&share_lock);
}

/* What the record says of host page for vs at page (locked). */
struct share_view {
	bool code;   /* some engine holds it as code */
	bool mine;   /* vs holds it at page */
	bool mixed;  /* vs holds it mixed */
	bool others; /* another engine holds it */
};

static struct share_view share_look(struct vspace *vs, uintptr_t host, uint64_t page)
{
	struct share_view v = {0};

	for (struct holder *h = *bucket_of(host); h; h = h->next) {
		if (h->host != host)
			continue;
		v.code = true;
		v.mine |= h->vs == vs && h->vaddr == page;
		v.mixed |= h->vs == vs && h->mixed;
		v.others |= h->vs != vs;
	}
	return v;
}

static uintptr_t range_host(const struct guest_range *r, uint64_t page)
{
	return (uintptr_t)r->host + (page - r->start);
}

uint32_t guest_share_prot(struct vspace *vs, const struct guest_range *r, uint64_t page,
			  uc_mem_type type)
{
	uint32_t need = type == UC_MEM_WRITE   ? UC_PROT_WRITE
			: type == UC_MEM_FETCH ? UC_PROT_EXEC
					       : UC_PROT_READ;
	uint32_t prot = r->prot;
	struct share_view v;

	pthread_mutex_lock(&share_lock);
	v = share_look(vs, range_host(r, page), page);
	pthread_mutex_unlock(&share_lock);
	if (!v.mixed || v.others) {
		if (v.code)
			prot &= ~UC_PROT_WRITE;
		if (!v.mine)
			prot &= ~UC_PROT_EXEC;
	}
	if (!(prot & need)) {
		if (vs->running) {
			vs->share.fault_page = page;
			vs->share.fault_type = type;
		} else {
			vs->share.lookup_stale = true; /* the caller lets it in */
		}
	}
	return prot;
}

/* Record vs as holding host at vaddr (locked).  0 or -ENOMEM. */
static int holder_add(struct vspace *vs, uintptr_t host, uint64_t vaddr, bool mixed)
{
	struct holder **b = bucket_of(host), *h;

	for (h = *b; h; h = h->next) {
		if (h->host == host && h->vs == vs && h->vaddr == vaddr) {
			h->mixed |= mixed;
			return 0;
		}
	}
	h = malloc(sizeof(*h));
	if (!h)
		return -ENOMEM;
	*h = (struct holder){host, vs, vaddr, mixed, *b};
	*b = h;
	vs->share.held = true;
	return 0;
}

/* A fetch: host becomes code at vaddr of vs; whoever may write it loses
 * the write entry (locked). */
static int share_fetched(struct vspace *vs, uintptr_t host, uint64_t vaddr)
{
	if (holder_add(vs, host, vaddr, false))
		return -ENOMEM;
	for (struct vspace *e = engines; e; e = e->share.next) {
		for (size_t i = 0; e != vs && i < e->map.n; i++) {
			struct guest_range *r = &e->map.r[i];

			if (r->shared && (r->prot & UC_PROT_WRITE) &&
			    host - (uintptr_t)r->host < r->end - r->start) {
				atomic_store(&e->share.stale, true);
				break;
			}
		}
	}
	return 0;
}

/* The host page behind vs's page (0: not in a shared range). */
static uintptr_t share_host(struct vspace *vs, uint64_t page)
{
	struct guest_range *r = guest_map_range(&vs->map, page);

	return r && r->shared ? range_host(r, page) : 0;
}

/* A write: every holder's code of host goes (vs's own: its pages in
 * own[], *nown of them; 0 or more than max: all of it).  An instruction
 * on the written page keeps it mixed (locked). */
static void share_written(struct vspace *vs, uintptr_t host, uint64_t rip, uint64_t *own,
			  unsigned max, unsigned *nown)
{
	uint64_t ip = rip & ~PAGE_MASK;

	for (struct holder **p = bucket_of(host); *p;) {
		struct holder *h = *p;

		if (h->host != host) {
			p = &h->next;
			continue;
		}
		if (h->vs != vs)
			share_queue(h->vs, h->vaddr);
		else if (*nown < max)
			own[(*nown)++] = h->vaddr;
		else
			*nown = max + 1;
		*p = h->next;
		free(h);
	}
	if (share_host(vs, ip) == host)
		holder_add(vs, host, ip, true);
	else if (share_host(vs, ip + PAGE) == host)
		holder_add(vs, host, ip + PAGE, true);
}

bool guest_share_fault(struct vspace *vs, uint64_t rip)
{
	struct guest_share *s = &vs->share;
	uint64_t page = s->fault_page, own[8];
	unsigned kind = s->fault_type == UC_MEM_WRITE ? FAULT_WRITE : FAULT_EXEC,
		 nown = 0;
	uintptr_t host;
	int err = 0;

	s->fault_page = 0;
	if (!page || !vs->page_fault || vs->trap.fault_kind != kind ||
	    vs->trap.fault_addr != page || !(host = share_host(vs, page)))
		return false;
	pthread_mutex_lock(&share_lock);
	if (kind == FAULT_EXEC)
		err = share_fetched(vs, host, page);
	else
		share_written(vs, host, rip, own, 8, &nown);
	pthread_mutex_unlock(&share_lock);
	if (err)
		return false;
	if (nown > 8)
		uc_ctl_flush_tb(vs->uc);
	for (unsigned i = 0; i < nown && nown <= 8; i++)
		uc_ctl_remove_cache(vs->uc, own[i], own[i] + PAGE);
	uc_ctl_flush_tlb(vs->uc);
	s->lookup_stale = false;
	s->faults++;
	return true;
}

void guest_share_settle(struct vspace *vs)
{
	struct guest_share *s = &vs->share;
	uint64_t drop[SHARE_DROP_MAX];
	unsigned n = 0;
	bool all = false;

	if (atomic_load_explicit(&s->stale, memory_order_relaxed)) {
		pthread_mutex_lock(&share_lock);
		atomic_store(&s->stale, false);
		n = s->ndrop;
		all = s->drop_all;
		for (unsigned i = 0; i < n; i++)
			drop[i] = s->drop[i];
		s->ndrop = 0;
		s->drop_all = false;
		pthread_mutex_unlock(&share_lock);
		if (all)
			uc_ctl_flush_tb(vs->uc);
		for (unsigned i = 0; i < n && !all; i++)
			uc_ctl_remove_cache(vs->uc, drop[i], drop[i] + PAGE);
		s->lookup_stale = true;
	}
	if (s->lookup_stale) {
		uc_ctl_flush_tlb(vs->uc);
		s->lookup_stale = false;
	}
}
