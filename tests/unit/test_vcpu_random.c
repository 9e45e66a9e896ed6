/*
 * Random code: many seeded blobs of random bytes, laced with privileged,
 * system and odd instructions, each run in a guest engine.  Whatever a
 * blob does, the process survives, every run ends in a trap the kernel
 * understands (syscall, preemption, or a fault of a known kind), and
 * afterwards the engine is still at CPL 3 (a privileged instruction in
 * another thread of the same address space still faults).
 *
 * CAPSULE_RANDOM_BLOBS sets the number of blobs (default 3000),
 * CAPSULE_RANDOM_SEED the first seed (default 1), CAPSULE_RANDOM_VERBOSE=1
 * prints every trap; a failing blob is named by its seed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <time.h>
#include <cmocka.h>
#include "vcpu_fixture.h"

#define BLOBS_DEFAULT	 3000
#define BLOBS_PER_ENGINE 25
#define RUNS_PER_BLOB	 6
#define BLOB_SLICE_US	 300
#define PROBE		 0x800000ULL
#define INTR_GP		 13

/* Encodings spliced into the random bytes. */
static const struct {
	unsigned char len, b[10];
} insns[] = {
    {3, {0x0f, 0x23, 0xf8}},		 /* mov %rax, %dr7 */
    {3, {0x0f, 0x23, 0xc0}},		 /* mov %rax, %dr0 */
    {3, {0x0f, 0x21, 0xf0}},		 /* mov %dr6, %rax */
    {3, {0x0f, 0x22, 0xc0}},		 /* mov %rax, %cr0 */
    {3, {0x0f, 0x22, 0xd8}},		 /* mov %rax, %cr3 */
    {3, {0x0f, 0x22, 0xe0}},		 /* mov %rax, %cr4 */
    {3, {0x0f, 0x01, 0x10}},		 /* lgdt (%rax) */
    {3, {0x0f, 0x01, 0x18}},		 /* lidt (%rax) */
    {3, {0x0f, 0x00, 0xd0}},		 /* lldt %ax */
    {3, {0x0f, 0x00, 0xd8}},		 /* ltr %ax */
    {2, {0x0f, 0x30}},			 /* wrmsr */
    {2, {0x0f, 0x32}},			 /* rdmsr */
    {3, {0x48, 0x0f, 0x07}},		 /* sysretq */
    {2, {0x0f, 0x34}},			 /* sysenter */
    {2, {0x0f, 0x35}},			 /* sysexit */
    {2, {0x0f, 0x05}},			 /* syscall */
    {3, {0x0f, 0x01, 0xf8}},		 /* swapgs */
    {2, {0x48, 0xcf}},			 /* iretq */
    {2, {0xff, 0x18}},			 /* lcall *(%rax) */
    {2, {0xff, 0x28}},			 /* ljmp *(%rax) */
    {2, {0x48, 0xcb}},			 /* lretq */
    {1, {0xcc}},			 /* int3 */
    {2, {0xcd, 0x80}},			 /* int $0x80 */
    {1, {0xf1}},			 /* int1 */
    {1, {0xf4}},			 /* hlt */
    {1, {0xfa}},			 /* cli */
    {1, {0xfb}},			 /* sti */
    {2, {0xe4, 0x60}},			 /* in $0x60, %al */
    {2, {0xe6, 0x80}},			 /* out %al, $0x80 */
    {1, {0xed}},			 /* in (%dx), %eax */
    {1, {0x6e}},			 /* outsb */
    {3, {0x0f, 0x01, 0x38}},		 /* invlpg (%rax) */
    {2, {0x0f, 0x09}},			 /* wbinvd */
    {2, {0x0f, 0x08}},			 /* invd */
    {2, {0x0f, 0x06}},			 /* clts */
    {2, {0x0f, 0x31}},			 /* rdtsc */
    {3, {0x0f, 0x01, 0xf9}},		 /* rdtscp */
    {2, {0x0f, 0x33}},			 /* rdpmc */
    {2, {0x0f, 0xa2}},			 /* cpuid */
    {3, {0x0f, 0x01, 0xd1}},		 /* xsetbv */
    {3, {0x0f, 0x01, 0xd0}},		 /* xgetbv */
    {3, {0x0f, 0x01, 0xc8}},		 /* monitor */
    {3, {0x0f, 0x01, 0xc9}},		 /* mwait */
    {3, {0x0f, 0x01, 0xc1}},		 /* vmcall */
    {3, {0x0f, 0x01, 0xca}},		 /* clac */
    {2, {0x8e, 0xd0}},			 /* mov %eax, %ss */
    {2, {0x8e, 0xd8}},			 /* mov %eax, %ds */
    {2, {0x0f, 0xa1}},			 /* pop %fs */
    {3, {0x0f, 0xb2, 0x00}},		 /* lss (%rax), %eax */
    {3, {0x0f, 0x01, 0xe0}},		 /* smsw %eax */
    {3, {0x0f, 0x01, 0x00}},		 /* sgdt (%rax) */
    {3, {0x0f, 0x00, 0xc8}},		 /* str %eax */
    {3, {0x0f, 0x02, 0xc0}},		 /* lar %eax, %eax */
    {3, {0x0f, 0x00, 0xe0}},		 /* verr %ax */
    {3, {0x0f, 0xae, 0x08}},		 /* fxrstor (%rax) */
    {3, {0x0f, 0xae, 0x28}},		 /* xrstor (%rax) */
    {3, {0x0f, 0xae, 0x10}},		 /* ldmxcsr (%rax) */
    {2, {0xf3, 0xa4}},			 /* rep movsb */
    {2, {0xf3, 0xaa}},			 /* rep stosb */
    {3, {0x0f, 0xc7, 0xf0}},		 /* rdrand %eax */
    {5, {0xf3, 0x48, 0x0f, 0xae, 0xd0}}, /* wrfsbase %rax */
    {2, {0x0f, 0x0b}},			 /* ud2 */
    /* pushf; orq $0x100, (%rsp); popf: single-step */
    {10, {0x9c, 0x48, 0x81, 0x0c, 0x24, 0x00, 0x01, 0x00, 0x00, 0x9d}},
    /* pushq $0x3200; popf: IOPL 3 and IF */
    {6, {0x68, 0x00, 0x32, 0x00, 0x00, 0x9d}},
    {2, {0xeb, 0xfe}}, /* jmp . */
};
#define NINSNS (sizeof(insns) / sizeof(insns[0]))

SNIPPET(r_probe, "mov %rax, %dr7\n syscall\n");

static uint64_t rng;
static int verbose; /* CAPSULE_RANDOM_VERBOSE: every trap */

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static unsigned long env_ulong(const char *name, unsigned long dflt)
{
	const char *s = getenv(name);
	char *end;
	unsigned long v;

	if (!s || !*s)
		return dflt;
	v = strtoul(s, &end, 0);
	if (*end) {
		fprintf(stderr, "%s: '%s' is not a number\n", name, s);
		exit(2);
	}
	return v;
}

/* Random bytes with an instruction from insns[] every few bytes. */
static void blob_fill(uint8_t *code, uint8_t *data)
{
	for (unsigned i = 0; i < PAGE; i++)
		code[i] = (uint8_t)rnd();
	for (unsigned i = 0; i < PAGE;) {
		unsigned k = rnd() % NINSNS;
		if (i + insns[k].len > PAGE)
			break;
		memcpy(code + i, insns[k].b, insns[k].len);
		i += insns[k].len + rnd() % 12;
	}
	for (unsigned i = 0; i < PAGE; i++)
		data[i] = (uint8_t)rnd();
}

/* Random registers, many of them pointing into DATA. */
static void blob_regs(struct vcpu *cpu)
{
	struct cpu_regs r;
	uint64_t *gpr;

	vcpu_get_regs(cpu, &r);
	gpr = &r.rax;
	for (int i = 0; i < 16; i++)
		gpr[i] = rnd() & 1 ? DATA + rnd() % PAGE : rnd();
	r.rsp = DATA + 0x800;
	r.rip = CODE + (rnd() & 1 ? 0 : rnd() % 64);
	r.rflags = rnd();
	vcpu_set_regs(cpu, &r);
}

struct tally {
	unsigned long faults[FAULT_OTHER + 1], syscalls, still_running;
};

/* Run one blob to its fault or for RUNS_PER_BLOB slices. */
static void blob_run(struct vcpu *cpu, struct tally *t, uint64_t seed)
{
	struct vcpu_trap trap;

	for (int i = 0; i < RUNS_PER_BLOB; i++) {
		vcpu_run(cpu, BLOB_SLICE_US, &trap);
		if (verbose)
			print_message(
			    "seed %llu: trap %d kind %u ip 0x%llx addr 0x%llx\n",
			    (unsigned long long)seed, trap.why, trap.fault_kind,
			    (unsigned long long)trap.fault_ip,
			    (unsigned long long)trap.fault_addr);
		if (trap.why == VCPU_SYSCALL) {
			t->syscalls++;
			vcpu_syscall_result(cpu, rnd(), rnd());
			continue;
		}
		if (trap.why == VCPU_PREEMPTED)
			continue;
		if (trap.why != VCPU_FAULT || trap.fault_kind < FAULT_READ ||
		    trap.fault_kind > FAULT_OTHER)
			fail_msg("seed %llu: trap %d kind %u", (unsigned long long)seed,
				 trap.why, trap.fault_kind);
		t->faults[trap.fault_kind]++;
		return;
	}
	t->still_running++;
}

/* The engine is still at CPL 3: the probe thread's dr7 write faults. */
static void check_user_mode(struct vspace *vs, uint64_t seed)
{
	struct vcpu *probe;
	struct vcpu_trap trap;
	struct cpu_regs r;

	assert_int_equal(vcpu_create(vs, &probe), 0);
	vcpu_get_regs(probe, &r);
	r.rip = PROBE;
	vcpu_set_regs(probe, &r);
	run_trap(probe, &trap);
	if (trap.why != VCPU_FAULT || trap.fault_ip != PROBE ||
	    trap.fault_addr != INTR_GP)
		fail_msg("seed %llu: the engine left CPL 3 (trap %d kind %u ip 0x%llx "
			 "addr 0x%llx)",
			 (unsigned long long)seed, trap.why, trap.fault_kind,
			 (unsigned long long)trap.fault_ip,
			 (unsigned long long)trap.fault_addr);
	vcpu_destroy(probe);
}

static void random_blobs(void **state)
{
	unsigned long blobs = env_ulong("CAPSULE_RANDOM_BLOBS", BLOBS_DEFAULT);
	uint64_t seed0 = env_ulong("CAPSULE_RANDOM_SEED", 1);
	uint8_t *code = page_alloc(1), *data = page_alloc(1), *probe = page_alloc(1);
	struct tally t = {0};
	struct vspace *vs = NULL;
	struct timespec a, b;

	verbose = env_ulong("CAPSULE_RANDOM_VERBOSE", 0) != 0;
	memcpy(probe, r_probe, r_probe_end - r_probe);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (unsigned long n = 0; n < blobs; n++) {
		uint64_t seed = seed0 + n;
		struct vcpu *cpu;

		if (n % BLOBS_PER_ENGINE == 0) {
			if (vs)
				vspace_destroy(vs);
			assert_int_equal(vspace_create(&vs), 0);
			assert_int_equal(
			    vspace_map(vs, PROBE, PAGE, probe, MEM_R | MEM_X), 0);
		}
		rng = seed * 0x9e3779b97f4a7c15ULL | 1;
		blob_fill(code, data);
		/* code is writable: blobs may modify themselves */
		assert_int_equal(vspace_map(vs, CODE, PAGE, code, MEM_R | MEM_W | MEM_X),
				 0);
		assert_int_equal(vspace_map(vs, DATA, PAGE, data, MEM_R | MEM_W), 0);
		assert_int_equal(vcpu_create(vs, &cpu), 0);
		blob_regs(cpu);
		blob_run(cpu, &t, seed);
		vcpu_destroy(cpu);
		check_user_mode(vs, seed);
		assert_int_equal(vspace_unmap(vs, CODE, PAGE), 0);
		assert_int_equal(vspace_unmap(vs, DATA, PAGE), 0);
	}
	vspace_destroy(vs);
	clock_gettime(CLOCK_MONOTONIC, &b);
	print_message(
	    "%lu blobs from seed %llu in %.1f s: faults read %lu write %lu exec "
	    "%lu illegal %lu other %lu; %lu syscalls; %lu still running\n",
	    blobs, (unsigned long long)seed0,
	    (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9,
	    t.faults[FAULT_READ], t.faults[FAULT_WRITE], t.faults[FAULT_EXEC],
	    t.faults[FAULT_ILLEGAL], t.faults[FAULT_OTHER], t.syscalls, t.still_running);
	free(code);
	free(data);
	free(probe);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(random_blobs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
