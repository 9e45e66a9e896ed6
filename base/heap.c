/*
 * The component heap: a first-fit free list over RAM dataspaces from the
 * PD session, attached into the own address space (a host address for a
 * native PD: same code).  Hand-written because it must live inside
 * libbase's state and work freestanding; it is small and simple.
 *
 * Every block starts with a 16-byte header; payloads are 16-aligned.
 * Free blocks are kept sorted by address and coalesced with their
 * neighbours.  Chunks are never given back.
 *
 * The heap is shared by all threads of the component, and a guest thread
 * is preempted anywhere: heap_alloc, heap_free and heap_check hold the
 * heap's spinlock (struct heap.lock) over the whole free-list change,
 * including heap_grow's calls to the PD session (they receive and may
 * release a dataspace cap, which takes the cap map lock inside this one;
 * see base/platform.h).
 */
#include <errno.h>
#include <string.h>
#include "platform.h"

#define HEAP_ALIGN	16ULL
#define HEAP_HDR	16ULL
#define HEAP_MIN_BLOCK	32ULL /* header + free-list link, aligned */
#define HEAP_CHUNK_MIN	(64ULL << 10)
#define HEAP_MAX_ALLOC	(1ULL << 40)
#define HEAP_USED_MAGIC 0x4ea9b10c0000a110ULL

/* size includes the header; `next` is only meaningful while free. */
struct heap_block {
	uint64_t size;
	uint64_t tag; /* HEAP_USED_MAGIC while allocated, 0 while free */
	struct heap_block *next;
};

static char *block_end(struct heap_block *b)
{
	return (char *)b + b->size;
}

/* Insert a free block in address order and merge with its neighbours. */
static void heap_insert_free(struct heap *h, struct heap_block *b)
{
	struct heap_block **link = &h->free, *prev = NULL;

	b->tag = 0;
	while (*link && *link < b) {
		prev = *link;
		link = &(*link)->next;
	}
	b->next = *link;
	*link = b;
	if (b->next && block_end(b) == (char *)b->next) {
		b->size += b->next->size;
		b->next = b->next->next;
	}
	if (prev && block_end(prev) == (char *)b) {
		prev->size += b->size;
		prev->next = b->next;
	}
}

/* Add a chunk of at least `need` bytes from the PD.  0 or -errno. */
static int heap_grow(struct heap *h, uint64_t need)
{
	struct env *env = &base_state()->env;
	uint64_t size = need < HEAP_CHUNK_MIN
			    ? HEAP_CHUNK_MIN
			    : (need + HEAP_CHUNK_MIN - 1) & ~(HEAP_CHUNK_MIN - 1);
	uint64_t at;
	cap_t ds;
	int err;

	if (!cap_valid(env->pd))
		return -ENOMEM;
	err = pd_alloc_ram(env->pd, size, &ds);
	if (err)
		return err;
	err = pd_attach(env->pd, ds, 0, 0, 0, MEM_R | MEM_W, &at);
	if (err || !at || at % HEAP_ALIGN) {
		pd_free_ram(env->pd, ds);
		cap_release(ds);
		return err ? err : -EFAULT;
	}
	/* the dataspace cap stays referenced for the heap's lifetime */
	struct heap_block *b = (struct heap_block *)(uintptr_t)at;

	b->size = size;
	h->chunks++;
	h->bytes += size;
	heap_insert_free(h, b);
	return 0;
}

static void *heap_take(struct heap *h, uint64_t need)
{
	for (struct heap_block **link = &h->free; *link; link = &(*link)->next) {
		struct heap_block *b = *link;

		if (b->size < need)
			continue;
		if (b->size - need >= HEAP_MIN_BLOCK) {
			struct heap_block *rest = (struct heap_block *)((char *)b + need);

			rest->size = b->size - need;
			rest->tag = 0;
			rest->next = b->next;
			*link = rest;
			b->size = need;
		} else {
			*link = b->next;
		}
		b->tag = HEAP_USED_MAGIC;
		return (char *)b + HEAP_HDR;
	}
	return NULL;
}

void *heap_alloc(uint64_t size)
{
	struct heap *h = &base_state()->heap;
	uint64_t need;
	void *p;

	if (size > HEAP_MAX_ALLOC)
		return NULL;
	need = HEAP_HDR + ((size + HEAP_ALIGN - 1) & ~(HEAP_ALIGN - 1));
	if (need < HEAP_MIN_BLOCK)
		need = HEAP_MIN_BLOCK;
	spinlock_lock(&h->lock);
	p = heap_take(h, need);
	if (!p && !heap_grow(h, need))
		p = heap_take(h, need);
	spinlock_unlock(&h->lock);
	return p;
}

void heap_free(void *p)
{
	struct heap *h = &base_state()->heap;
	struct heap_block *b;

	if (!p || (uintptr_t)p % HEAP_ALIGN)
		return;
	b = (struct heap_block *)((char *)p - HEAP_HDR);
	spinlock_lock(&h->lock);
	/* not ours, or freed twice: ignore rather than corrupt */
	if (b->tag == HEAP_USED_MAGIC)
		heap_insert_free(h, b);
	spinlock_unlock(&h->lock);
}

/* Walk the free list: every block inside the heap's bytes, aligned, at
 * least HEAP_MIN_BLOCK, marked free, in address order and not adjacent to
 * the next (they would have been coalesced). */
static int heap_check_locked(const struct heap *h)
{
	uint64_t free_bytes = 0;

	for (struct heap_block *b = h->free; b; b = b->next) {
		if ((uintptr_t)b % HEAP_ALIGN || b->size % HEAP_ALIGN ||
		    b->size < HEAP_MIN_BLOCK || b->tag != 0)
			return -1;
		free_bytes += b->size;
		if (free_bytes > h->bytes)
			return -1; /* more free than was ever added: a cycle or overlap */
		if (b->next && (char *)b->next <= block_end(b))
			return -1;
	}
	return 0;
}

int heap_check(void)
{
	struct heap *h = &base_state()->heap;
	int err;

	spinlock_lock(&h->lock);
	err = heap_check_locked(h);
	spinlock_unlock(&h->lock);
	return err;
}
