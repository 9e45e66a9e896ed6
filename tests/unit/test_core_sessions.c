/*
 * core's table of session types (core/core_session.c): every service core
 * has is one entry with its own ops; a session of every type opens and
 * closes through core's parent interface with the quota coming back; an
 * upgrade moves quota only into a PD session; an unknown service is
 * refused with -ENOENT and one line on stderr naming it; sessions left
 * open when the node ends are freed by their own type's forget (the
 * ASan/UBSan build of this test is what sees a wrong free or a leak); a
 * guest PD's close leaves its engine whole to the kernel's closer thread.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <base/region_map.h>
#include <stdint.h>

struct env;
struct tcase {
	int (*run)(struct env *env, struct tcase *t);
	int fail_line;
	const char *fail_expr;
};

#define NODE_ALARM_S 60 /* before fixture_node.h, which defaults it */
#include "fixture_node.h"
#include "core/core_internal.h"
#include "kernel/backend.h"

#define ROM_FILE "sessions.txt"

/* The services core must have, with args that open one session each.  A
 * type added to core's table without a line here fails
 * every_type_opens_and_closes. */
static const struct {
	const char *name, *args;
} services[] = {
    {"PD", "ram_quota=65536 cap_quota=8 label=\"t\""},
    {"CPU", "label=\"t\""},
    {"LOG", "label=\"t\""},
    {"ROM", "label=\"" ROM_FILE "\""},
    {"Timer", "label=\"t\""},
    {"RM", "label=\"t\""},
    {"IRQ", "line=41 label=\"t\""},
};
#define NSERVICES (sizeof services / sizeof services[0])

static const char *service_args(const char *name)
{
	for (unsigned i = 0; i < NSERVICES; i++)
		if (!strcmp(services[i].name, name))
			return services[i].args;
	return NULL;
}

/* ---- the table itself (no node needed) ---- */

static void table_has_every_service_once(void **state)
{
	unsigned n = core_session_ntypes();

	assert_int_equal(n, NSERVICES);
	for (unsigned i = 0; i < n; i++) {
		const struct core_session_ops *t = core_session_type_at(i);
		assert_non_null(t);
		assert_non_null(t->name);
		assert_non_null(t->create);
		assert_non_null(t->close);
		assert_non_null(t->forget);
		assert_ptr_equal(core_session_type(t->name), t);
		for (unsigned j = 0; j < i; j++)
			assert_string_not_equal(core_session_type_at(j)->name, t->name);
	}
	for (unsigned i = 0; i < NSERVICES; i++)
		assert_non_null(core_session_type(services[i].name));
	assert_null(core_session_type_at(n));
	assert_null(core_session_type("Nonexistent"));
	assert_null(core_session_type("pd")); /* names are exact */
	assert_null(core_session_type(""));
	/* only the PD session consumes quota */
	assert_non_null(core_session_type("PD")->upgrade);
	assert_null(core_session_type("LOG")->upgrade);
}

/* ---- through core's parent interface, from init ---- */

static int init_quota(struct env *env, uint64_t q[4])
{
	return node_pd_quota(env->pd, q);
}

static int case_every_type_opens_and_closes(struct env *env, struct tcase *t)
{
	uint64_t before[4], open[4], after[4];
	cap_t cap[16];
	unsigned n = core_session_ntypes();

	CHECK(t, n <= 16);
	CHECK(t, !init_quota(env, before));
	for (unsigned i = 0; i < n; i++) {
		const char *name = core_session_type_at(i)->name;
		const char *args = service_args(name);
		CHECK(t, args != NULL); /* a type this test does not know */
		CHECK(t, parent_session(env->parent, name, args, &cap[i]) == 0);
		CHECK(t, cap_valid(cap[i]));
	}
	/* the PD session's quota came from init's */
	CHECK(t, !init_quota(env, open));
	CHECK(t, open[0] == before[0] - 65536 && open[2] == before[2] - 8);
	for (unsigned i = 0; i < n; i++)
		CHECK(t, parent_close(env->parent, cap[i]) == 0);
	CHECK(t, !init_quota(env, after));
	CHECK(t, after[0] == before[0] && after[2] == before[2]);
	/* a second round: closing freed what the first round held (the IRQ
	 * line, for one) */
	for (unsigned i = 0; i < n; i++) {
		const char *name = core_session_type_at(i)->name;
		CHECK(t, parent_session(env->parent, name, service_args(name), &cap[i]) ==
			     0);
		CHECK(t, parent_close(env->parent, cap[i]) == 0);
	}
	return 0;
}

/* Run fn with stderr going to a file; *line gets what was written. */
static int stderr_of(struct env *env, const char *service, char *out, size_t size)
{
	char path[64];
	int fd, saved, rc;
	cap_t cap = CAP_INVALID;
	ssize_t len;

	snprintf(path, sizeof path, "/tmp/capsule_test_sessions_err.%d", (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -EIO;
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	rc = parent_session(env->parent, service, "label=\"t\"", &cap);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	len = pread(fd, out, size - 1, 0);
	out[len > 0 ? len : 0] = 0;
	close(fd);
	unlink(path);
	return rc;
}

static int lines_in(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static int case_unknown_service_refused(struct env *env, struct tcase *t)
{
	char err[512];

	CHECK(t, stderr_of(env, "Nonexistent", err, sizeof err) == -ENOENT);
	CHECK(t, lines_in(err) == 1);
	CHECK(t, strstr(err, "core: ") == err);
	CHECK(t, strstr(err, "\"Nonexistent\"") != NULL);
	CHECK(t, strstr(err, "no such service") != NULL);
	/* a name with a newline cannot forge a second line */
	CHECK(t, stderr_of(env, "Bad\nforged", err, sizeof err) == -ENOENT);
	CHECK(t, lines_in(err) == 1);
	CHECK(t, strstr(err, "forged") == NULL);
	/* case matters, and a known service still opens afterwards */
	CHECK(t, stderr_of(env, "log", err, sizeof err) == -ENOENT);
	CHECK(t, lines_in(err) == 1);
	return 0;
}

static int case_upgrade_moves_quota_into_pd_only(struct env *env, struct tcase *t)
{
	uint64_t before[4], after[4], pd[4];
	cap_t pd_cap, log_cap;

	CHECK(t, parent_session(env->parent, "PD", service_args("PD"), &pd_cap) == 0);
	CHECK(t, parent_session(env->parent, "LOG", service_args("LOG"), &log_cap) == 0);
	CHECK(t, !init_quota(env, before));
	CHECK(t, parent_upgrade(env->parent, pd_cap, "ram_quota=8192 cap_quota=2") == 0);
	CHECK(t, !init_quota(env, after));
	CHECK(t, after[0] == before[0] - 8192 && after[2] == before[2] - 2);
	CHECK(t, !node_pd_quota(pd_cap, pd));
	CHECK(t, pd[0] == 65536 + 8192 && pd[2] == 8 + 2);
	/* a LOG session consumes no quota: accepted, nothing moves */
	CHECK(t, parent_upgrade(env->parent, log_cap, "ram_quota=8192 cap_quota=2") == 0);
	CHECK(t, !init_quota(env, before));
	CHECK(t, before[0] == after[0] && before[2] == after[2]);
	/* more than init has is refused */
	CHECK(t,
	      parent_upgrade(env->parent, pd_cap, "ram_quota=99999999999999") == -EDQUOT);
	CHECK(t, parent_close(env->parent, pd_cap) == 0);
	CHECK(t, parent_close(env->parent, log_cap) == 0);
	CHECK(t, !init_quota(env, after));
	CHECK(t, after[0] == before[0] + 65536 + 8192 && after[2] == before[2] + 8 + 2);
	return 0;
}

/* One session of every type still open when the node ends: a CPU
 * session with a thread in the PD, an RM session whose managed dataspace
 * and the ROM's dataspace are attached in the PD (references across
 * sessions that forget_refs drops first). */
static int case_left_open_at_node_end(struct env *env, struct tcase *t)
{
	cap_t cap[16], pd = CAP_INVALID, cpu = CAP_INVALID, rm = CAP_INVALID;
	cap_t rom = CAP_INVALID, th, map, ds, rom_ds;
	uint64_t nr, utcb, badge, size, at;
	unsigned n = core_session_ntypes();

	for (unsigned i = 0; i < n; i++) {
		const char *name = core_session_type_at(i)->name;
		CHECK(t, parent_session(env->parent, name, service_args(name), &cap[i]) ==
			     0);
		if (!strcmp(name, "PD"))
			pd = cap[i];
		else if (!strcmp(name, "CPU"))
			cpu = cap[i];
		else if (!strcmp(name, "RM"))
			rm = cap[i];
		else if (!strcmp(name, "ROM"))
			rom = cap[i];
	}
	CHECK(t, cpu_create_thread(cpu, pd, "left", &th, &nr, &utcb, &badge) == 0);
	CHECK(t, rm_create(rm, 0x10000, &map) == 0);
	CHECK(t, region_dataspace(map, &ds) == 0);
	CHECK(t, pd_attach(pd, ds, 0x20000000, 0, 0, MEM_R | MEM_W, &at) == 0);
	CHECK(t, rom_dataspace(rom, &rom_ds, &size) == 0 && size == 4);
	CHECK(t, pd_attach(pd, rom_ds, 0x400000, 0, 0, MEM_R, &at) == 0);
	CHECK(t, region_attach(map, rom_ds, 0x1000, 0, 0, MEM_R, &at) == 0);
	return 0;
}

/* rm_create with stderr going to a file; *out gets what was written. */
static int rm_create_stderr(cap_t rm, cap_t *map, char *out, size_t size)
{
	char path[64];
	int fd, saved, rc;
	ssize_t len;

	snprintf(path, sizeof path, "/tmp/capsule_test_sessions_rm.%d", (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -EIO;
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	rc = rm_create(rm, 0x10000, map);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	len = pread(fd, out, size - 1, 0);
	out[len > 0 ? len : 0] = 0;
	close(fd);
	unlink(path);
	return rc;
}

/* An RM session holds 64 region maps (core/rm_session.c): the next one
 * is refused with -ENOSPC, not a quota error, and core says once which
 * limit it is; after one is destroyed another can be made. */
static int case_rm_table_full(struct env *env, struct tcase *t)
{
	enum { RM_SESSION_MAPS = 64 };
	cap_t rm, map[RM_SESSION_MAPS], more;
	char err[512];

	CHECK(t, parent_session(env->parent, "RM", "label=\"full\"", &rm) == 0);
	for (int i = 0; i < RM_SESSION_MAPS; i++)
		CHECK(t, rm_create(rm, 0x10000, &map[i]) == 0);
	CHECK(t, rm_create_stderr(rm, &more, err, sizeof err) == -ENOSPC);
	CHECK(t, lines_in(err) == 1 && strstr(err, "core: RM session ") == err);
	CHECK(t, strstr(err, "\"full\"") && strstr(err, "64 region maps"));
	CHECK(t, rm_create_stderr(rm, &more, err, sizeof err) == -ENOSPC);
	CHECK(t, err[0] == 0); /* told once */
	CHECK(t, rm_destroy(rm, map[0]) == 0);
	CHECK(t, rm_create(rm, 0x10000, &map[0]) == 0);
	CHECK(t, parent_close(env->parent, rm) == 0);
	return 0;
}

/* A guest PD's end leaves the node's thread little to do (issue 10: a
 * 10 ms timer on the node is never more than 2 ms late while a large
 * component ends after its migration).  Closing the session of a PD
 * with 64 MiB attached unmaps none of its task's memory from its engine
 * range by range (each unmap flushes the engine's TLB and code page by
 * page: 3-4 ms per 256 MiB), and the engine is closed by the kernel's
 * closer thread, not by the node's (kernel/guest/vspace_close.c).  A
 * detach from a PD that lives on still unmaps at once. */
static int case_pd_close_leaves_the_engine(struct env *env, struct tcase *t)
{
	uint64_t unmaps, away, here, away1, here1, at;
	cap_t pd, ds;

	CHECK(t, parent_session(env->parent, "PD",
				"ram_quota=134217728 cap_quota=8 label=\"ending\"",
				&pd) == 0);
	CHECK(t, pd_alloc_ram(pd, 64 << 20, &ds) == 0);
	CHECK(t, pd_attach(pd, ds, 0x20000000, 0, 0, MEM_R | MEM_W, &at) == 0);
	CHECK(t, pd_attach(pd, ds, 0x30000000, 0, 0, MEM_R, &at) == 0);
	unmaps = vspace_unmap_count();
	CHECK(t, pd_detach(pd, 0x30000000) == 0);
	CHECK(t, vspace_unmap_count() == unmaps + 1);
	vspace_close_wait();
	vspace_close_counts(&away, &here);
	unmaps = vspace_unmap_count();
	CHECK(t, parent_close(env->parent, pd) == 0);
	CHECK(t, vspace_unmap_count() == unmaps);
	vspace_close_wait();
	vspace_close_counts(&away1, &here1);
	CHECK(t, away1 == away + 1 && here1 == here);
	return 0;
}

/* Boot with a ROM directory holding ROM_FILE. */
static void boot_rom(struct tcase *t)
{
	char dir[64], path[96];
	const char *dirs[1] = {dir};
	struct core_config cfg = {
	    .rom_dirs = dirs, .nrom = 1, .init_construct = node_run_case, .init_arg = t};
	FILE *f;
	int code;

	snprintf(dir, sizeof(dir), "/tmp/capsule_test_sessions.%d", (int)getpid());
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/" ROM_FILE, dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("rom\n", f);
	fclose(f);
	alarm(NODE_ALARM_S);
	code = kernel_boot(core_main, &cfg);
	alarm(0);
	unlink(path);
	rmdir(dir);
	node_report(t, cfg.status, code);
}

#define ROM_CASE(name)                                                                   \
	static void name(void **state)                                                   \
	{                                                                                \
		struct tcase t = {.run = case_##name};                                   \
		boot_rom(&t);                                                            \
	}

ROM_CASE(every_type_opens_and_closes)
ROM_CASE(unknown_service_refused)
ROM_CASE(upgrade_moves_quota_into_pd_only)
ROM_CASE(left_open_at_node_end)
ROM_CASE(rm_table_full)
ROM_CASE(pd_close_leaves_the_engine)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(table_has_every_service_once),
	    cmocka_unit_test(every_type_opens_and_closes),
	    cmocka_unit_test(unknown_service_refused),
	    cmocka_unit_test(upgrade_moves_quota_into_pd_only),
	    cmocka_unit_test(left_open_at_node_end),
	    cmocka_unit_test(rm_table_full),
	    cmocka_unit_test(pd_close_leaves_the_engine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
