/*
 * The CPU session on guest threads in IPC (see cpu_guest.h): pausing a
 * thread in an open wait, in the send phase of a call or waiting for the
 * reply, and killing a blocked caller.
 */
#include "cpu_guest.h"

/* One-way IPC from init straight to a thread cap (PROTO_IPC). */
static unsigned send_thread(cap_t th, uint64_t word, uint64_t timeout_us)
{
	uint64_t label;

	sys_utcb()->mr[0] = word;
	return TAG_ERROR(sys_invoke(cap_kcap(th), TAG(SYS_OP_SEND, PROTO_IPC, 1, 0),
				    timeout_us, &label));
}

/* 3: pausing a thread blocked in an open wait takes it out of the wait
 * (a send with timeout 0 fails); resume re-enters it and a later message
 * still arrives. */
static int case_pause_wait(struct env *env, struct tcase *t)
{
	cap_t pa, th;
	struct gthread g;
	struct cpu_regs r;
	struct rmsg m;
	uint64_t w[4];

	if (case_setup(env, t) || guest_pd(env, t, &pa) || guest_thread(t, pa, "rcv", &g))
		return 1;
	CHECK(t, !start(t, &g, OFF_RECV));
	if (recv_hello(t, &g, &th))
		return 1;
	for (uint64_t round = 1; round <= 2; round++) {
		CHECK(t, !wait_state(t->cpu, g.cap, TS_BLOCKED, 1000, w));
		CHECK(t, !cpu_pause(t->cpu, g.cap));
		CHECK(t, !cpu_pause(t->cpu, g.cap)); /* idempotent */
		CHECK(t, !cpu_state(t->cpu, g.cap, w) && w[0] == TS_PAUSED);
		CHECK(t, send_thread(th, 1, 0) == KERR_TIMEOUT);
		sleep_us(10000);
		CHECK(t, !cpu_state(t->cpu, g.cap, w) && w[0] == TS_PAUSED);
		/* rewound: resuming re-issues the wait syscall */
		CHECK(t, !cpu_get_regs(t->cpu, g.cap, &r));
		CHECK(t, r.rip == CODE + OFF_RECV + RECV_SYSCALL);
		CHECK(t, r.rsi == TAG(SYS_OP_WAIT, 0, 0, 0));
		CHECK(t, !cpu_resume(t->cpu, g.cap));
		CHECK(t, !wait_state(t->cpu, g.cap, TS_BLOCKED, 1000, w));
		CHECK(t, send_thread(th, 0x5eed + round, 1000000) == KERR_OK);
		CHECK(t, recv_msg(2000000, &m) == KERR_OK);
		CHECK(t, (m.label & ~3ULL) == cap_badge(t->gate));
		CHECK(t, m.words == 2 && m.mr[0] == 0x5eed + round && !(m.mr[1] & ~3ULL));
	}
	return 0;
}

/* 5: killing a client blocked in a call (queued on a paused server, or
 * waiting for init's reply) leaves the server intact: its later calls
 * are served, the dead one never was. */
static int case_kill_caller(struct env *env, struct tcase *t)
{
	cap_t ps, pc, srv_cap, srv_gate;
	struct gthread srv, c1, c2, c3, c4;
	struct rmsg m;
	struct msg k;
	uint64_t w[4], label;

	if (case_setup(env, t) || guest_pd(env, t, &ps) || guest_pd(env, t, &pc) ||
	    guest_thread(t, ps, "srv", &srv) || guest_thread(t, pc, "c1", &c1) ||
	    guest_thread(t, pc, "c2", &c2))
		return 1;
	CHECK(t, !start(t, &srv, OFF_ECHO));
	if (recv_hello(t, &srv, &srv_cap))
		return 1;
	CHECK(t, !pd_alloc_rpc_cap(ps, srv_cap, &srv_gate));
	CHECK(t, !pd_map_cap(pc, srv_gate, SRV_GATE));
	/* c1 is queued on the paused server, then killed */
	CHECK(t, !wait_state(t->cpu, srv.cap, TS_BLOCKED, 1000, w));
	CHECK(t, !cpu_pause(t->cpu, srv.cap));
	CHECK(t, !start(t, &c1, OFF_CLIENT));
	CHECK(t, !wait_state(t->cpu, c1.cap, TS_BLOCKED, 1000, w));
	CHECK(t, !cpu_simple(t->cpu, CPU_KILL, c1.cap, &k));
	CHECK(t, !cpu_resume(t->cpu, srv.cap));
	CHECK(t, !wait_state(t->cpu, srv.cap, TS_BLOCKED, 1000, w));
	/* c2's call is the first the server serves */
	CHECK(t, !start(t, &c2, OFF_CLIENT));
	CHECK(t, recv_msg(2000000, &m) == KERR_OK);
	CHECK(t, m.words == 3 && m.mr[0] == 100 + c2.nr + 1 && m.mr[1] == 1);
	CHECK(t, TAG_ERROR(m.mr[2]) == KERR_OK && TAG_WORDS(m.mr[2]) == 2);
	/* init as the server: c3 waits for init's reply and is killed */
	CHECK(t, !pd_map_cap(pc, t->gate, SRV_GATE));
	if (guest_thread(t, pc, "c3", &c3) || guest_thread(t, pc, "c4", &c4))
		return 1;
	CHECK(t, !start(t, &c3, OFF_CLIENT));
	CHECK(t, recv_msg(2000000, &m) == KERR_OK && m.mr[0] == 100 + c3.nr);
	CHECK(t, !cpu_simple(t->cpu, CPU_KILL, c3.cap, &k));
	sys_utcb()->mr[0] = 1;
	CHECK(t, TAG_ERROR(sys_invoke(0, TAG(SYS_OP_REPLY, 0, 1, 0), 0, &label)) ==
		     KERR_ABORTED);
	CHECK(t, !start(t, &c4, OFF_CLIENT));
	CHECK(t, recv_msg(2000000, &m) == KERR_OK && m.mr[0] == 100 + c4.nr);
	sys_utcb()->mr[0] = 7;
	sys_utcb()->mr[1] = 8;
	CHECK(t, !TAG_ERROR(sys_invoke(0, TAG(SYS_OP_REPLY, 0, 2, 0), 0, &label)));
	CHECK(t, recv_msg(2000000, &m) == KERR_OK);
	CHECK(t, m.words == 3 && m.mr[0] == 7 && m.mr[1] == 8);
	/* the guest server is still alive and serving */
	CHECK(t, !cpu_state(t->cpu, srv.cap, w) && w[0] == TS_BLOCKED);
	return 0;
}

/* 6: pausing a caller in the send phase rewinds it (the server does not
 * get the request while it is paused, resume re-issues it); pausing one
 * waiting for a reply lets the reply land, then holds the thread. */
static int case_pause_caller(struct env *env, struct tcase *t)
{
	cap_t ps, pc, srv_cap, srv_gate;
	struct gthread srv, c1, c2;
	struct cpu_regs r;
	struct rmsg m;
	uint64_t w[4], label;

	if (case_setup(env, t) || guest_pd(env, t, &ps) || guest_pd(env, t, &pc) ||
	    guest_thread(t, ps, "srv", &srv) || guest_thread(t, pc, "c1", &c1) ||
	    guest_thread(t, pc, "c2", &c2))
		return 1;
	CHECK(t, !start(t, &srv, OFF_ECHO));
	if (recv_hello(t, &srv, &srv_cap))
		return 1;
	CHECK(t, !pd_alloc_rpc_cap(ps, srv_cap, &srv_gate));
	CHECK(t, !pd_map_cap(pc, srv_gate, SRV_GATE));
	CHECK(t, !wait_state(t->cpu, srv.cap, TS_BLOCKED, 1000, w));
	CHECK(t, !cpu_pause(t->cpu, srv.cap));
	CHECK(t, !start(t, &c1, OFF_CLIENT));
	CHECK(t, !wait_state(t->cpu, c1.cap, TS_BLOCKED, 1000, w));
	CHECK(t, !cpu_pause(t->cpu, c1.cap));
	CHECK(t, !cpu_state(t->cpu, c1.cap, w) && w[0] == TS_PAUSED);
	CHECK(t, !cpu_get_regs(t->cpu, c1.cap, &r));
	CHECK(t, r.rip == CODE + OFF_CLIENT + CLIENT_CALL && r.rdi == SRV_GATE);
	CHECK(t, r.rsi == TAG(SYS_OP_CALL, 0, 1, 0));
	CHECK(t, !cpu_resume(t->cpu, srv.cap));
	CHECK(t, !wait_state(t->cpu, srv.cap, TS_BLOCKED, 1000, w));
	CHECK(t, recv_msg(20000, &m) == KERR_TIMEOUT); /* nobody served c1 */
	CHECK(t, !cpu_resume(t->cpu, c1.cap));
	CHECK(t, recv_msg(2000000, &m) == KERR_OK);
	CHECK(t, m.words == 3 && m.mr[0] == 100 + c1.nr + 1 && m.mr[1] == 1);
	/* init as the server: c2 paused while it waits for init's reply */
	CHECK(t, !pd_map_cap(pc, t->gate, SRV_GATE));
	CHECK(t, !start(t, &c2, OFF_CLIENT));
	CHECK(t, recv_msg(2000000, &m) == KERR_OK && m.mr[0] == 100 + c2.nr);
	CHECK(t, !cpu_pause(t->cpu, c2.cap));
	CHECK(t, !cpu_state(t->cpu, c2.cap, w) && w[0] == TS_BLOCKED);
	sys_utcb()->mr[0] = 7;
	sys_utcb()->mr[1] = 8;
	CHECK(t, !TAG_ERROR(sys_invoke(0, TAG(SYS_OP_REPLY, 0, 2, 0), 0, &label)));
	CHECK(t, !cpu_state(t->cpu, c2.cap, w) && w[0] == TS_PAUSED);
	CHECK(t, recv_msg(20000, &m) == KERR_TIMEOUT); /* held after the reply */
	CHECK(t, !cpu_get_regs(t->cpu, c2.cap, &r));
	CHECK(t, r.rip == CODE + OFF_CLIENT + CLIENT_CALL + 2);
	CHECK(t, TAG_WORDS(r.rax) == 2 && !TAG_ERROR(r.rax));
	CHECK(t, !cpu_resume(t->cpu, c2.cap));
	CHECK(t, recv_msg(2000000, &m) == KERR_OK);
	CHECK(t, m.words == 3 && m.mr[0] == 7 && m.mr[1] == 8 && m.mr[2] == r.rax);
	return 0;
}

NODE_CASE(pause_wait)
NODE_CASE(kill_caller)
NODE_CASE(pause_caller)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(pause_wait),  /* pause/resume of a thread in an open wait */
	    cmocka_unit_test(kill_caller), /* a killed blocked caller spares the server */
	    cmocka_unit_test(pause_caller), /* pause in send phase / in reply wait */
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
