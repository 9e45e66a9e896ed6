/*
 * lazy: the pager example's client.  Attaches the pager's managed
 * dataspace and reads and writes it: every first touch of a page faults,
 * the pager fills the page, and the access completes as if the page had
 * been there (the sums below would be off if a resumed thread re-ran
 * anything).  Also looks at its own address space and stack area, which
 * are region maps too.  Last it touches the poison page, on which the
 * pager destroys the map this client waits on: a fatal fault.
 */
#include <base/env.h>
#include <base/region_map.h>
#include <base/sessions.h>

#include "../pager/lazy.h"

static struct env *lz_env;

static void fail(const char *what, int rc)
{
	env_log(lz_env, "lazy: %s failed (%d)", what, rc);
	env_exit(lz_env, 1);
}

/* PD_ADDRESS_SPACE / PD_STACK_AREA: a region-map cap of our own PD. */
static cap_t pd_region_map(uint64_t op)
{
	struct msg m;
	int rc;

	msg_reset(&m, op);
	if ((rc = rpc_call(lz_env->pd, &m)) || m.code != RPC_OK || m.ncaps < 1)
		fail("PD region map", rc ? rc : -1);
	return m.caps[0];
}

/* Our own address space and stack area as region maps. */
static void own_maps(void)
{
	cap_t as = pd_region_map(PD_ADDRESS_SPACE), stack = pd_region_map(PD_STACK_AREA);
	struct region_fault f;
	uint64_t at, size;
	cap_t ds, sds;
	struct msg m;
	int rc;

	if ((rc = region_state(stack, &f)) || f.state != REGION_READY)
		fail("stack area state", rc);
	if ((rc = region_dataspace(stack, &sds)))
		fail("stack area dataspace", rc);
	msg_reset(&m, DS_SIZE);
	if ((rc = rpc_call(sds, &m)) || m.code != RPC_OK || m.nwords < 1)
		fail("DS_SIZE", rc);
	size = m.w[0];
	env_log(lz_env, "lazy: stack area is a managed dataspace of %llu MiB",
		(unsigned long long)(size >> 20));
	if ((rc = pd_alloc_ram(lz_env->pd, LAZY_PAGE, &ds)))
		fail("alloc", rc);
	if ((rc = region_attach(as, ds, REGION_ANY, 0, 0, MEM_R | MEM_W, &at)))
		fail("attach through the address space", rc);
	*(volatile uint64_t *)(uintptr_t)at = 77;
	env_log(lz_env, "lazy: attached through the address-space region map: %s",
		*(volatile uint64_t *)(uintptr_t)at == 77 ? "ok" : "wrong");
	rc = region_detach(as, GUEST_STACK_AREA);
	env_log(lz_env, "lazy: detaching the stack area: %s", rc ? "refused" : "done");
}

void component_construct(struct env *env)
{
	cap_t s, mds;
	uint64_t base, sum = 0, want = 0;
	volatile uint64_t *w;
	struct msg m;
	int rc;

	lz_env = env;
	/* the session first: the pager's lines then come before ours */
	if ((rc = env_session(env, "Lazy", "", &s)))
		fail("Lazy session", rc);
	own_maps();
	msg_reset(&m, LAZY_DATASPACE);
	if ((rc = rpc_call(s, &m)) || m.code != RPC_OK || m.ncaps < 1)
		fail("LAZY_DATASPACE", rc);
	mds = m.caps[0];
	if ((rc = pd_attach(env->pd, mds, 0, 0, 0, MEM_R | MEM_W, &base)))
		fail("attach the managed dataspace", rc);
	env_log(env, "lazy: managed dataspace attached");
	w = (volatile uint64_t *)(uintptr_t)base;
	/* page 2 first (a read), then page 0 (a write) */
	env_log(env, "lazy: page 2 word 5 = 0x%llx (%s)",
		(unsigned long long)w[2 * 512 + 5],
		w[2 * 512 + 5] == LAZY_WORD(2, 5) ? "as filled" : "wrong");
	w[7] += 1000;
	env_log(env, "lazy: page 0 word 7 += 1000: %s",
		w[7] == LAZY_WORD(0, 7) + 1000 ? "ok" : "wrong");
	/* a running sum across the other pages: each fault lands mid-loop */
	for (unsigned p = 0; p < LAZY_USED; p++)
		for (unsigned i = 0; i < 512; i += 64) {
			sum += w[p * 512 + i] + i;
			want += LAZY_WORD(p, i) + i;
		}
	env_log(env, "lazy: sum over all pages %s", sum == want ? "ok" : "wrong");
	env_log(env, "lazy: touching the poison page");
	sum = w[LAZY_POISON_PAGE * 512];
	env_log(env, "lazy: still running (0x%llx): the fault was not fatal",
		(unsigned long long)sum);
	env_exit(env, 1);
}
