/*
 * DS_LAZY_START / WANTED / FILLED on core's dataspaces (core/ds_lazy.c),
 * from init (a native component) through libbase's client calls: a guest
 * thread that touches an absent page of a lazy dataspace waits (a load,
 * a store, and a load across a page boundary whose first page is there
 * and whose second is not), core names the page it waits for, and once
 * init reports the page filled the thread goes on with init's bytes.
 * The bitmap is charged to the owner and given back; bad requests are
 * refused.
 */
#include <stdlib.h>
#include <base/region_map.h>
#include <base/signal.h>
#include "cpu_guest.h"
#include "guest_snippet.h"

#define DATA  0x10000000ULL
#define NDATA 16
#define PG    4096ULL

/* load page 3, store to page 9, load it, load across pages 11/12, then
 * send(INIT_GATE, mr[0] = the sum) and sleep */
SNIPPET(g_lazy, "mov 0x10003000, %rax\n movq $7, 0x10009008\n add 0x10009008, %rax\n"
		" add 0x1000bffc, %rax\n mov %rax, %gs:8\n"
		" mov $0x400000, %edi\n mov $0x1001, %esi\n mov $-1, %rdx\n syscall\n"
		"1: mov $-1, %rdi\n mov $0x2000, %esi\n mov $-1, %rdx\n syscall\n"
		" jmp 1b\n");

static void never(void *arg, unsigned count)
{
}

/* The guest's next message to init's gate.  The signal thread's call of
 * init's signal-proxy object (the fill handler's signal; init serves no
 * entrypoint here) arrives on the same thread and is left unanswered. */
static unsigned recv_guest(struct tcase *t, uint64_t timeout_us, struct rmsg *r)
{
	unsigned e;

	while (!(e = recv_msg(timeout_us, r)) && (r->label & ~3ULL) != cap_badge(t->gate))
		;
	return e;
}

static uint64_t ram_used(cap_t pd)
{
	uint64_t q[4] = {0};

	node_pd_quota(pd, q);
	return q[1];
}

/* Until a thread waits for a page: that page (-1 on timeout). */
static int64_t wanted(cap_t ds, uint64_t *absent)
{
	uint64_t pages[DS_LAZY_WANTED_MAX];
	unsigned n;

	for (int i = 0; i < 2000; i++) {
		if (ds_lazy_wanted(ds, pages, DS_LAZY_WANTED_MAX, &n, absent))
			return -1;
		if (n)
			return n == 1 ? (int64_t)pages[0] : -1;
		sleep_us(1000);
	}
	return -1;
}

static int case_fault_and_fill(struct env *env, struct tcase *t)
{
	static struct signal_handler h;
	uint64_t at, h_at, pages, absent, used;
	cap_t gpd, code, data;
	struct gthread g;
	struct rmsg r;
	uint8_t *host;

	CHECK(t, !signal_handler_init(env, &h, never, NULL));
	CHECK(t, !parent_session(env->parent, "CPU", "label=\"t\"", &t->cpu));
	CHECK(t, !pd_alloc_ram(env->pd, PG, &code));
	CHECK(t, !pd_attach(env->pd, code, 0, 0, 0, MEM_R | MEM_W, &h_at));
	memcpy((void *)(uintptr_t)h_at, g_lazy, (size_t)(g_lazy_end - g_lazy));
	CHECK(t, !pd_alloc_rpc_cap(env->pd, node_own_thread(), &t->gate));
	CHECK(t,
	      !parent_session(env->parent, "PD", "ram_quota=262144 cap_quota=8", &gpd));
	CHECK(t, !pd_attach(gpd, code, CODE, 0, 0, MEM_R | MEM_X, &at) && at == CODE);
	CHECK(t, !pd_map_cap(gpd, t->gate, INIT_GATE));
	CHECK(t, !pd_alloc_ram(gpd, NDATA * PG, &data));
	used = ram_used(gpd);
	CHECK(t, !ds_lazy_start(data, h.context, &pages) && pages == NDATA);
	CHECK(t, ram_used(gpd) == used + PG); /* the bitmap, paid by the owner */
	CHECK(t, ds_lazy_start(data, h.context, NULL) == -EBUSY);
	CHECK(t, !pd_attach(gpd, data, DATA, 0, 0, MEM_R | MEM_W, &at) && at == DATA);
	CHECK(t, !pd_attach(env->pd, data, 0, 0, 0, MEM_R | MEM_W, &h_at));
	host = (uint8_t *)(uintptr_t)h_at;

	/* page 11 is there before the thread runs; 3, 9 and 12 are not */
	host[11 * PG + 0xffc] = 1;
	CHECK(t, !ds_lazy_filled(data, 11, 1, &absent) && absent == NDATA - 1);
	host[3 * PG] = 5;
	host[12 * PG + 3] = 0x10;
	CHECK(t, !guest_thread(t, gpd, "lazy", &g));
	CHECK(t, !start(t, &g, 0));
	CHECK(t, wanted(data, &absent) == 3 && absent == NDATA - 1);
	CHECK(t, recv_guest(t, 20000, &r) == KERR_TIMEOUT); /* it waits */
	CHECK(t, !ds_lazy_filled(data, 3, 1, &absent) && absent == NDATA - 2);
	CHECK(t, wanted(data, &absent) == 9); /* the store */
	CHECK(t, !ds_lazy_filled(data, 9, 1, &absent));
	CHECK(t, wanted(data, &absent) == 12); /* across 11 | 12 */
	CHECK(t, recv_guest(t, 20000, &r) == KERR_TIMEOUT);
	/* a page reported twice is filled once */
	CHECK(t, !ds_lazy_filled(data, 11, 2, &absent) && absent == NDATA - 4);
	CHECK(t, recv_guest(t, 5000000, &r) == KERR_OK);
	CHECK(t, r.words == 1 && r.mr[0] == 5 + 7 + 1 + (0x10ULL << 56));
	CHECK(t, host[9 * PG + 8] == 7); /* the guest's store, in the same memory */

	/* the rest: an ordinary dataspace again, the bitmap's quota back */
	used = ram_used(gpd);
	CHECK(t, !ds_lazy_filled(data, 0, NDATA, &absent) && absent == 0);
	CHECK(t, ram_used(gpd) == used - PG);
	CHECK(t, ds_lazy_filled(data, 0, 1, &absent) == -ENOENT);
	CHECK(t, ds_lazy_wanted(data, (uint64_t[1]){0}, 1, (unsigned[1]){0}, NULL) ==
		     -ENOENT);
	return 0;
}

/* DS_LAZY_FILLED with raw words (the client call checks nothing). */
static int raw_filled(cap_t ds, unsigned nwords, uint64_t w0, uint64_t w1)
{
	struct msg m;

	msg_reset(&m, DS_LAZY_FILLED);
	if (nwords > 0)
		msg_put(&m, w0);
	if (nwords > 1)
		msg_put(&m, w1);
	return node_call(ds, &m);
}

static int case_bad_requests(struct env *env, struct tcase *t)
{
	static struct signal_handler h;
	cap_t pd, ds, attached, small, gpd, th;
	uint64_t at, q[4], nr, utcb, badge;
	struct msg m;

	CHECK(t, !signal_handler_init(env, &h, never, NULL));
	CHECK(t, !parent_session(env->parent, "PD", "ram_quota=1056768", &pd));
	CHECK(t, !pd_alloc_ram(pd, 1 << 20, &ds));
	CHECK(t, ds_lazy_start(ds, CAP_INVALID, NULL) == -EINVAL); /* no handler */
	CHECK(t, ds_lazy_start(ds, pd, NULL) == -EINVAL);	   /* no context */
	CHECK(t, raw_filled(ds, 2, 0, 1) == -ENOENT);		   /* not lazy */
	CHECK(t, !ds_lazy_start(ds, h.context, NULL));
	CHECK(t, raw_filled(ds, 1, 0, 0) == -EINVAL);
	CHECK(t, raw_filled(ds, 2, 0, 0) == -EINVAL);
	CHECK(t, raw_filled(ds, 2, 256, 1) == -EINVAL);
	CHECK(t, raw_filled(ds, 2, 255, 2) == -EINVAL);
	CHECK(t, raw_filled(ds, 2, 1, ~0ULL) == -EINVAL);
	/* tracking and lazy filling exclude each other */
	CHECK(t, ds_dirty_start(ds, NULL) == -EBUSY);
	/* 4 KiB left (the 1 MiB's bitmap took a page): a 4 KiB dataspace
	 * fits, its bitmap does not */
	CHECK(t, !node_pd_quota(pd, q) && q[0] - q[1] == PG);
	CHECK(t, !pd_alloc_ram(pd, PG, &small));
	CHECK(t, ds_lazy_start(small, h.context, NULL) == -EDQUOT);
	CHECK(t, !pd_free_ram(pd, small));
	/* only a dataspace that is attached nowhere yet */
	CHECK(t, !pd_alloc_ram(pd, PG, &attached));
	CHECK(t, !pd_attach(env->pd, attached, 0, 0, 0, MEM_R, &at));
	CHECK(t, ds_lazy_start(attached, h.context, NULL) == -EBUSY);
	/* freeing a lazy dataspace gives all back */
	CHECK(t, !pd_free_ram(pd, ds));
	CHECK(t, !node_pd_quota(pd, q) && q[1] == PG);
	/* only RAM: a UTCB page (core's), caps that are no dataspace */
	CHECK(t, !parent_session(env->parent, "CPU", "label=\"t\"", &t->cpu));
	CHECK(t, !parent_session(env->parent, "PD", "ram_quota=65536 cap_quota=8", &gpd));
	CHECK(t, !cpu_create_thread(t->cpu, gpd, "u", &th, &nr, &utcb, &badge));
	CHECK(t, !cpu_simple(t->cpu, CPU_UTCB_DATASPACE, th, &m) && m.ncaps == 1);
	CHECK(t, ds_lazy_start(m.caps[0], h.context, NULL) == -EPERM);
	CHECK(t, ds_lazy_start(pd, h.context, NULL) == -ENOSYS);
	CHECK(t, !parent_close(env->parent, pd));
	return 0;
}

NODE_CASE(fault_and_fill)
NODE_CASE(bad_requests)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(fault_and_fill),
	    cmocka_unit_test(bad_requests),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
