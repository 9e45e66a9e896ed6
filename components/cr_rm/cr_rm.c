/*
 * cr_rm: a checkpoint/restore target that pages part of its own memory
 * through a region map (tests/scenario/cr_rm*, tests/cr/cross_node.sh).
 *
 * It opens an RM session, makes a managed region map of RM_PAGES pages,
 * registers a signal handler as the map's fault handler and attaches the
 * map's dataspace into its address space.  A worker thread walks the
 * pages: page 0 holds a counter, and every RM_STRIDE steps it touches a
 * page nobody attached yet -- the access faults, the handler (on the
 * entrypoint) attaches a fresh RAM page there, and the worker goes on.
 * It also attaches a RAM dataspace through its address space's region map
 * and holds its stack area's, keeps the cap of a map it destroyed (a
 * dead entry a checkpoint skips), and lets go of the cap of a map whose
 * dataspace stays attached (an image then names the map by its dataspace).  After a
 * restore the counter in the paged memory goes on, the pages attached before are there
 * with their words, and a page first touched after the restore faults into the restored
 * map's (new) fault handler.
 */
#include <base/env.h>
#include <base/region_map.h>
#include <base/sessions.h>
#include <base/signal.h>
#include <base/thread.h>

#define RM_PAGE	    0x1000ULL
#define RM_PAGES    8
#define RM_STRIDE   3
#define RM_STEPS    (RM_PAGES * RM_STRIDE)
#define RM_SLEEP_US 8000
#define RM_MAGIC    0x5eed0000ULL
#define RM_MAGIC2   0x1005e000ULL

static struct env *rm_env;
static cap_t rm, map, as, stack_area, gone;
static uint64_t base, as_at, loose_at;
static struct signal_handler fault_sigh;
static volatile unsigned faults;

static void fail(const char *what, int rc)
{
	env_log(rm_env, "cr_rm: %s failed (%d)", what, rc);
	env_exit(rm_env, 1);
}

static cap_t pd_region_map(uint64_t op)
{
	struct msg m;
	int rc;

	msg_reset(&m, op);
	if ((rc = rpc_call(rm_env->pd, &m)) || m.code != RPC_OK || m.ncaps < 1)
		fail("PD region map", rc ? rc : -1);
	return m.caps[0];
}

/* On the entrypoint: attach a fresh page where the worker faulted. */
static void on_fault(void *arg, unsigned count)
{
	struct region_fault f;
	uint64_t at;
	cap_t ds;
	int rc;

	if ((rc = region_state(map, &f)))
		fail("region state", rc);
	if (f.state != REGION_FAULTED)
		return;
	faults++;
	if ((rc = pd_alloc_ram(rm_env->pd, RM_PAGE, &ds)) ||
	    (rc = region_attach(map, ds, f.addr & ~(RM_PAGE - 1), 0, RM_PAGE,
				MEM_R | MEM_W, &at)))
		fail("paging in", rc);
}

static void sleep_us(uint64_t us)
{
	uint64_t label;

	sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), us, &label);
}

static void worker(void *arg)
{
	int rc;

	volatile uint64_t *counter = (volatile uint64_t *)(uintptr_t)base;
	volatile uint64_t *as_word = (volatile uint64_t *)(uintptr_t)as_at;

	for (unsigned step = 1; step <= RM_STEPS; step++) {
		unsigned page = (step - 1) / RM_STRIDE;
		volatile uint64_t *w =
		    (volatile uint64_t *)(uintptr_t)(base + page * RM_PAGE);

		w[1] += step; /* the first touch of a page faults */
		(*counter)++;
		env_log(rm_env, "cr_rm: step %u page %u counter %llu faults %u", step,
			page, (unsigned long long)*counter, faults);
		sleep_us(RM_SLEEP_US);
	}
	for (unsigned page = 0; page < RM_PAGES; page++) {
		uint64_t want = 0;
		for (unsigned s = page * RM_STRIDE + 1; s <= (page + 1) * RM_STRIDE; s++)
			want += s;
		if (((volatile uint64_t *)(uintptr_t)(base + page * RM_PAGE))[1] != want)
			fail("page contents", (int)page);
	}
	if (*as_word != RM_MAGIC)
		fail("the address-space attachment", -1);
	if (*(volatile uint64_t *)(uintptr_t)loose_at != RM_MAGIC2)
		fail("the map whose cap was let go", -1);
	/* the session goes, and its map with it (served by the monitor) */
	if ((rc = parent_close(rm_env->parent, rm)))
		fail("closing the RM session", rc);
	env_log(rm_env, "cr_rm: done: %u faults, pages and counter intact", faults);
	env_exit(rm_env, 0);
}

/* A one-page map with a RAM page inside, attached, whose cap the target
 * then lets go: only its dataspace (attached) keeps it in use. */
static int loose_map(struct env *env)
{
	cap_t m, ds, mds;
	uint64_t at;
	int rc;

	if ((rc = rm_create(rm, RM_PAGE, &m)) ||
	    (rc = pd_alloc_ram(env->pd, RM_PAGE, &ds)) ||
	    (rc = region_attach(m, ds, 0, 0, RM_PAGE, MEM_R | MEM_W, &at)) ||
	    (rc = region_dataspace(m, &mds)) ||
	    (rc = pd_attach(env->pd, mds, 0, 0, 0, MEM_R | MEM_W, &loose_at)))
		return rc;
	*(volatile uint64_t *)(uintptr_t)loose_at = RM_MAGIC2;
	cap_release(m);
	return 0;
}

void component_construct(struct env *env)
{
	struct thread *t;
	cap_t mds, ds;
	int rc;

	rm_env = env;
	as = pd_region_map(PD_ADDRESS_SPACE);
	stack_area = pd_region_map(PD_STACK_AREA);
	if ((rc = pd_alloc_ram(env->pd, RM_PAGE, &ds)) ||
	    (rc = region_attach(as, ds, REGION_ANY, 0, 0, MEM_R | MEM_W, &as_at)))
		fail("attach through the address space", rc);
	*(volatile uint64_t *)(uintptr_t)as_at = RM_MAGIC;
	if ((rc = env_session(env, "RM", "", &rm)) ||
	    (rc = rm_create(rm, RM_PAGES * RM_PAGE, &map)))
		fail("region map", rc);
	if ((rc = loose_map(env)))
		fail("a map whose cap is let go", rc);
	/* a map destroyed while its cap stays in the cap map: a dead entry */
	if ((rc = rm_create(rm, RM_PAGE, &gone)) || (rc = rm_destroy(rm, gone)))
		fail("a destroyed region map", rc);
	if ((rc = signal_handler_init(env, &fault_sigh, on_fault, NULL)) ||
	    (rc = region_fault_handler(map, fault_sigh.context)))
		fail("fault handler", rc);
	if ((rc = region_dataspace(map, &mds)) ||
	    (rc = pd_attach(env->pd, mds, 0, 0, 0, MEM_R | MEM_W, &base)))
		fail("attach the managed dataspace", rc);
	if ((rc = thread_create(env, "pager-client", worker, NULL, 0, &t)))
		fail("thread", rc);
	env_log(env, "cr_rm: %u pages paged through a region map at 0x%llx", RM_PAGES,
		(unsigned long long)base);
}
