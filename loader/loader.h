/*
 * The child loader: what a parent does to make a guest binary runnable in
 * a child's PD session — load its ELF image from its ROM and give its
 * first thread a stack with the startup info at the top.  init (for its
 * children) and the monitor (for its target) both start guests with it;
 * it uses only libbase's public API.
 */
#ifndef LOADER_LOADER_H
#define LOADER_LOADER_H

#include <stdint.h>
#include <base/ipc.h>

/* The initial stack of a child's first thread, at the top of that
 * thread's slot in the stack area. */
#define LOADER_STACK_SIZE 0x10000ULL

/*
 * Where to load: RAM comes from child_pd and is attached there; the
 * loader fills it through a temporary attachment in own_pd, the loading
 * component's own PD (native: attach returns a host pointer).  placed,
 * if set, is told of every dataspace attached in the child (each ELF
 * region, the stack) right after it is; it may take its own reference
 * (cap_ref), the loader releases its own afterwards.  A non-zero return
 * of placed fails the load with that code.  binary, if set, sees the
 * binary's bytes once they passed the ELF checks (e.g. to hash them).
 */
struct loader {
	cap_t own_pd, child_pd;
	int (*placed)(void *ctx, cap_t ds, uint64_t at, uint64_t size, unsigned perm);
	void (*binary)(void *ctx, const void *data, uint64_t size);
	void *ctx;
};

/*
 * Load the binary of ROM session rom into the child: validate it
 * (loader/elf.h), then per region a dataspace filled with its segments
 * and attached at its address with its permissions.  *entry = its entry
 * point.  0, or -errno with *what naming the step (-ENOEXEC: *what says
 * what is wrong with the binary).  On failure the dataspaces made so far
 * stay charged to child_pd (freed when that session is closed).
 */
int loader_load_binary(const struct loader *l, cap_t rom, uint64_t *entry,
		       const char **what);

/*
 * Make the stack of the child's thread number si->thread_nr: a
 * LOADER_STACK_SIZE dataspace at the top of the thread's stack slot, with
 * *si written 64-byte aligned at its top; *sp = that address in the child
 * (the thread's initial stack pointer, what crt0 reads).  0 or -errno
 * (-ERANGE: no stack slot for that thread number) with *what set.
 */
int loader_make_stack(const struct loader *l, const struct startup_info *si, uint64_t *sp,
		      const char **what);

#endif
