/*
 * The CPU session on guest threads (see cpu_guest.h): preemption,
 * registers of paused threads, quota transfer, two register files in one
 * address space.
 */
#include "cpu_guest.h"

/* 1: a spinning guest thread is preempted: init's sleep returns, a
 * thread of another PD gets its message through; then pause, kill. */
static int case_preempt(struct env *env, struct tcase *t)
{
	cap_t pa, pb;
	struct gthread spin, snd;
	struct cpu_regs r;
	struct rmsg m;
	struct msg k;
	uint64_t w[4];

	if (case_setup(env, t) || guest_pd(env, t, &pa) || guest_pd(env, t, &pb) ||
	    guest_thread(t, pa, "spin", &spin) || guest_thread(t, pb, "snd", &snd))
		return 1;
	CHECK(t, !start(t, &spin, OFF_SPIN));
	CHECK(t, sleep_us(30000) == KERR_TIMEOUT);
	CHECK(t, !cpu_state(t->cpu, spin.cap, w) && w[0] == TS_READY);
	CHECK(t, !start(t, &snd, OFF_SENDER));
	CHECK(t, recv_msg(2000000, &m) == KERR_OK);
	CHECK(t, (m.label & ~3ULL) == cap_badge(t->gate));
	CHECK(t, m.words == 1 && m.mr[0] == SENDER_WORD);
	CHECK(t, !wait_state(t->cpu, snd.cap, TS_BLOCKED, 1000, w));
	CHECK(t, !cpu_pause(t->cpu, spin.cap));
	CHECK(t, !cpu_state(t->cpu, spin.cap, w) && w[0] == TS_PAUSED);
	CHECK(t, !cpu_get_regs(t->cpu, spin.cap, &r) && r.rip == CODE + OFF_SPIN);
	CHECK(t, !cpu_simple(t->cpu, CPU_KILL, spin.cap, &k));
	CHECK(t, cpu_state(t->cpu, spin.cap, w) != 0);
	CHECK(t, !cpu_state(t->cpu, snd.cap, w) && w[0] == TS_BLOCKED);
	return 0;
}

static double as_double(uint64_t bits)
{
	double d;

	memcpy(&d, &bits, sizeof(d));
	return d;
}

static uint64_t as_bits(double d)
{
	uint64_t bits;

	memcpy(&bits, &d, sizeof(d));
	return bits;
}

/* Check the loop invariant of code_regs in r (paused in the loop). */
static int regs_consistent(const struct cpu_regs *r)
{
	uint64_t off = r->rip - (CODE + OFF_REGS);
	double expect = (double)(off == REGS_ADDSD ? r->rax - 1 : r->rax);

	if (off != REGS_LOOP && off != REGS_ADDSD && off != REGS_JMP)
		return 0;
	return r->rax > 0 && as_double(r->xmm[1][0]) == 1.0 &&
	       as_double(r->xmm[0][0]) == expect;
}

/* 2: registers of a paused guest thread: read (rip in the loop, rax and
 * xmm0 consistent), refused while running, set (rax, xmm1, rip) and the
 * effect seen in its message and its fault. */
static int case_regs(struct env *env, struct tcase *t)
{
	cap_t pa;
	struct gthread g;
	struct cpu_regs r, r2;
	struct rmsg m;
	uint64_t w[4];

	if (case_setup(env, t) || guest_pd(env, t, &pa) ||
	    guest_thread(t, pa, "loop", &g))
		return 1;
	CHECK(t, !start(t, &g, OFF_REGS));
	sleep_us(20000);
	CHECK(t, cpu_get_regs(t->cpu, g.cap, &r) == -EBUSY);
	memset(&r, 0, sizeof(r));
	CHECK(t, cpu_set_regs(t->cpu, g.cap, &r) == -EBUSY);
	CHECK(t, !cpu_pause(t->cpu, g.cap));
	CHECK(t, !cpu_state(t->cpu, g.cap, w) && w[0] == TS_PAUSED);
	CHECK(t, !cpu_get_regs(t->cpu, g.cap, &r));
	CHECK(t, regs_consistent(&r));
	CHECK(t, r.gs_base == g.utcb);
	sleep_us(20000); /* paused: nothing moves */
	CHECK(t, !cpu_get_regs(t->cpu, g.cap, &r2) && !memcmp(&r, &r2, sizeof(r)));
	r.rax = 0x1234;
	r.xmm[1][0] = as_bits(42.75);
	r.rip = CODE + OFF_REGS + REGS_REPORT;
	CHECK(t, !cpu_set_regs(t->cpu, g.cap, &r));
	CHECK(t, !cpu_get_regs(t->cpu, g.cap, &r2) && !memcmp(&r, &r2, sizeof(r)));
	CHECK(t, !cpu_resume(t->cpu, g.cap));
	CHECK(t, recv_msg(2000000, &m) == KERR_OK);
	CHECK(t, m.words == 3 && m.mr[0] == 0x1234 && m.mr[1] == 42);
	CHECK(t, m.mr[2] == r.xmm[0][0]);
	CHECK(t, !wait_state(t->cpu, g.cap, TS_FAULTED, 1000, w));
	CHECK(t, w[1] == FAULT_READ && w[2] == CODE + OFF_REGS + REGS_FAULT);
	CHECK(t, w[3] == 0x1234);
	CHECK(t, !cpu_get_regs(t->cpu, g.cap, &r2) && r2.rbx == 0x1234);
	CHECK(t, r2.rip == CODE + OFF_REGS + REGS_FAULT);
	CHECK(t, cpu_set_regs(t->cpu, g.cap, &r2) == -EBUSY);
	return 0;
}

/* 4: PD_TRANSFER_QUOTA moves RAM and cap quota; asking for more than is
 * free is refused with -EDQUOT and moves nothing. */
static int case_transfer(struct env *env, struct tcase *t)
{
	cap_t a, b, ds;
	uint64_t qa[4], qb[4];

	CHECK(t, !parent_session(env->parent, "PD", "ram_quota=65536 cap_quota=4", &a));
	CHECK(t, !parent_session(env->parent, "PD", "ram_quota=8192 cap_quota=1", &b));
	CHECK(t, !pd_transfer_quota(a, b, 16384, 2));
	CHECK(t, !node_pd_quota(a, qa) && qa[0] == 49152 && qa[2] == 2);
	CHECK(t, !node_pd_quota(b, qb) && qb[0] == 24576 && qb[2] == 3);
	CHECK(t, !pd_alloc_ram(b, 24576, &ds)); /* the moved quota is usable */
	CHECK(t, !pd_alloc_ram(a, 40960, &ds));
	CHECK(t, pd_transfer_quota(a, b, 8193, 0) == -EDQUOT);
	CHECK(t, pd_transfer_quota(a, b, 4096, 3) == -EDQUOT);
	CHECK(t, pd_transfer_quota(a, b, ~0ULL, 0) == -EDQUOT);
	CHECK(t, !node_pd_quota(a, qa) && qa[0] == 49152 && qa[1] == 40960 && qa[2] == 2);
	CHECK(t, !node_pd_quota(b, qb) && qb[0] == 24576 && qb[1] == 24576 && qb[2] == 3);
	CHECK(t, pd_transfer_quota(a, a, 4096, 0) == -EINVAL);
	CHECK(t, pd_transfer_quota(a, ds, 4096, 0) == -EINVAL);
	CHECK(t, !pd_transfer_quota(a, b, 8192, 2)); /* exactly what is free */
	CHECK(t, !node_pd_quota(a, qa) && qa[0] == 40960 && qa[2] == 0);
	CHECK(t, !node_pd_quota(b, qb) && qb[0] == 32768 && qb[2] == 5);
	return 0;
}

/* 7: two threads of one PD (one address space) keep separate register
 * files through preemption, pause, SET_REGS and resume. */
static int case_two_threads(struct env *env, struct tcase *t)
{
	cap_t pa;
	struct gthread g[2];
	struct cpu_regs r[2];
	struct rmsg m;
	uint64_t w[4];
	int seen = 0;

	if (case_setup(env, t) || guest_pd(env, t, &pa) ||
	    guest_thread(t, pa, "a", &g[0]) || guest_thread(t, pa, "b", &g[1]))
		return 1;
	CHECK(t, !start(t, &g[0], OFF_REGS));
	sleep_us(15000);
	CHECK(t, !start(t, &g[1], OFF_REGS));
	sleep_us(40000);
	for (int i = 0; i < 2; i++)
		CHECK(t, !cpu_pause(t->cpu, g[i].cap));
	for (int i = 0; i < 2; i++) {
		CHECK(t,
		      !cpu_get_regs(t->cpu, g[i].cap, &r[i]) && regs_consistent(&r[i]));
		CHECK(t, r[i].gs_base == g[i].utcb);
		r[i].rax = 0x1000 * (i + 1) + 0x11;
		r[i].xmm[1][0] = as_bits(3.0 + 2 * i);
		r[i].rip = CODE + OFF_REGS + REGS_REPORT;
	}
	CHECK(t, r[0].rax != r[1].rax || r[0].xmm[0][0] != r[1].xmm[0][0]);
	for (int i = 0; i < 2; i++)
		CHECK(t, !cpu_set_regs(t->cpu, g[i].cap, &r[i]));
	for (int i = 0; i < 2; i++)
		CHECK(t, !cpu_resume(t->cpu, g[i].cap));
	for (int n = 0; n < 2; n++) {
		CHECK(t, recv_msg(2000000, &m) == KERR_OK && m.words == 3);
		int i = m.mr[0] == r[1].rax;
		CHECK(t, m.mr[0] == r[i].rax && m.mr[1] == (uint64_t)(3 + 2 * i));
		CHECK(t, m.mr[2] == r[i].xmm[0][0]);
		seen |= 1 << i;
	}
	CHECK(t, seen == 3);
	for (int i = 0; i < 2; i++) {
		CHECK(t, !wait_state(t->cpu, g[i].cap, TS_FAULTED, 1000, w));
		CHECK(t, w[1] == FAULT_READ && w[3] == r[i].rax);
	}
	return 0;
}

NODE_CASE(preempt)
NODE_CASE(regs)
NODE_CASE(transfer)
NODE_CASE(two_threads)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(preempt),	   /* a spinning guest cannot starve others */
	    cmocka_unit_test(regs),	   /* GET/SET_REGS of a paused guest thread */
	    cmocka_unit_test(transfer),	   /* PD_TRANSFER_QUOTA moves or refuses */
	    cmocka_unit_test(two_threads), /* one address space, two register files */
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
