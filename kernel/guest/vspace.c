/*
 * Guest address spaces: one Unicorn x86-64 engine per task.
 *
 * Memory is host memory mapped with uc_mem_map_ptr, so the same host pages
 * can appear in several engines.  The hooks installed here turn every way
 * a guest can leave the engine into a vcpu_trap: `syscall` (the only
 * legitimate one), invalid memory accesses, invalid instructions and any
 * interrupt or exception (int3, int n, #DE, ...).
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include "kernel/guest/guest.h"

#define CR4_OSFXSR     (1ULL << 9)
#define CR4_OSXMMEXCPT (1ULL << 10)
#define PAGE_MASK      0xfffULL
#define INTR_GP	       13 /* general protection, as the CPU reports it */

#if defined(GUEST_UC_GARRAY_WRAP)
/*
 * Unicorn 2.1.1's uc_close leaks its 32-byte unmapped_regions GArray
 * (unicorn issue #2027): its bundled glib's g_array_free always keeps the
 * wrapper (the reference count is commented out).  Every engine ever
 * made kept 48 bytes of heap, so a guest opening and closing PD sessions
 * with no quota grew the node for ever (57,600 sessions: +2.7 MB).  The
 * vendored build links with --wrap=g_array_free (Makefile); uc_close is
 * its only caller there, and nothing holds the array after it, so the
 * wrapper (g_slice memory: malloc) is freed here as glib itself would.
 */
char *__real_g_array_free(void *array, int free_segment);
char *__wrap_g_array_free(void *array, int free_segment);
char *__wrap_g_array_free(void *array, int free_segment)
{
	char *segment = __real_g_array_free(array, free_segment);

	free(array);
	return segment;
}
#elif defined(__SANITIZE_ADDRESS__)
/* the system's Unicorn leaks as above: keep LeakSanitizer quiet about
 * that one only (only Unicorn's bundled glib defines g_array_new) */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:g_array_new\n";
}
#endif

int guest_uc_errno(uc_err err)
{
	switch (err) {
	case UC_ERR_OK:
		return 0;
	case UC_ERR_NOMEM:
		return -ENOMEM;
	case UC_ERR_MAP:
		return -EEXIST;
	case UC_ERR_ARG:
		return -EINVAL;
	default:
		return -EIO;
	}
}

static uint64_t vspace_rip(uc_engine *uc)
{
	uint64_t rip = 0;

	uc_reg_read(uc, UC_X86_REG_RIP, &rip);
	return rip;
}

/* Record the first trap of a run; later ones (e.g. a stop racing with a
 * fault) do not overwrite it. */
static void vspace_trap(struct vspace *vs, enum vcpu_exit why, unsigned kind, uint64_t ip,
			uint64_t addr)
{
	if (vs->trap.why)
		return;
	vs->trap.why = why;
	vs->trap.fault_kind = kind;
	vs->trap.fault_ip = ip;
	vs->trap.fault_addr = addr;
}

static void hook_syscall(uc_engine *uc, void *user)
{
	vspace_trap(user, VCPU_SYSCALL, FAULT_NONE, 0, 0);
	uc_emu_stop(uc);
}

static unsigned mem_fault_kind(uc_mem_type type)
{
	switch (type) {
	case UC_MEM_WRITE_UNMAPPED:
	case UC_MEM_WRITE_PROT:
		return FAULT_WRITE;
	case UC_MEM_FETCH_UNMAPPED:
	case UC_MEM_FETCH_PROT:
		return FAULT_EXEC;
	default:
		return FAULT_READ;
	}
}

/* The engine reports the low 52 bits of a linear address (its physical
 * address width; paging is off): 0xffff800000000000 arrives as
 * 0xf800000000000.  Guests map only the lower canonical half, so bits
 * 47..51 set mean an upper-half or non-canonical address: extend bit 51,
 * which restores every upper-half address and every non-canonical one
 * whose bits 51..63 agree (the others cannot be told apart). */
uint64_t guest_fault_addr(uint64_t addr)
{
	if (addr & (1ULL << 51))
		addr |= ~((1ULL << 52) - 1);
	return addr;
}

/* Accesses the TLB hook refuses become page faults (tlb_fill.c); this
 * hook sees only what reaches memory the engine has no mapping for, which
 * the TLB hook does not let through.  It stays as the backstop: Unicorn
 * reports such an access from inside the block, with RIP at the block's
 * start and the flags not brought up to date (vcpu.c moves RIP to the
 * instruction; the flags stay unreliable). */
static bool hook_mem_invalid(uc_engine *uc, uc_mem_type type, uint64_t addr, int size,
			     int64_t value, void *user)
{
	unsigned kind = mem_fault_kind(type);
	uint64_t ip;

	addr = guest_fault_addr(addr);
	ip = kind == FAULT_EXEC ? addr : vspace_rip(uc);

	vspace_trap(user, VCPU_FAULT, kind, ip, addr);
	return false; /* uc_emu_start returns the matching UC_ERR_* */
}

static bool hook_insn_invalid(uc_engine *uc, void *user)
{
	vspace_trap(user, VCPU_FAULT, FAULT_ILLEGAL, vspace_rip(uc), 0);
	return false;
}

static void hook_intr(uc_engine *uc, uint32_t intno, void *user)
{
	unsigned kind = intno == 6 ? FAULT_ILLEGAL : FAULT_OTHER;
	struct vspace *vs = user;

	vs->exception = true;
	vspace_trap(user, VCPU_FAULT, kind, vspace_rip(uc), intno);
	uc_emu_stop(uc);
}

/* `in`/`out`: there are no ports.  Unicorn does not check the I/O
 * permission (IOPL 0, the TSS's map) at CPL 3, so they are refused here
 * as the CPU would refuse them, with #GP.  The engine stops only after
 * the rest of the block; RIP then names the block, and vcpu_run finds
 * the instruction (fault_locate.c). */
static void port_fault(uc_engine *uc, struct vspace *vs)
{
	if (!vs->trap.why)
		vs->port_fault = true;
	vspace_trap(vs, VCPU_FAULT, FAULT_OTHER, vspace_rip(uc), INTR_GP);
	uc_emu_stop(uc);
}

static uint32_t hook_in(uc_engine *uc, uint32_t port, int size, void *user)
{
	port_fault(uc, user);
	return 0;
}

static void hook_out(uc_engine *uc, uint32_t port, int size, uint32_t value, void *user)
{
	port_fault(uc, user);
}

/* Each block's start: a preemption point (the watchdog or the run's own
 * timer asked to end this run, watchdog.c and run_timer.c, or a line was
 * raised: vs->kick), and where a data fault is looked for (fault_locate.c):
 * a chained block may report the start of the one before it as RIP. */
static void hook_block(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
	struct vspace *vs = user;
	uint32_t stop = atomic_load_explicit(&vs->wd.stop_request, memory_order_relaxed);

	vs->block = addr;
	vs->block_end = addr + size;
	if (stop) {
		atomic_store_explicit(&vs->wd.stop_request, 0, memory_order_relaxed);
		vs->kicked = true; /* the run's own timer asks too (run_timer.c) */
		wd_count_stop(stop);
		uc_emu_stop(uc);
	} else if (vs->kick && atomic_load_explicit(vs->kick, memory_order_relaxed)) {
		vs->kick = NULL; /* one stop per run */
		vs->kicked = true;
		uc_emu_stop(uc);
	}
}

static int vspace_add_hooks(struct vspace *vs)
{
	uc_err err;

	err = uc_hook_add(vs->uc, &vs->hooks[0], UC_HOOK_INSN, hook_syscall, vs, 1, 0,
			  UC_X86_INS_SYSCALL);
	if (!err)
		err = uc_hook_add(vs->uc, &vs->hooks[1], UC_HOOK_MEM_INVALID,
				  hook_mem_invalid, vs, 1, 0);
	if (!err)
		err = uc_hook_add(vs->uc, &vs->hooks[2], UC_HOOK_INSN_INVALID,
				  hook_insn_invalid, vs, 1, 0);
	if (!err)
		err =
		    uc_hook_add(vs->uc, &vs->hooks[3], UC_HOOK_INTR, hook_intr, vs, 1, 0);
	if (!err)
		err = uc_hook_add(vs->uc, &vs->hooks[4], UC_HOOK_BLOCK, hook_block, vs, 1,
				  0);
	if (!err)
		err = uc_hook_add(vs->uc, &vs->hooks[5], UC_HOOK_INSN, hook_in, vs, 1, 0,
				  UC_X86_INS_IN);
	if (!err)
		err = uc_hook_add(vs->uc, &vs->hooks[6], UC_HOOK_INSN, hook_out, vs, 1, 0,
				  UC_X86_INS_OUT);
	return err ? -EIO : 0;
}

/* Long mode with flat segments is Unicorn's UC_MODE_64 default; SSE needs
 * the OS-support bits in CR4 or gcc's -O2 code takes #UD. */
int guest_enable_sse(uc_engine *uc)
{
	uint64_t cr4 = 0;

	if (uc_reg_read(uc, UC_X86_REG_CR4, &cr4))
		return -EIO;
	cr4 |= CR4_OSFXSR | CR4_OSXMMEXCPT;
	if (uc_reg_write(uc, UC_X86_REG_CR4, &cr4))
		return -EIO;
	return 0;
}

/* An engine allocates a few large blocks (its TLBs, the translation
 * buffer's bookkeeping, memory-region tables) among many small ones.
 * glibc's default raises the mmap threshold to the largest block freed so
 * far, after which an engine's large blocks come from the heap, where the
 * small blocks of engines made later pin them: 12 PD sessions opened and
 * closed 400 times grew a test process by 900 MB, all of it free inside
 * the heap.  A fixed threshold keeps every block of 128 KiB and more in a
 * mapping of its own, unmapped when the engine is closed. */
static void vspace_heap_policy(void)
{
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
}

/* An engine's translation buffer is reserved whole when the engine is
 * first used; only the pages code is translated into are touched, but
 * Unicorn asks for transparent huge pages on it (MADV_HUGEPAGE), so its
 * first 2 MiB are one page as soon as the first block is translated.
 * Unicorn's default is 1 GiB (a node of 100 counters reserved 105 GB of
 * address space).  GUEST_TCG_BUFFER (guest.h) is 16 MiB, sized from what
 * components use: the kernel flushes the buffer between runs before it
 * can fill inside one (tb_budget.c), which Unicorn 2.1.1 gets wrong
 * (unicorn issue #1923). */

int guest_uc_open(uc_engine **out)
{
	static pthread_once_t heap_policy = PTHREAD_ONCE_INIT;
	uc_engine *uc;

	pthread_once(&heap_policy, vspace_heap_policy);
	if (uc_open(UC_ARCH_X86, UC_MODE_64, &uc) != UC_ERR_OK)
		return -ENOMEM;
	/* before anything else: the engine is set up by its first use */
	if (uc_ctl_set_tcg_buffer_size(uc, GUEST_TCG_BUFFER) != UC_ERR_OK) {
		uc_close(uc);
		return -ENOMEM;
	}
	*out = uc;
	return 0;
}

/* Contract: on success *out is an empty address space registered with the
 * watchdog; on failure nothing is left allocated. */
int vspace_create(struct vspace **out)
{
	struct vspace *vs = calloc(1, sizeof(*vs));
	int err;

	if (!vs)
		return -ENOMEM;
	err = guest_uc_open(&vs->uc);
	if (err)
		goto err;
	err = guest_enable_sse(vs->uc);
	if (!err)
		err = guest_user_mode(vs->uc, &vs->user);
	if (!err)
		err = vspace_add_hooks(vs);
	if (!err)
		err = guest_tlb_init(vs);
	if (!err)
		err = guest_tb_init(vs);
	if (!err)
		err = wd_register(&vs->wd, vs->uc);
	if (err)
		goto err;
	guest_share_add(vs);
	*out = vs;
	return 0;
err:
	if (vs->uc)
		uc_close(vs->uc);
	guest_user_free(&vs->user);
	guest_map_free(&vs->map);
	guest_code_free(vs);
	free(vs);
	return err;
}

#define VSPACE_TRIM_EVERY 8
#define VSPACE_CLOSE_AWAY (64ULL << 20)
static _Atomic unsigned vspace_closed;
static _Atomic bool vspace_trim_due;
static _Atomic uint64_t vspace_unmaps;

/* Contract: every vcpu of vs has been destroyed (none is running).  The
 * node's thread takes vs off the lists it reaches; the engine of a task
 * that still maps VSPACE_CLOSE_AWAY bytes or more (its PD's memory is
 * left mapped when it ends, core/rm_mapping.c) is closed by the closer
 * thread (vspace_close.c), a smaller one here, as its close is short and
 * a thread's blocks are given back to the heap by its end only. */
void vspace_destroy(struct vspace *vs)
{
	uint64_t mapped = 0;

	if (!vs)
		return;
	wd_unregister(&vs->wd);
	guest_share_remove(vs);
	for (size_t i = 0; i < vs->map.n; i++)
		mapped += vs->map.r[i].end - vs->map.r[i].start;
	if (mapped >= VSPACE_CLOSE_AWAY)
		vspace_close_away(vs);
	else
		vspace_free(vs);
}

void vspace_free(struct vspace *vs)
{
	guest_probe_destroy(vs);
	uc_close(vs->uc);
	guest_user_free(&vs->user);
	guest_map_free(&vs->map);
	guest_code_free(vs);
	free(vs);
	/* an engine's small blocks are freed among those of engines still
	 * running: give the pages that are wholly free back to the host,
	 * every VSPACE_TRIM_EVERY engines (a trim walks the whole heap), and
	 * for the others once the node is idle (vspace_trim_idle): without
	 * that the last few engines' pages (and what core freed with their
	 * PDs) stayed, 4.4 MB after 32 counters had exited; the idle trim
	 * also empties the tcache (heap_trim) */
	if (atomic_fetch_add(&vspace_closed, 1) % VSPACE_TRIM_EVERY == 0)
		malloc_trim(0);
	/* the blocks the tcache keeps go back only in heap_trim */
	atomic_store(&vspace_trim_due, true);
}

void vspace_trim_idle(bool task_gone)
{
	if (atomic_exchange(&vspace_trim_due, false) || task_gone)
		heap_trim();
}

static int vspace_range_ok(uint64_t addr, uint64_t size)
{
	if (!size || (addr & PAGE_MASK) || (size & PAGE_MASK))
		return 0;
	return addr + size > addr; /* no wrap-around */
}

/* Contract: host stays valid and mapped until vspace_unmap or
 * vspace_destroy.  -EINVAL on misalignment or bad perms, -EEXIST if any
 * page of the range is already mapped. */
int vspace_map(struct vspace *vs, uint64_t addr, uint64_t size, void *host,
	       unsigned perms)
{
	uint32_t prot = guest_map_uc_prot(perms);
	int err;

	if (!vspace_range_ok(addr, size) || !host || (perms & ~(MEM_R | MEM_W | MEM_X)))
		return -EINVAL;
	if (guest_share_prepare(vs))
		return -ENOMEM;
	err = guest_uc_errno(uc_mem_map_ptr(vs->uc, addr, size, prot, host));
	if (!err)
		guest_share_map(vs, addr, size, prot, host);
	return err;
}

/* Contract: [addr, addr+size) must be entirely mapped (it may span or
 * split earlier mappings).  -EINVAL on misalignment, -ENOENT if a page of
 * the range is not mapped. */
int vspace_unmap(struct vspace *vs, uint64_t addr, uint64_t size)
{
	uc_err err;

	if (!vspace_range_ok(addr, size))
		return -EINVAL;
	if (guest_share_prepare(vs))
		return -ENOMEM;
	atomic_fetch_add_explicit(&vspace_unmaps, 1, memory_order_relaxed);
	err = uc_mem_unmap(vs->uc, addr, size);
	if (err == UC_ERR_NOMEM)
		return -ENOENT;
	if (err == UC_ERR_OK) {
		guest_share_unmap(vs, addr, size);
		guest_code_unmap(vs, addr, size);
	}
	return guest_uc_errno(err);
}

uint64_t vspace_unmap_count(void)
{
	return atomic_load(&vspace_unmaps);
}
