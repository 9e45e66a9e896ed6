/*
 * Several nodes in one process: two nodes boot at the same time, each on
 * its own host thread, and share nothing of core's state.  In each node
 * init (the test case) opens a session of every type of core's table,
 * meets the other node while all of them are open, opens more, closes
 * everything.  Each core hands out badges from its own allocator, so both
 * nodes see the same badge sequence (one shared allocator would make them
 * differ); each init's quota is its own.  (test_two_nodes_run: whole
 * nodes of guest components.)
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <stdint.h>

#define MAX_BADGES 32

struct env;
struct tcase {
	int (*run)(struct env *env, struct tcase *t);
	int fail_line;
	const char *fail_expr;
	int node; /* 0 or 1 */
	uint64_t badge[MAX_BADGES];
	unsigned nbadge;
	uint64_t quota[4]; /* init's, with its sessions open */
	int code, status;
};

#define NODE_ALARM_S 60 /* before fixture_node.h, which defaults it */
#include "fixture_node.h"
#include "core/core_internal.h"

#define MEET_MS 20000 /* the other node is given this long to arrive */

/* Both nodes have reached step (each node's host thread waits here, so
 * the other node runs meanwhile).  0, or -1 if the other never came. */
static _Atomic int arrived[4];

static int meet(int step)
{
	atomic_fetch_add(&arrived[step], 1);
	for (int ms = 0; ms < MEET_MS; ms++) {
		if (atomic_load(&arrived[step]) >= 2)
			return 0;
		usleep(1000);
	}
	return -1;
}

static const char *args_of(const char *name, int node, char *buf, size_t size)
{
	if (!strcmp(name, "PD"))
		return "ram_quota=65536 cap_quota=8 label=\"t\"";
	if (!strcmp(name, "ROM"))
		return "label=\"nodes.txt\"";
	if (!strcmp(name, "IRQ")) {
		/* lines are the process's: each node binds its own */
		snprintf(buf, size, "line=%d label=\"t\"", 50 + node);
		return buf;
	}
	return "label=\"t\"";
}

static int record(struct tcase *t, cap_t c)
{
	if (t->nbadge == MAX_BADGES || !cap_valid(c))
		return -1;
	t->badge[t->nbadge++] = cap_badge(c);
	return 0;
}

static int case_share_nothing(struct env *env, struct tcase *t)
{
	unsigned n = core_session_ntypes();
	char buf[64];
	cap_t cap[16], log2, other_line;

	CHECK(t, n <= 16);
	for (unsigned i = 0; i < n; i++) {
		const char *name = core_session_type_at(i)->name;
		CHECK(t, parent_session(env->parent, name,
					args_of(name, t->node, buf, 64), &cap[i]) == 0);
		CHECK(t, !record(t, cap[i]));
	}
	CHECK(t, meet(0) == 0);
	/* the other node's line is bound there: refused here */
	snprintf(buf, sizeof buf, "line=%d", 50 + !t->node);
	CHECK(t, parent_session(env->parent, "IRQ", buf, &other_line) != 0);
	CHECK(t, parent_session(env->parent, "LOG", "label=\"second\"", &log2) == 0);
	CHECK(t, !record(t, log2));
	CHECK(t, !node_pd_quota(env->pd, t->quota));
	CHECK(t, meet(1) == 0);
	for (unsigned i = 0; i < n; i++)
		CHECK(t, parent_close(env->parent, cap[i]) == 0);
	CHECK(t, parent_close(env->parent, log2) == 0);
	CHECK(t, meet(2) == 0);
	return 0;
}

static void *node_thread(void *arg)
{
	struct tcase *t = arg;
	const char *dirs[1] = {getenv("CAPSULE_TEST_ROM")};
	struct core_config cfg = {
	    .rom_dirs = dirs, .nrom = 1, .init_construct = node_run_case, .init_arg = t};

	t->code = kernel_boot(core_main, &cfg);
	t->status = cfg.status;
	return NULL;
}

static void share_nothing(void **state)
{
	struct tcase t[2] = {{.run = case_share_nothing, .node = 0},
			     {.run = case_share_nothing, .node = 1}};
	char dir[64], path[96];
	pthread_t th[2];
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/capsule_test_nodes.%d", (int)getpid());
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/nodes.txt", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("rom\n", f);
	fclose(f);
	setenv("CAPSULE_TEST_ROM", dir, 1);
	alarm(NODE_ALARM_S);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, node_thread, &t[i]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	alarm(0);
	unlink(path);
	rmdir(dir);
	for (int i = 0; i < 2; i++)
		node_report(&t[i], t[i].status, t[i].code);
	/* same steps, own allocators: the same badges */
	assert_int_equal(t[0].nbadge, core_session_ntypes() + 1);
	assert_int_equal(t[1].nbadge, t[0].nbadge);
	for (unsigned i = 0; i < t[0].nbadge; i++) {
		assert_true(t[0].badge[i] != 0);
		assert_int_equal(t[0].badge[i], t[1].badge[i]);
	}
	/* init's quota is its node's: the same in both, the PD's 64 KiB and
	 * 8 caps gone from the default */
	assert_memory_equal(t[0].quota, t[1].quota, sizeof t[0].quota);
	assert_int_equal(t[0].quota[0], CORE_DEFAULT_RAM - 65536);
	assert_int_equal(t[0].quota[2], core_default_caps(CORE_DEFAULT_RAM) - 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(share_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
