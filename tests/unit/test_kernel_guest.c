/*
 * A guest thread on the Unicorn backend: UTCB through MAP_MEM, call and
 * reply, fault reports to the pager, exact resume after a lazy mapping.
 */
#include <sys/mman.h>
#include "kernel_node.h"

/* ---- a guest thread (Unicorn backend) ---------------------------------- */

/* Guest code, copied to GUEST_IMAGE_BASE: mr[0] = 7 through %gs (the
 * UTCB), CALL the gate at kcap 0x300000, keep reply word and result tag
 * in rbx / r13, then write to an unmapped address. */
extern const unsigned char guest_code_start[], guest_code_end[];
__asm__(".pushsection .rodata\n"
	"guest_code_start:\n"
	"	mov %gs:0, %r12\n"
	"	movq $7, 8(%r12)\n"
	"	movabs $0x300000, %rdi\n"
	"	movabs $0x3001, %rsi\n"
	"	mov $-1, %rdx\n"
	"	syscall\n"
	"	mov 8(%r12), %rbx\n"
	"	mov %rax, %r13\n"
	"	mov %rbx, 0xdead000\n"
	"1:	jmp 1b\n"
	"guest_code_end:\n"
	".popsection\n");

static uint8_t *guest_mem; /* code page, UTCB page, stack page */

static void root_guest(void *arg)
{
	struct utcb *u = kernel_native_utcb(), *gu = (struct utcb *)(guest_mem + 4096);
	uint64_t h = (uint64_t)(uintptr_t)guest_mem, label, tag;
	struct cpu_regs r;

	memcpy(guest_mem, guest_code_start, (size_t)(guest_code_end - guest_code_start));
	CHECK(create(KCAP(0x380), FACTORY_TASK, TASK_GUEST, 0) == KERR_OK);
	CHECK(!TAG_ERROR(KCALL(KCAP(0x380), PROTO_TASK, TASK_MAP_MEM, h, GUEST_IMAGE_BASE,
			       4096, MEM_R | MEM_X)));
	CHECK(!TAG_ERROR(KCALL(KCAP(0x380), PROTO_TASK, TASK_MAP_MEM, h + 4096,
			       GUEST_UTCB_AREA, 8192, MEM_R | MEM_W)));
	CHECK(TAG_ERROR(KCALL(KCAP(0x380), PROTO_TASK, TASK_MAP_MEM, h + 4096,
			      GUEST_UTCB_AREA + 4096, 4096, MEM_R)) == KERR_BUSY);
	/* service gate (label 0x200) mapped R|W into the guest; pager gate */
	CHECK(create(KCAP(0x381), FACTORY_GATE, ROOT_THREAD, 0x200) == KERR_OK);
	CHECK(!TAG_ERROR(KCALL(KCAP(0x380), PROTO_TASK, TASK_MAP, KCAP_INVALID,
			       KCAP(0x381) | RIGHT_R | RIGHT_W, KCAP(0x300))));
	CHECK(create(KCAP(0x382), FACTORY_GATE, ROOT_THREAD, 0x300) == KERR_OK);
	CHECK(create(KCAP(0x383), FACTORY_THREAD, 0, 0) == KERR_OK);
	CHECK(TAG_ERROR(KCALL(KCAP(0x383), PROTO_THREAD, THREAD_CONTROL, KCAP(0x380),
			      0x7000000, KCAP(0x382), 1)) == KERR_RANGE); /* no memory */
	CHECK(!TAG_ERROR(KCALL(KCAP(0x383), PROTO_THREAD, THREAD_CONTROL, KCAP(0x380),
			       GUEST_UTCB_AREA, KCAP(0x382), 1)));
	CHECK(gu->self == GUEST_UTCB_AREA &&
	      gu->tcr[TCR_THREAD_KCAP] == KCAP_THREAD(1, 0));
	CHECK(!TAG_ERROR(KCALL(KCAP(0x383), PROTO_THREAD, THREAD_EX_REGS,
			       GUEST_IMAGE_BASE, GUEST_UTCB_AREA + 8192 - 8)));

	tag = kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER, &label);
	CHECK(!TAG_ERROR(tag) && TAG_WORDS(tag) == 1 && u->mr[0] == 7);
	CHECK(label == (0x200 | RIGHT_W));
	u->mr[0] = 99;
	tag = kernel_native_invoke(0, TAG(SYS_OP_REPLY_WAIT, 0, 1, 0), NEVER, &label);
	CHECK(!TAG_ERROR(tag) && TAG_WORDS(tag) == 4 && label == (0x300 | 3));
	CHECK(u->mr[0] == FAULT_MSG && u->mr[1] == FAULT_WRITE && u->mr[3] == 0xdead000);
	CHECK(thread_state(KCAP(0x383)) == TS_FAULTED);
	CHECK(!TAG_ERROR(KCALL(KCAP(0x383), PROTO_THREAD, THREAD_GET_REGS)));
	memcpy(&r, u->mr, sizeof r);
	CHECK(r.rbx == 99 && r.r13 == TAG(0, 0, 1, 0) && r.gs_base == GUEST_UTCB_AREA);
	kernel_stop(0);
}

/* guest thread: UTCB through MAP_MEM, call/reply, fault report to the pager */
static void guest_call_and_fault(void **state)
{
	guest_mem = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(guest_mem != MAP_FAILED);
	assert_int_equal(boot(root_guest), 0);
	munmap(guest_mem, 3 * 4096);
}

/* Guest code for the pager test: rbx += 1, store it to 0x50000000 (not
 * mapped yet: the root maps it lazily and resumes), load it back into
 * rcx, then store to 0xdead000 (fatal).  A resume that re-ran the add
 * would leave rbx == 2. */
extern const unsigned char pager_code_start[], pager_code_store[], pager_code_ud2[],
    pager_code_end[];
__asm__(".pushsection .rodata\n"
	"pager_code_start:\n"
	"	mov $0x50000000, %edi\n"
	"	add $1, %rbx\n"
	"	add $3, %r14\n"
	"pager_code_store:\n"
	"	mov %rbx, (%rdi)\n"
	"	add %rbx, %r14\n"
	"	mov 8(%rdi), %rcx\n"
	"	add $1, %rcx\n"
	"	mov %rcx, 0xdead000\n"
	"1:	jmp 1b\n"
	"pager_code_ud2:\n"
	"	ud2\n"
	"pager_code_end:\n"
	".popsection\n");

static uint8_t *pager_mem; /* code page, UTCB page, stack page, lazy page */

/* wait for one fault message on the pager gate (label 0x300); its ip */
static uint64_t wait_fault(unsigned kind, uint64_t addr)
{
	struct utcb *u = kernel_native_utcb();
	uint64_t label,
	    tag = kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER, &label);

	CHECK(!TAG_ERROR(tag) && label == (0x300 | 3) && u->mr[0] == FAULT_MSG);
	CHECK(u->mr[1] == kind && u->mr[3] == addr);
	return u->mr[2];
}

static void root_pager(void *arg)
{
	struct utcb *u = kernel_native_utcb();
	uint64_t h = (uint64_t)(uintptr_t)pager_mem;
	uint64_t *lazy = (uint64_t *)(pager_mem + 3 * 4096), label;
	struct cpu_regs r;

	memcpy(pager_mem, pager_code_start, (size_t)(pager_code_end - pager_code_start));
	lazy[1] = 41;
	CHECK(create(KCAP(0x380), FACTORY_TASK, TASK_GUEST, 0) == KERR_OK);
	CHECK(!TAG_ERROR(KCALL(KCAP(0x380), PROTO_TASK, TASK_MAP_MEM, h, GUEST_IMAGE_BASE,
			       4096, MEM_R | MEM_X)));
	CHECK(!TAG_ERROR(KCALL(KCAP(0x380), PROTO_TASK, TASK_MAP_MEM, h + 4096,
			       GUEST_UTCB_AREA, 8192, MEM_R | MEM_W)));
	CHECK(create(KCAP(0x382), FACTORY_GATE, ROOT_THREAD, 0x300) == KERR_OK);
	CHECK(create(KCAP(0x383), FACTORY_THREAD, 0, 0) == KERR_OK);
	CHECK(!TAG_ERROR(KCALL(KCAP(0x383), PROTO_THREAD, THREAD_CONTROL, KCAP(0x380),
			       GUEST_UTCB_AREA, KCAP(0x382), 1)));
	/* resuming a thread that never faulted is a no-op */
	CHECK(!TAG_ERROR(KCALL(KCAP(0x383), PROTO_THREAD, THREAD_RESUME)));
	CHECK(!TAG_ERROR(KCALL(KCAP(0x383), PROTO_THREAD, THREAD_EX_REGS,
			       GUEST_IMAGE_BASE, GUEST_UTCB_AREA + 8192 - 8)));
	/* the reported ip is the faulting store, not its block's start */
	CHECK(wait_fault(FAULT_WRITE, 0x50000000) ==
	      GUEST_IMAGE_BASE + (uint64_t)(pager_code_store - pager_code_start));
	CHECK(thread_state(KCAP(0x383)) == TS_FAULTED);
	/* resuming before the page is there faults again, the same way */
	CHECK(!TAG_ERROR(KCALL(KCAP(0x383), PROTO_THREAD, THREAD_RESUME)));
	wait_fault(FAULT_WRITE, 0x50000000);
	CHECK(!TAG_ERROR(KCALL(KCAP(0x380), PROTO_TASK, TASK_MAP_MEM, h + 3 * 4096,
			       0x50000000, 4096, MEM_R | MEM_W)));
	CHECK(!TAG_ERROR(KCALL(KCAP(0x383), PROTO_THREAD, THREAD_RESUME)));
	wait_fault(FAULT_WRITE, 0xdead000);
	CHECK(!TAG_ERROR(KCALL(KCAP(0x383), PROTO_THREAD, THREAD_GET_REGS)));
	memcpy(&r, u->mr, sizeof r);
	if (r.rbx != 1 || r.r14 != 4)
		fprintf(stderr, "pager resume not exact: rbx=%llu r14=%llu\n",
			(unsigned long long)r.rbx, (unsigned long long)r.r14);
	CHECK(r.rbx == 1 && r.r14 == 4 && r.rcx == 42 && lazy[0] == 1);
	/* an illegal instruction is no fault a pager can resolve */
	CHECK(create(KCAP(0x384), FACTORY_THREAD, 0, 0) == KERR_OK);
	CHECK(!TAG_ERROR(KCALL(KCAP(0x384), PROTO_THREAD, THREAD_CONTROL, KCAP(0x380),
			       GUEST_UTCB_AREA + 0x800, KCAP(0x382), 2)));
	CHECK(!TAG_ERROR(KCALL(KCAP(0x384), PROTO_THREAD, THREAD_EX_REGS,
			       GUEST_IMAGE_BASE + (pager_code_ud2 - pager_code_start),
			       GUEST_UTCB_AREA + 8192 - 64)));
	CHECK(!TAG_ERROR(
	    kernel_native_invoke(0, TAG(SYS_OP_WAIT, 0, 0, 0), NEVER, &label)));
	CHECK(u->mr[0] == FAULT_MSG && u->mr[1] == FAULT_ILLEGAL);
	CHECK(TAG_ERROR(KCALL(KCAP(0x384), PROTO_THREAD, THREAD_RESUME)) == KERR_INVAL);
	CHECK(thread_state(KCAP(0x384)) == TS_FAULTED);
	kernel_stop(0);
}

/* a guest thread faulting on an unmapped page is reported at the faulting
 * instruction and continues exactly there once the pager mapped the page
 * and resumed it; a non-memory fault cannot be resumed */
static void guest_pager_resume(void **state)
{
	pager_mem = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(pager_mem != MAP_FAILED);
	assert_int_equal(boot(root_pager), 0);
	assert_int_equal(failed_line, 0);
	munmap(pager_mem, 4 * 4096);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(guest_call_and_fault),
	    cmocka_unit_test(guest_pager_resume),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
