/*
 * Native coroutines: host C functions run on their own stacks on the
 * scheduler's host thread (kernel/backend.h).
 *
 * The switch is a few lines of x86-64 assembly (callee-saved registers,
 * MXCSR and the x87 control word), not swapcontext(): that one makes two
 * sigprocmask system calls per switch.  Stacks are mmap'ed with a guard
 * page below.  Under AddressSanitizer every switch is announced with
 * __sanitizer_{start,finish}_switch_fiber, and a stack is unpoisoned
 * before it is unmapped.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include "kernel/backend.h"

#if defined(__SANITIZE_ADDRESS__)
#define CORO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORO_ASAN 1
#endif
#endif

#ifdef CORO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

/* Invariants: sp is the saved stack pointer while the coroutine is not
 * running; done once fn returned (it never runs again). */
struct coro {
	void *sp;
	void (*fn)(void *);
	void *arg;
	uint8_t *map; /* guard page + stack */
	size_t map_size;
	int done;
	void *asan_fake;
};

/* per host thread: the running coroutine and the scheduler's saved sp */
static __thread struct coro *coro_cur;
static __thread void *coro_sched_sp;
#ifdef CORO_ASAN
static __thread const void *coro_sched_bottom;
static __thread size_t coro_sched_size;
static __thread void *coro_sched_fake;
#endif

/* void coro_switch(void **save_sp, void *load_sp) */
void coro_switch(void **save_sp, void *load_sp);
void coro_trampoline(void);
__asm__(".text\n"
	".globl coro_switch\n"
	".type coro_switch,@function\n"
	"coro_switch:\n"
	"	pushq %rbp\n"
	"	pushq %rbx\n"
	"	pushq %r12\n"
	"	pushq %r13\n"
	"	pushq %r14\n"
	"	pushq %r15\n"
	"	subq $8, %rsp\n"
	"	stmxcsr (%rsp)\n"
	"	fnstcw 4(%rsp)\n"
	"	movq %rsp, (%rdi)\n"
	"	movq %rsi, %rsp\n"
	"	ldmxcsr (%rsp)\n"
	"	fldcw 4(%rsp)\n"
	"	addq $8, %rsp\n"
	"	popq %r15\n"
	"	popq %r14\n"
	"	popq %r13\n"
	"	popq %r12\n"
	"	popq %rbx\n"
	"	popq %rbp\n"
	"	ret\n"
	".size coro_switch, .-coro_switch\n"
	".globl coro_trampoline\n"
	".type coro_trampoline,@function\n"
	"coro_trampoline:\n"
	"	call coro_main\n"
	"	ud2\n"
	".size coro_trampoline, .-coro_trampoline\n");

void coro_main(void) __attribute__((noreturn, used));

void coro_main(void)
{
	struct coro *co = coro_cur;

#ifdef CORO_ASAN
	__sanitizer_finish_switch_fiber(NULL, &coro_sched_bottom, &coro_sched_size);
#endif
	co->fn(co->arg);
	co->done = 1;
#ifdef CORO_ASAN
	__sanitizer_start_switch_fiber(NULL, coro_sched_bottom, coro_sched_size);
#endif
	coro_switch(&co->sp, coro_sched_sp);
	abort(); /* a finished coroutine is never resumed */
}

int coro_create(struct coro **out, void (*fn)(void *), void *arg, size_t stack_size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct coro *co = calloc(1, sizeof *co);
	uint64_t *sp;

	if (!co)
		return -ENOMEM;
	stack_size = (stack_size + page - 1) & ~(page - 1);
	co->map_size = stack_size + page;
	co->map = mmap(NULL, co->map_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (co->map == MAP_FAILED) {
		free(co);
		return -ENOMEM;
	}
	mprotect(co->map, page, PROT_NONE);
	co->fn = fn;
	co->arg = arg;
	/* initial frame for coro_switch: fp control, 6 registers, return
	 * address coro_trampoline, which then runs with rsp 16-aligned (the
	 * top of the stack) and calls coro_main as the ABI wants */
	sp = (uint64_t *)(co->map + co->map_size);
	*--sp = (uint64_t)(uintptr_t)coro_trampoline;
	for (int i = 0; i < 6; i++)
		*--sp = 0;
	*--sp = 0x1f80ULL | (0x37fULL << 32); /* MXCSR, x87 control word */
	co->sp = sp;
	*out = co;
	return 0;
}

void coro_destroy(struct coro *co)
{
	if (!co)
		return;
#ifdef CORO_ASAN
	ASAN_UNPOISON_MEMORY_REGION(co->map, co->map_size);
#endif
	munmap(co->map, co->map_size);
	free(co);
}

int coro_resume(struct coro *co)
{
	struct coro *prev = coro_cur;

	if (co->done)
		return 1;
	coro_cur = co;
#ifdef CORO_ASAN
	__sanitizer_start_switch_fiber(&coro_sched_fake, co->map, co->map_size);
#endif
	coro_switch(&coro_sched_sp, co->sp);
#ifdef CORO_ASAN
	__sanitizer_finish_switch_fiber(coro_sched_fake, NULL, NULL);
#endif
	coro_cur = prev;
	return co->done;
}

void coro_yield(void)
{
	struct coro *co = coro_cur;

#ifdef CORO_ASAN
	__sanitizer_start_switch_fiber(&co->asan_fake, coro_sched_bottom,
				       coro_sched_size);
#endif
	coro_switch(&co->sp, coro_sched_sp);
#ifdef CORO_ASAN
	__sanitizer_finish_switch_fiber(co->asan_fake, &coro_sched_bottom,
					&coro_sched_size);
#endif
}
