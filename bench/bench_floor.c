/*
 * The substrate floor, and a Linux reference to hold it against.
 *
 *  floor: a guest `syscall` that the kernel side answers at once: one
 *         engine exit, reading the arguments, setting the result, and the
 *         re-entry through vcpu_run (kernel/backend.h).  No IPC can be
 *         cheaper than this on the Unicorn backend.
 *  unix:  a one-word round trip over a Unix-domain socketpair between two
 *         Linux processes (parent and forked child ping-pong).
 *
 * Prints both in ns per round trip and floor / unix.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "kernel/backend.h"
#include "bench/unix_rtt.h"

#define PAGE	    0x1000ULL
#define CODE	    0x400000ULL
#define FLOOR_ITERS 2000000
#define SLICE_US    10000

/* guest: 1: inc %rax; syscall; jmp 1b */
static const uint8_t floor_code[] = {0x48, 0xff, 0xc0, 0x0f, 0x05, 0xeb, 0xf9};

/* ns per guest syscall round trip, or a negative value on error */
static double bench_floor(void)
{
	struct vspace *vs = NULL;
	struct vcpu *cpu = NULL;
	struct vcpu_trap t;
	struct cpu_regs r;
	uint64_t kcap, tag, timeout;
	uint8_t *code = aligned_alloc(PAGE, PAGE);
	double t0, ns = -1;
	long done = 0;

	if (!code || vspace_create(&vs) || vcpu_create(vs, &cpu))
		goto out;
	memset(code, 0xcc, PAGE);
	memcpy(code, floor_code, sizeof(floor_code));
	if (vspace_map(vs, CODE, PAGE, code, MEM_R | MEM_X))
		goto out;
	vcpu_get_regs(cpu, &r);
	r.rip = CODE;
	vcpu_set_regs(cpu, &r);
	for (int warm = 0; warm < 1000; warm++)
		vcpu_run(cpu, SLICE_US, &t);
	t0 = now_ns();
	for (long i = 0; i < FLOOR_ITERS; i++) {
		vcpu_run(cpu, SLICE_US, &t);
		if (t.why != VCPU_SYSCALL)
			continue; /* a preemption: not a round trip */
		vcpu_syscall_args(cpu, &kcap, &tag, &timeout);
		vcpu_syscall_result(cpu, tag, kcap);
		done++;
	}
	ns = (now_ns() - t0) / (double)done;
out:
	vcpu_destroy(cpu);
	vspace_destroy(vs);
	free(code);
	return ns;
}

int main(void)
{
	/* fork before any engine exists: the child needs no watchdog */
	double unix_ns = bench_unix();
	double floor_ns = bench_floor();

	if (unix_ns <= 0 || floor_ns <= 0) {
		fprintf(stderr, "bench_floor: measurement failed\n");
		return 1;
	}
	printf("bench_floor: guest syscall exit+re-entry  %8.1f ns\n", floor_ns);
	printf("bench_floor: unix socketpair round trip   %8.1f ns\n", unix_ns);
	printf("bench_floor: floor / unix                 %8.3f\n", floor_ns / unix_ns);
	return 0;
}
