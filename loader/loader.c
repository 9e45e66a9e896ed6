/*
 * The child loader (loader/loader.h): ELF regions and the initial stack,
 * each a RAM dataspace of the child filled through a temporary attachment
 * in the loading component and then attached in the child.
 */
#include <errno.h>
#include <string.h>

#include <base/env.h>
#include <base/sessions.h>

#include "loader/elf.h"
#include "loader/loader.h"

/* What failed, for a segment and for the stack (index of place()'s kind). */
enum { PLACE_ALLOC, PLACE_OWN, PLACE_CHILD, PLACE_WHERE, PLACE_HOOK };
static const char *const place_what[2][5] = {
    {"cannot allocate RAM for a segment", "cannot attach a segment in the loader",
     "cannot attach a segment in the child", "segment attached at the wrong address",
     "cannot record a segment"},
    {"cannot allocate RAM for its stack", "cannot attach its stack in the loader",
     "cannot attach its stack in the child", "stack attached at the wrong address",
     "cannot record its stack"},
};

/* A dataspace of size bytes from the child's PD, filled by fill(ctx,
 * host) and attached in the child at at with perm; kind 0: a segment,
 * 1: the stack (for *what). */
static int place(const struct loader *l, int kind, uint64_t at, uint64_t size,
		 unsigned perm, void (*fill)(const void *ctx, uint8_t *host),
		 const void *ctx, const char **what)
{
	const char *const *msg = place_what[kind];
	uint64_t host, got;
	cap_t ds;
	int rc;

	*what = msg[PLACE_ALLOC];
	if ((rc = pd_alloc_ram(l->child_pd, size, &ds)))
		return rc;
	*what = msg[PLACE_OWN];
	if ((rc = pd_attach(l->own_pd, ds, 0, 0, size, MEM_R | MEM_W, &host)))
		goto out;
	fill(ctx, (uint8_t *)(uintptr_t)host);
	pd_detach(l->own_pd, host);
	*what = msg[PLACE_CHILD];
	if ((rc = pd_attach(l->child_pd, ds, at, 0, size, perm, &got)))
		goto out;
	if (got != at) {
		*what = msg[PLACE_WHERE];
		rc = -EFAULT;
		goto out;
	}
	*what = msg[PLACE_HOOK];
	if (l->placed)
		rc = l->placed(l->ctx, ds, at, size, perm);
out:
	cap_release(ds);
	return rc;
}

struct region_fill {
	const struct elf_image *img;
	const struct elf_region *r;
};

static void fill_region(const void *ctx, uint8_t *host)
{
	const struct region_fill *f = ctx;

	elf_fill_region(f->img, f->r, host);
}

int loader_load_binary(const struct loader *l, cap_t rom, uint64_t *entry,
		       const char **what)
{
	struct elf_image *img = heap_alloc(sizeof *img);
	uint64_t size, host = 0;
	cap_t ds = CAP_INVALID;
	int rc;

	*what = "out of memory";
	if (!img)
		return -ENOMEM;
	*what = "cannot read the ROM";
	if ((rc = rom_dataspace(rom, &ds, &size)) ||
	    (rc = pd_attach(l->own_pd, ds, 0, 0, 0, MEM_R, &host)))
		goto out;
	if ((rc = elf_parse((const void *)(uintptr_t)host, size, img, what)))
		goto out;
	if (l->binary)
		l->binary(l->ctx, (const void *)(uintptr_t)host, size);
	for (int i = 0; i < img->nregions && !rc; i++) {
		const struct elf_region *r = &img->region[i];
		struct region_fill f = {img, r};
		rc = place(l, 0, r->start, r->end - r->start, r->perm, fill_region, &f,
			   what);
	}
	*entry = img->entry;
out:
	if (host)
		pd_detach(l->own_pd, host);
	if (cap_valid(ds))
		cap_release(ds);
	heap_free(img);
	return rc;
}

static uint64_t startup_offset(void)
{
	return (LOADER_STACK_SIZE - sizeof(struct startup_info)) & ~63ULL;
}

static void fill_stack(const void *ctx, uint8_t *host)
{
	memset(host, 0, LOADER_STACK_SIZE);
	memcpy(host + startup_offset(), ctx, sizeof(struct startup_info));
}

int loader_make_stack(const struct loader *l, const struct startup_info *si, uint64_t *sp,
		      const char **what)
{
	uint64_t base = GUEST_STACK_AREA + si->thread_nr * GUEST_STACK_SLOT +
			GUEST_STACK_SLOT - LOADER_STACK_SIZE;
	int rc;

	*what = "no stack slot for its thread";
	if (si->thread_nr >= THREAD_AREA_THREADS)
		return -ERANGE;
	if ((rc = place(l, 1, base, LOADER_STACK_SIZE, MEM_R | MEM_W, fill_stack, si,
			what)))
		return rc;
	*sp = base + startup_offset();
	return 0;
}
