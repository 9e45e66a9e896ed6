/*
 * The fixture of the guest backend tests (test_vcpu*.c): one address
 * space with a code page at CODE (rx) and a data page at DATA (rw) from
 * host pages, one vcpu starting at CODE with its stack at the top of DATA.
 * Include after cmocka.h.
 */
#ifndef TESTS_UNIT_VCPU_FIXTURE_H
#define TESTS_UNIT_VCPU_FIXTURE_H

#include <stdlib.h>
#include <string.h>
#include "guest_snippet.h"
#include "kernel/backend.h"

#define PAGE	 0x1000ULL
#define CODE	 0x400000ULL
#define DATA	 0x600000ULL
#define WILD	 0xdead0000ULL
#define SLICE_US 1000

/* Run cpu until it traps (a syscall or a fault): on a loaded machine one
 * slice may end first. */
static inline void run_trap(struct vcpu *cpu, struct vcpu_trap *t)
{
	for (int i = 0; i < 1000; i++) {
		vcpu_run(cpu, SLICE_US, t);
		if (t->why != VCPU_PREEMPTED)
			return;
	}
}

/* One address space with CODE (rx) and DATA (rw) from host pages. */
struct fixture {
	struct vspace *vs;
	struct vcpu *cpu;
	uint8_t *code;
	uint64_t *data;
};

static inline void *page_alloc(size_t n)
{
	void *p = aligned_alloc(PAGE, n * PAGE);

	assert_non_null(p);
	memset(p, 0, n * PAGE);
	return p;
}

static inline void fixture_init(struct fixture *f, const uint8_t *start,
				const uint8_t *end)
{
	assert_int_equal(vspace_create(&f->vs), 0);
	f->code = page_alloc(1);
	f->data = page_alloc(1);
	memset(f->code, 0xcc, PAGE);
	memcpy(f->code, start, end - start);
	assert_int_equal(vspace_map(f->vs, CODE, PAGE, f->code, MEM_R | MEM_X), 0);
	assert_int_equal(vspace_map(f->vs, DATA, PAGE, f->data, MEM_R | MEM_W), 0);
	assert_int_equal(vcpu_create(f->vs, &f->cpu), 0);
	struct cpu_regs r;
	vcpu_get_regs(f->cpu, &r);
	r.rip = CODE;
	r.rsp = DATA + PAGE;
	vcpu_set_regs(f->cpu, &r);
}

static inline void fixture_fini(struct fixture *f)
{
	vcpu_destroy(f->cpu);
	vspace_destroy(f->vs);
	free(f->code);
	free(f->data);
}

#define FIXTURE(f, snip) fixture_init(&(f), snip, snip##_end)

#endif
