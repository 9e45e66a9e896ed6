/*
 * core on a real kernel: each case boots a node whose init is a native
 * function of this test that uses core's sessions through libbase and
 * the parent interface, then ends the node with parent_exit.  A case's
 * checks run inside the node; the first failing one is recorded and
 * reported here after kernel_boot returns.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <capsule/checkpoint_abi.h>
#include <base/env.h>

#define PENDING 0x70e /* the case continues in an irq handler */

struct tcase {
	int (*run)(struct env *env, struct tcase *t);
	uint64_t ram_total, cap_total;
	const char *expect_stdout; /* must appear in what the node prints */
	int fail_line;
	const char *fail_expr;
	char romdir[64];
	/* state of the asynchronous cases */
	struct env *env;
	cap_t cpu, thread;
};

#include "fixture_node.h"

/* RAM allocations are charged to the PD's quota; beyond it: -EDQUOT. */
static int case_ram_quota(struct env *env, struct tcase *t)
{
	cap_t pd, ds, ds2;
	uint64_t q[4];
	struct msg m;

	CHECK(t, !parent_session(env->parent, "PD", "ram_quota=65536 cap_quota=4", &pd));
	CHECK(t, !pd_alloc_ram(pd, 10000, &ds));
	msg_reset(&m, DS_SIZE);
	CHECK(t, !node_call(ds, &m) && m.w[0] == 12288);
	CHECK(t, pd_alloc_ram(pd, 65536, &ds2) == -EDQUOT);
	CHECK(t, !node_pd_quota(pd, q) && q[0] == 65536 && q[1] == 12288 && q[2] == 4);
	CHECK(t, !pd_free_ram(pd, ds));
	CHECK(t, !node_pd_quota(pd, q) && q[1] == 0);
	CHECK(t, !pd_alloc_ram(pd, 65536, &ds2));
	CHECK(t, pd_alloc_ram(pd, 1, &ds) == -EDQUOT);
	CHECK(t, pd_alloc_ram(pd, 0, &ds) == -EINVAL);
	return 0;
}

/* A session's quota comes out of the requester's PD and returns on close;
 * empty args name the requester's own env session. */
static int case_session_quota(struct env *env, struct tcase *t)
{
	cap_t a, b, own;
	uint64_t q[4], avail, half;

	CHECK(t, !parent_session(env->parent, "PD", "", &own));
	CHECK(t, cap_badge(own) == cap_badge(env->pd));
	CHECK(t, !node_pd_quota(env->pd, q) && q[0] == (1 << 20));
	avail = q[0] - q[1];
	half = (avail / 2 + 4096) & ~4095ULL;
	char args[64];
	snprintf(args, sizeof(args), "ram_quota=%llu", (unsigned long long)avail + 1);
	CHECK(t, parent_session(env->parent, "PD", args, &a) == -EDQUOT);
	snprintf(args, sizeof(args), "ram_quota=%llu", (unsigned long long)half);
	CHECK(t, !parent_session(env->parent, "PD", args, &a));
	CHECK(t, !node_pd_quota(env->pd, q) && q[0] == (1 << 20) - half);
	CHECK(t, parent_session(env->parent, "PD", args, &b) == -EDQUOT);
	CHECK(t, !parent_close(env->parent, a));
	CHECK(t, !node_pd_quota(env->pd, q) && q[0] == (1 << 20));
	CHECK(t, !parent_session(env->parent, "PD", args, &b));
	CHECK(t, parent_session(env->parent, "PD", "ram_quota=x", &a) == -EINVAL);
	CHECK(t, parent_session(env->parent, "NOPE", "label=\"x\"", &a) == -ENOENT);
	CHECK(t, parent_close(env->parent, env->pd) == -EINVAL);
	return 0;
}

/* RPC caps: badges are increasing multiples of 4, counted against the
 * cap quota; a freed gate is revoked in the client's cap space. */
static int case_rpc_caps(struct env *env, struct tcase *t)
{
	cap_t pd, g[3], extra;
	uint64_t kcap, prev = 0, out[1];
	uint64_t label;
	struct utcb *u;

	CHECK(t, !parent_session(env->parent, "PD", "cap_quota=3", &pd));
	for (int i = 0; i < 3; i++) {
		CHECK(t, !pd_alloc_rpc_cap(pd, node_own_thread(), &g[i]));
		CHECK(t, cap_valid(g[i]) && cap_badge(g[i]) % 4 == 0);
		CHECK(t, cap_badge(g[i]) > prev);
		prev = cap_badge(g[i]);
	}
	CHECK(t, pd_alloc_rpc_cap(pd, node_own_thread(), &extra) == -EDQUOT);
	kcap = cap_kcap(g[0]);
	CHECK(t, !pd_free_rpc_cap(pd, g[0]));
	u = sys_utcb();
	u->mr[0] = TASK_CAP_VALID;
	u->mr[1] = kcap;
	CHECK(t,
	      !TAG_ERROR(sys_invoke(KCAP(FIXED_TASK), TAG(SYS_OP_CALL, PROTO_TASK, 2, 0),
				    SYS_TIMEOUT_NEVER, &label)));
	out[0] = u->mr[0];
	CHECK(t, out[0] == 0);
	CHECK(t, TAG_ERROR(sys_invoke(kcap, TAG(SYS_OP_SEND, 0, 0, 0), 0, &label)));
	CHECK(t, !pd_alloc_rpc_cap(pd, node_own_thread(), &extra));
	CHECK(t, cap_badge(extra) > prev);
	return 0;
}

/* The cap map address a component reports comes back from CAP_MAP_INFO
 * (libbase reported init's own at start). */
static int case_cap_map_report(struct env *env, struct tcase *t)
{
	cap_t pd;
	struct msg m;

	msg_reset(&m, PD_CAP_MAP_INFO);
	CHECK(t, !node_call(env->pd, &m) && m.w[0] == (uint64_t)(uintptr_t)cap_map() &&
		     m.w[1] == CAP_SLOTS);
	CHECK(t, !parent_session(env->parent, "PD", "label=\"x\"", &pd));
	msg_reset(&m, PD_CAP_MAP_INFO);
	CHECK(t, !node_call(pd, &m) && m.w[0] == 0);
	CHECK(t, !pd_cap_map_report(pd, 0x7000, CAP_SLOTS, 0x9000, CR_ABI_VERSION));
	msg_reset(&m, PD_CAP_MAP_INFO);
	CHECK(t, !node_call(pd, &m) && m.w[0] == 0x7000 && m.w[1] == CAP_SLOTS &&
		     m.w[2] == 0x9000 && m.w[3] == CR_ABI_VERSION);
	return 0;
}

/* MAP_CAP refuses kcap 0, fixed selectors and out-of-range kcaps. */
static int case_map_cap(struct env *env, struct tcase *t)
{
	cap_t pd, ds;

	CHECK(t, !parent_session(env->parent, "PD", "ram_quota=8192", &pd));
	CHECK(t, !pd_alloc_ram(pd, 4096, &ds));
	CHECK(t, pd_map_cap(pd, ds, 0) == -EINVAL);
	CHECK(t, pd_map_cap(pd, ds, KCAP(FIXED_FACTORY)) == -EINVAL);
	CHECK(t, pd_map_cap(pd, ds, KCAP(FIXED_TASK)) == -EINVAL);
	CHECK(t, pd_map_cap(pd, ds, KCAP(CAP_SLOTS)) == -EINVAL);
	CHECK(t, pd_map_cap(pd, ds, KCAP(0x400) + 8) == -EINVAL);
	CHECK(t, !pd_map_cap(pd, ds, KCAP(0x400)));
	CHECK(t, !pd_map_cap(pd, ds, KCAP_THREAD(3, THREAD_SLOT_IRQ)));
	CHECK(t, !pd_assign_parent(pd, env->parent));
	return 0;
}

/* ROM: a file of the ROM directory as a read-only dataspace; missing
 * files and names escaping the directory are refused. */
static int case_rom(struct env *env, struct tcase *t)
{
	cap_t rom, ds, pd;
	uint64_t size, host;

	CHECK(t, parent_session(env->parent, "ROM", "label=\"no_such_file\"", &rom) ==
		     -ENOENT);
	CHECK(t, parent_session(env->parent, "ROM", "label=\"../etc/passwd\"", &rom) ==
		     -EINVAL);
	CHECK(t,
	      !parent_session(env->parent, "ROM", "label=\"init -> hello.txt\"", &rom));
	CHECK(t, !rom_dataspace(rom, &ds, &size) && size == 6);
	CHECK(t, !parent_session(env->parent, "PD", "native=1", &pd));
	CHECK(t, pd_attach(pd, ds, 0, 0, 0, MEM_R | MEM_W, &host) == -EPERM);
	CHECK(t, !pd_attach(pd, ds, 0, 0, 0, MEM_R, &host));
	CHECK(t, !memcmp((void *)(uintptr_t)host, "hello\n", 6));
	CHECK(t, !pd_detach(pd, host));
	CHECK(t, pd_detach(pd, host) == -ENOENT);
	return 0;
}

/* LOG: "[label] line", control characters replaced. */
static int case_log_lines(struct env *env, struct tcase *t)
{
	cap_t log;

	CHECK(t, !parent_session(env->parent, "LOG", "label=\"tlog\"", &log));
	CHECK(t, !log_write(log, "hi\athere", 8));
	return 0;
}

static void fault_seen(void *arg)
{
	struct tcase *t = arg;
	struct msg m;
	int code = 1;

	msg_reset(&m, CPU_STATE);
	msg_put_cap(&m, t->thread);
	if (node_call(t->cpu, &m) || m.w[0] != TS_FAULTED || m.w[1] != FAULT_ILLEGAL ||
	    m.w[2] != 0x400000) {
		t->fail_line = __LINE__;
		t->fail_expr = "CPU_STATE after the exception irq";
	} else {
		code = 0;
	}
	parent_exit(t->env->parent, code);
}

/* A guest thread: UTCB at its thread-area slot, a fault is recorded and
 * signalled through the CPU session's exception irq. */
static int case_cpu_fault(struct env *env, struct tcase *t)
{
	cap_t gpd, npd, ds, irq;
	uint64_t nr, utcb, badge, host, at;
	struct msg m;

	CHECK(t, !parent_session(env->parent, "PD", "ram_quota=65536 cap_quota=4", &gpd));
	CHECK(t, !parent_session(env->parent, "PD", "native=1", &npd));
	CHECK(t, !parent_session(env->parent, "CPU", "label=\"t\"", &t->cpu));
	CHECK(t,
	      !cpu_create_thread(t->cpu, gpd, "victim", &t->thread, &nr, &utcb, &badge));
	CHECK(t, nr == 0 && utcb == GUEST_UTCB_AREA && badge % 4 == 0 && badge);
	CHECK(t, !pd_alloc_ram(gpd, 4096, &ds));
	CHECK(t, !pd_attach(npd, ds, 0, 0, 0, MEM_R | MEM_W, &host));
	memcpy((void *)(uintptr_t)host, "\x0f\x0b", 2); /* ud2 */
	CHECK(t, pd_attach(gpd, ds, GUEST_UTCB_AREA, 0, 0, MEM_R, &at) == -EEXIST);
	CHECK(t,
	      !pd_attach(gpd, ds, 0x400000, 0, 0, MEM_R | MEM_X, &at) && at == 0x400000);
	msg_reset(&m, CPU_STATE);
	msg_put_cap(&m, t->thread);
	CHECK(t, !node_call(t->cpu, &m) && m.w[0] == TS_INACTIVE);
	msg_reset(&m, CPU_EXCEPTION_IRQ);
	CHECK(t, !node_call(t->cpu, &m) && m.ncaps == 1);
	irq = m.caps[0];
	t->env = env;
	CHECK(t, !ep_irq_handler(env->ep, irq, fault_seen, t));
	CHECK(t, !cpu_start(t->cpu, t->thread, 0x400000, 0));
	return PENDING;
}

/* The node's cap budget, given to init, comes from its RAM budget when
 * the config sets none: one cap per CORE_CAP_BYTES, at most core's
 * CORE_CAPS_MAX; not the old fixed 16384. */
static int case_caps_default(struct env *env, struct tcase *t)
{
	uint64_t q[4], host = CORE_DEFAULT_RAM / CORE_CAP_BYTES;

	CHECK(t, !node_pd_quota(env->pd, q));
	CHECK(t, q[2] == (host < CORE_CAPS_MAX ? host : CORE_CAPS_MAX));
	CHECK(t, q[2] != 16384);
	return 0;
}

/* 16 MiB of RAM pays for 4096 caps. */
static int case_caps_small_ram(struct env *env, struct tcase *t)
{
	uint64_t q[4];

	CHECK(t, !node_pd_quota(env->pd, q) && q[0] == 16 << 20);
	CHECK(t, q[2] == 4096 && core_default_caps(16 << 20) == 4096);
	CHECK(t, core_default_caps(1) == 1 &&
		     core_default_caps(1ULL << 40) == CORE_CAPS_MAX);
	return 0;
}

/* caps= wins over the derived default, above and below it. */
static int case_caps_explicit(struct env *env, struct tcase *t)
{
	uint64_t q[4];

	CHECK(t, !node_pd_quota(env->pd, q) && q[0] == 16 << 20 && q[2] == 100000);
	return 0;
}

static void run_case(struct env *env, void *arg)
{
	struct tcase *t = arg;
	int rc = t->run(env, t);

	if (rc != PENDING)
		parent_exit(env->parent, rc);
}

static void boot(struct tcase *t)
{
	const char *dirs[1] = {t->romdir};
	struct core_config cfg = {.rom_dirs = dirs,
				  .nrom = 1,
				  .ram_total = t->ram_total,
				  .cap_total = t->cap_total,
				  .init_construct = run_case,
				  .init_arg = t};
	char path[128];
	FILE *f;
	int code;

	snprintf(t->romdir, sizeof(t->romdir), "/tmp/capsule_test_core.%d",
		 (int)getpid());
	mkdir(t->romdir, 0700);
	snprintf(path, sizeof(path), "%s/hello.txt", t->romdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("hello\n", f);
	fclose(f);
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	FILE *out = tmpfile();
	assert_non_null(out);
	dup2(fileno(out), STDOUT_FILENO);
	code = kernel_boot(core_main, &cfg);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	char text[4096] = "";
	rewind(out);
	text[fread(text, 1, sizeof(text) - 1, out)] = 0;
	fclose(out);
	fputs(text, stdout);
	if (t->expect_stdout)
		assert_non_null(strstr(text, t->expect_stdout));
	unlink(path);
	rmdir(t->romdir);
	node_report(t, cfg.status, code);
}

#define CASE(name, ram, out)                                                             \
	static void name(void **state)                                                   \
	{                                                                                \
		struct tcase t = {                                                       \
		    .run = case_##name, .ram_total = ram, .expect_stdout = out};         \
		boot(&t);                                                                \
	}
CASE(ram_quota, 0, NULL)
CASE(session_quota, 1 << 20, NULL)
CASE(rpc_caps, 0, NULL)
CASE(cap_map_report, 0, NULL)
CASE(map_cap, 0, NULL)
CASE(rom, 0, NULL)
CASE(log_lines, 0, "[tlog] hi?there\n")
CASE(cpu_fault, 0, NULL)
CASE(caps_default, 0, NULL)
CASE(caps_small_ram, 16 << 20, NULL)

static void caps_explicit(void **state)
{
	struct tcase t = {
	    .run = case_caps_explicit, .ram_total = 16 << 20, .cap_total = 100000};
	boot(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ram_quota),      /* RAM quota: charge, -EDQUOT, free */
	    cmocka_unit_test(session_quota),  /* session quota from the parent's PD */
	    cmocka_unit_test(rpc_caps),	      /* badges, cap quota, revocation */
	    cmocka_unit_test(cap_map_report), /* CAP_MAP_REPORT round trip */
	    cmocka_unit_test(map_cap),	      /* MAP_CAP kcap validation */
	    cmocka_unit_test(rom),	      /* ROM found / missing / escaping */
	    cmocka_unit_test(log_lines),      /* LOG line printing */
	    cmocka_unit_test(cpu_fault),      /* guest fault -> exception irq */
	    cmocka_unit_test(caps_default),   /* cap budget from the host's RAM */
	    cmocka_unit_test(caps_small_ram), /* ... and from a small RAM budget */
	    cmocka_unit_test(caps_explicit),  /* caps= wins */
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
