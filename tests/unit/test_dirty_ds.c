/*
 * DS_DIRTY_START / FETCH / STOP on core's dataspaces, from init (a native
 * component) through libbase's client calls: stores of a guest thread and
 * init's own writes into the same dataspace are reported page by page,
 * each fetch re-arms, the bitmaps are charged to the PD that owns the
 * dataspace, and everything that is no RAM dataspace, or a bad request,
 * is refused.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <base/region_map.h>
#include <base/signal.h>
#include "cpu_guest.h"
#include "guest_snippet.h"

#define DATA	   0x10000000ULL
#define NDATA	   16
#define PG	   4096ULL
#define MARK	   0xd1
#define ROUND1_OFF 0x000
#define ROUND2_OFF 0x100

/* Guest rounds: stores (and one load), then send(INIT_GATE, mr[0] = MARK)
 * and sleep.  Assembled by the host assembler, copied to the code page. */
#define SEND_AND_SLEEP                                                                   \
	" movq $0xd1, %gs:8\n mov $0x400000, %edi\n mov $0x1001, %esi\n"                 \
	" mov $-1, %rdx\n syscall\n"                                                     \
	"1: mov $-1, %rdi\n mov $0x2000, %esi\n mov $-1, %rdx\n syscall\n jmp 1b\n"
SNIPPET(g_round1,
	"movq $1, 0x10000000\n movq $2, 0x10003000\n movb $3, 0x10003fff\n"
	" movl $0x04040404, 0x10005ffe\n mov 0x10007000, %rax\n" SEND_AND_SLEEP);
SNIPPET(g_round2, "movq $5, 0x10001000\n movq $6, 0x10003008\n" SEND_AND_SLEEP);

static uint64_t ram_used(cap_t pd)
{
	uint64_t q[4] = {0};

	node_pd_quota(pd, q);
	return q[1];
}

/* A guest PD with a code page holding both rounds, init's gate, and a
 * data dataspace of its own attached at DATA and in init (*host). */
static int dirty_setup(struct env *env, struct tcase *t, cap_t *gpd, cap_t *data,
		       uint8_t **host)
{
	uint64_t at, h;

	CHECK(t, !parent_session(env->parent, "CPU", "label=\"t\"", &t->cpu));
	CHECK(t, !pd_alloc_ram(env->pd, PG, &t->code));
	CHECK(t, !pd_attach(env->pd, t->code, 0, 0, 0, MEM_R | MEM_W, &h));
	memcpy((uint8_t *)(uintptr_t)h + ROUND1_OFF, g_round1,
	       (size_t)(g_round1_end - g_round1));
	memcpy((uint8_t *)(uintptr_t)h + ROUND2_OFF, g_round2,
	       (size_t)(g_round2_end - g_round2));
	CHECK(t, !pd_alloc_rpc_cap(env->pd, node_own_thread(), &t->gate));
	CHECK(t, !parent_session(env->parent, "PD", "ram_quota=262144 cap_quota=8", gpd));
	CHECK(t, !pd_attach(*gpd, t->code, CODE, 0, 0, MEM_R | MEM_X, &at) && at == CODE);
	CHECK(t, !pd_map_cap(*gpd, t->gate, INIT_GATE));
	CHECK(t, !pd_alloc_ram(*gpd, NDATA * PG, data));
	CHECK(t, !pd_attach(*gpd, *data, DATA, 0, 0, MEM_R | MEM_W, &at) && at == DATA);
	CHECK(t, !pd_attach(env->pd, *data, 0, 0, 0, MEM_R | MEM_W, &h));
	*host = (uint8_t *)(uintptr_t)h;
	return 0;
}

/* Start a guest thread at off and wait for its MARK. */
static int guest_round(struct tcase *t, cap_t gpd, uint64_t off)
{
	struct gthread g;
	struct rmsg r;

	CHECK(t, !guest_thread(t, gpd, "round", &g));
	CHECK(t, !start(t, &g, off));
	CHECK(t, recv_msg(5000000, &r) == KERR_OK);
	CHECK(t, r.words == 1 && r.mr[0] == MARK);
	return 0;
}

static int case_guest_and_native(struct env *env, struct tcase *t)
{
	uint64_t bits[1], pages, used, used_init;
	cap_t gpd, data;
	uint8_t *host;

	if (dirty_setup(env, t, &gpd, &data, &host))
		return 1;
	used = ram_used(gpd);
	used_init = ram_used(env->pd);
	CHECK(t, !ds_dirty_start(data, &pages) && pages == NDATA);
	/* three bitmaps, page-rounded, paid by the owner, not by the asker */
	CHECK(t, ram_used(gpd) == used + PG && ram_used(env->pd) == used_init);

	if (guest_round(t, gpd, ROUND1_OFF))
		return 1;
	CHECK(t, ds_dirty_fetch_all(data, NDATA, bits) == 4);
	CHECK(t, bits[0] == ((1 << 0) | (1 << 3) | (1 << 5) | (1 << 6)));
	CHECK(t, host[0x3fff] == 3 && host[0x5fff] == 4 && host[0x6000] == 4);

	host[15 * PG] = 1; /* init's own write */
	if (guest_round(t, gpd, ROUND2_OFF))
		return 1;
	/* a peek reports them and leaves them for the fetch */
	CHECK(t, ds_dirty_peek_all(data, NDATA, bits) == 3);
	CHECK(t, bits[0] == ((1 << 1) | (1 << 3) | (1 << 15)));
	CHECK(t, ds_dirty_fetch_all(data, NDATA, bits) == 3);
	CHECK(t, bits[0] == ((1 << 1) | (1 << 3) | (1 << 15)));
	CHECK(t, ds_dirty_fetch_all(data, NDATA, bits) == 0 && bits[0] == 0);

	/* a take (bare words: counted here) leaves its pages writable and
	 * reported until the re-arm; after it, only what is written */
	host[4 * PG] = 1;
	CHECK(t, ds_dirty_take_all(data, NDATA, bits) == 1 && bits[0] == 1 << 4);
	host[4 * PG] = 2;
	CHECK(t, ds_dirty_take_all(data, NDATA, bits) == 1 && bits[0] == 1 << 4);
	CHECK(t, !ds_dirty_rearm(data));
	CHECK(t, ds_dirty_fetch_all(data, NDATA, bits) == 1 && bits[0] == 1 << 4);
	host[4 * PG] = 3; /* re-armed by that fetch: reported */
	CHECK(t, ds_dirty_fetch_all(data, NDATA, bits) == 1 && bits[0] == 1 << 4);
	CHECK(t, ds_dirty_fetch_all(data, NDATA, bits) == 0 && bits[0] == 0);

	used = ram_used(gpd); /* the rounds' threads took some */
	CHECK(t, !ds_dirty_stop(data));
	CHECK(t, ram_used(gpd) == used - PG);
	host[2 * PG] = 1; /* untracked again */
	CHECK(t, ds_dirty_stop(data) == -ENOENT);
	CHECK(t, ds_dirty_fetch_all(data, NDATA, bits) == -ENOENT);
	CHECK(t, ds_dirty_rearm(data) == -ENOENT);
	return 0;
}

/* DS_DIRTY_FETCH with raw words (the client call checks nothing). */
static int raw_fetch(cap_t ds, unsigned nwords, uint64_t w0, uint64_t w1)
{
	struct msg m;

	msg_reset(&m, DS_DIRTY_FETCH);
	if (nwords > 0)
		msg_put(&m, w0);
	if (nwords > 1)
		msg_put(&m, w1);
	return node_call(ds, &m);
}

/* DS_DIRTY_FETCH of word 0 with an unknown flag. */
static int bad_flags(cap_t ds)
{
	struct msg m;

	msg_reset(&m, DS_DIRTY_FETCH);
	msg_put(&m, 0);
	msg_put(&m, 1);
	msg_put(&m, DS_DIRTY_TAKE << 1);
	return node_call(ds, &m);
}

/* DS_DIRTY_FETCH of n words from word 0 with DS_DIRTY_BARE: the words
 * answered, or -errno. */
static int bare_fetch(cap_t ds, uint64_t n)
{
	struct msg m;
	int rc;

	msg_reset(&m, DS_DIRTY_FETCH);
	msg_put(&m, 0);
	msg_put(&m, n);
	msg_put(&m, DS_DIRTY_PEEK | DS_DIRTY_BARE);
	rc = node_call(ds, &m);
	return rc ? rc : (int)m.nwords;
}

static int case_bad_requests(struct env *env, struct tcase *t)
{
	cap_t pd, ds, small;
	uint64_t bits[DS_DIRTY_WORDS], q[4];
	unsigned n = 2;

	CHECK(t, !parent_session(env->parent, "PD", "ram_quota=1056768", &pd));
	CHECK(t, !pd_alloc_ram(pd, 1 << 20, &ds)); /* 256 pages: 4 words */
	CHECK(t, raw_fetch(ds, 2, 0, 1) == -ENOENT);
	CHECK(t, ds_dirty_stop(ds) == -ENOENT);
	CHECK(t, !ds_dirty_start(ds, NULL));
	CHECK(t, ds_dirty_start(ds, NULL) == -EBUSY);
	CHECK(t, raw_fetch(ds, 0, 0, 0) == -EINVAL);
	CHECK(t, raw_fetch(ds, 1, 0, 0) == -EINVAL);
	CHECK(t, raw_fetch(ds, 2, 0, 0) == -EINVAL);
	CHECK(t, raw_fetch(ds, 2, 0, DS_DIRTY_WORDS + 1) == -EINVAL);
	CHECK(t, bare_fetch(ds, MSG_MAX_WORDS + 1) == -EINVAL);
	CHECK(t, bare_fetch(ds, 1) == 1); /* words only, no count */
	CHECK(t, raw_fetch(ds, 2, 4, 1) == -EINVAL);
	CHECK(t, raw_fetch(ds, 2, ~0ULL, 1) == -EINVAL);
	CHECK(t, !ds_dirty_fetch(ds, 3, bits, &n, NULL) && n == 1); /* clamped */
	CHECK(t, bad_flags(ds) == -EINVAL); /* a flag other than PEEK */
	/* the PD has 4 KiB left: a 4 KiB dataspace fits, its bitmaps do not */
	CHECK(t, !node_pd_quota(pd, q) && q[0] - q[1] == PG);
	CHECK(t, !pd_alloc_ram(pd, PG, &small));
	CHECK(t, ds_dirty_start(small, NULL) == -EDQUOT);
	CHECK(t, !node_pd_quota(pd, q) && q[0] == q[1]);
	/* freeing a tracked dataspace stops tracking and gives all back */
	CHECK(t, !pd_free_ram(pd, ds));
	CHECK(t, !node_pd_quota(pd, q) && q[1] == PG);
	CHECK(t, !ds_dirty_start(small, NULL));
	/* closing the PD with tracking on */
	CHECK(t, !parent_close(env->parent, pd));
	return 0;
}

/* A checkpointer pays for the bitmaps it asks for (DS_DIRTY_START and
 * DS_LAZY_START with a payer): the target's quota stays as the target
 * left it, even when the target used all of it; a payer that is no PD
 * is refused; closing the payer ends what it paid for. */
static void no_fill(void *arg, unsigned count)
{
	(void)arg;
	(void)count;
}

static int case_payer(struct env *env, struct tcase *t)
{
	static struct signal_handler h;
	cap_t target, payer, ds, ds2;
	uint64_t q[4], bits[4], pages;

	CHECK(t, !parent_session(env->parent, "PD", "ram_quota=1048576", &target));
	CHECK(t, !parent_session(env->parent, "PD", "ram_quota=65536", &payer));
	CHECK(t, !pd_alloc_ram(target, 1 << 19, &ds));
	CHECK(t, !pd_alloc_ram(target, 1 << 19, &ds2)); /* all of the quota */
	CHECK(t, !node_pd_quota(target, q) && q[0] == q[1]);
	CHECK(t, ds_dirty_start(ds, NULL) == -EDQUOT); /* the target cannot */
	CHECK(t, ds_dirty_start_paid(ds, target, 0, NULL) == -EDQUOT);
	CHECK(t, ds_dirty_start_paid(ds, ds2, 0, NULL) == -EINVAL); /* no PD */
	CHECK(t, !ds_dirty_start_paid(ds, payer, 0, &pages) && pages == 128);
	CHECK(t, !node_pd_quota(target, q) && q[0] == q[1]);
	CHECK(t, !node_pd_quota(payer, q) && q[1] == PG);
	CHECK(t, ds_dirty_fetch_all(ds, 128, bits) == 0);
	CHECK(t, !signal_handler_init(env, &h, no_fill, NULL));
	CHECK(t, !ds_lazy_start_paid(ds2, h.context, payer, &pages) && pages == 128);
	CHECK(t, !node_pd_quota(payer, q) && q[1] == 2 * PG);
	CHECK(t, !node_pd_quota(target, q) && q[0] == q[1]);
	/* the payer goes: tracking and the lazy fill it paid for end */
	CHECK(t, !parent_close(env->parent, payer));
	CHECK(t, ds_dirty_fetch_all(ds, 128, bits) == -ENOENT);
	CHECK(t, ds_lazy_wanted(ds2, bits, 4, (unsigned[]){0}, &pages) == -ENOENT);
	CHECK(t, !node_pd_quota(target, q) && q[0] == q[1]);
	CHECK(t, !parent_close(env->parent, target));
	return 0;
}

/* Only RAM dataspaces: a ROM's, a UTCB page, a region map's managed
 * dataspace, and caps that are no dataspace are refused. */
static int case_not_ram(struct env *env, struct tcase *t)
{
	cap_t rom, rom_ds, gpd, th, rms, rm, managed;
	uint64_t size, nr, utcb, badge;
	struct msg m;

	CHECK(t, !parent_session(env->parent, "ROM", "label=\"dirty.txt\"", &rom));
	CHECK(t, !rom_dataspace(rom, &rom_ds, &size));
	CHECK(t, ds_dirty_start(rom_ds, NULL) == -EPERM);

	CHECK(t, !parent_session(env->parent, "CPU", "label=\"t\"", &t->cpu));
	CHECK(t, !parent_session(env->parent, "PD", "ram_quota=65536 cap_quota=8", &gpd));
	CHECK(t, !cpu_create_thread(t->cpu, gpd, "u", &th, &nr, &utcb, &badge));
	CHECK(t, !cpu_simple(t->cpu, CPU_UTCB_DATASPACE, th, &m) && m.ncaps == 1);
	CHECK(t, ds_dirty_start(m.caps[0], NULL) == -EPERM);

	CHECK(t, !parent_session(env->parent, "RM", "label=\"t\"", &rms));
	CHECK(t, !rm_create(rms, 1 << 20, &rm));
	CHECK(t, !region_dataspace(rm, &managed));
	CHECK(t, ds_dirty_start(managed, NULL) == -ENOSYS);
	CHECK(t, ds_dirty_start(rm, NULL) == -ENOSYS);
	CHECK(t, ds_dirty_start(gpd, NULL) == -ENOSYS);
	CHECK(t, ds_dirty_start(t->cpu, NULL) == -ENOSYS);
	CHECK(t, ds_dirty_stop(env->pd) == -ENOSYS);
	CHECK(t, ds_dirty_start(CAP_INVALID, NULL) != 0);
	return 0;
}

/* Boot with a ROM directory holding dirty.txt. */
static void boot_rom(struct tcase *t)
{
	char dir[64], path[96];
	const char *dirs[1] = {dir};
	struct core_config cfg = {
	    .rom_dirs = dirs, .nrom = 1, .init_construct = node_run_case, .init_arg = t};
	FILE *f;
	int code;

	snprintf(dir, sizeof(dir), "/tmp/capsule_test_dirty.%d", (int)getpid());
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/dirty.txt", dir);
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

NODE_CASE(guest_and_native)
NODE_CASE(bad_requests)
NODE_CASE(payer)

static void not_ram(void **state)
{
	struct tcase t = {.run = case_not_ram};

	boot_rom(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(guest_and_native),
	    cmocka_unit_test(bad_requests),
	    cmocka_unit_test(payer),
	    cmocka_unit_test(not_ram),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
