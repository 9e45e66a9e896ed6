/* Capability spaces: slots, lookup, rights, bad kcaps, object death. */
#define _GNU_SOURCE /* RUSAGE_THREAD */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>
#include "kernel/kernel.h"

struct fixture {
	struct node *n;
	struct task *t;
};

static int setup(void **state)
{
	static struct fixture f;

	f.n = node_create();
	f.t = task_create(f.n, TASK_NATIVE);
	if (!f.n || !f.t)
		return -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	kobj_put(&f->t->obj);
	return node_destroy(f->n) == 0 ? 0 : -1;
}

/* bad kcaps name no slot: 0, past the end, KCAP_NIL */
static void bad_kcaps_have_no_slot(void **state)
{
	struct fixture *f = *state;

	assert_null(cap_space_slot(&f->t->caps, KCAP_INVALID));
	/* a native task's cap space goes on past a guest's CAP_SLOTS */
	assert_int_equal(f->t->caps.nslots, CAP_SLOTS_NATIVE);
	assert_non_null(cap_space_slot(&f->t->caps, KCAP(CAP_SLOTS)));
	assert_null(cap_space_slot(&f->t->caps, KCAP(CAP_SLOTS_NATIVE)));
	assert_null(cap_space_slot(&f->t->caps, KCAP_NIL));
	assert_non_null(cap_space_slot(&f->t->caps, KCAP(CAP_SLOTS_NATIVE - 1)));
	assert_null(cap_space_lookup(&f->t->caps, KCAP(5), NULL));
}

/* a set slot is found by its kcap, low bits ignored, R always present */
static void set_and_lookup_with_rights(void **state)
{
	struct fixture *f = *state;
	struct gate *g = gate_create(f->n);
	struct cap_slot *s = cap_space_slot(&f->t->caps, KCAP(0x300));
	unsigned rights;

	cap_slot_set(s, &g->obj, RIGHT_W);
	assert_ptr_equal(cap_space_lookup(&f->t->caps, KCAP(0x300) | 7, &rights),
			 &g->obj);
	assert_int_equal(rights, RIGHT_W | RIGHT_R);
	assert_int_equal(cap_space_kcap(&f->t->caps, s), KCAP(0x300));
	assert_int_equal(g->obj.ncaps, 1);
	assert_int_equal(g->obj.refs, 2);
	kobj_put(&g->obj);
}

/* mapping rights are the source's masked, plus R; bad destinations fail */
static void map_reduces_rights_and_checks_slots(void **state)
{
	struct fixture *f = *state;
	struct irq *q = irq_create(f->n);
	unsigned rights;

	cap_slot_set(cap_space_slot(&f->t->caps, KCAP(0x301)), &q->obj, RIGHTS_ALL);
	assert_int_equal(task_map_cap(f->t, KCAP(0x302), f->t, KCAP(0x301), RIGHT_S),
			 KERR_OK);
	assert_ptr_equal(cap_space_lookup(&f->t->caps, KCAP(0x302), &rights), &q->obj);
	assert_int_equal(rights, RIGHT_S | RIGHT_R);
	assert_int_equal(task_map_cap(f->t, KCAP(0x303), f->t, KCAP(0x399), RIGHTS_ALL),
			 KERR_INVAL_CAP);
	assert_int_equal(
	    task_map_cap(f->t, KCAP(CAP_SLOTS_NATIVE), f->t, KCAP(0x301), RIGHTS_ALL),
	    KERR_RANGE);
	assert_int_equal(task_map_cap(f->t, 0, f->t, KCAP(0x301), RIGHTS_ALL),
			 KERR_RANGE);
	assert_int_equal(task_unmap_cap(f->t, KCAP_NIL, 0), KERR_RANGE);
	kobj_put(&q->obj);
}

/* the object dies (deferred to reap) when its last cap is unmapped */
static void last_cap_gone_kills_object(void **state)
{
	struct fixture *f = *state;
	struct gate *g = gate_create(f->n);

	cap_slot_set(cap_space_slot(&f->t->caps, KCAP(0x310)), &g->obj, RIGHTS_ALL);
	assert_int_equal(task_map_cap(f->t, KCAP(0x311), f->t, KCAP(0x310), RIGHTS_ALL),
			 KERR_OK);
	kobj_get(&g->obj); /* keep it observable */
	kobj_put(&g->obj); /* creator's reference */
	assert_int_equal(task_unmap_cap(f->t, KCAP(0x311), UNMAP_SELF), KERR_OK);
	kobj_reap(f->n);
	assert_false(g->obj.dead);
	assert_int_equal(task_unmap_cap(f->t, KCAP(0x310), UNMAP_SELF), KERR_OK);
	assert_false(g->obj.dead); /* deferred */
	kobj_reap(f->n);
	assert_true(g->obj.dead);
	assert_int_equal(g->obj.ncaps, 0);
	kobj_put(&g->obj);
}

/* TASK_CAP_INFO-style lookups see the type of what a slot names */
static void lookup_reports_type(void **state)
{
	struct fixture *f = *state;
	struct kobj *fac = factory_create(f->n);
	struct kobj *o;

	cap_slot_set(cap_space_slot(&f->t->caps, KCAP(FIXED_FACTORY)), fac, RIGHTS_ALL);
	o = cap_space_lookup(&f->t->caps, KCAP(FIXED_FACTORY), NULL);
	assert_int_equal(o->type, KOBJ_FACTORY);
	kobj_put(fac);
}

static bool slot_page_resident(struct cap_slot *s)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	unsigned char v = 0;

	assert_int_equal(mincore((void *)((uintptr_t)s & ~(page - 1)), page, &v), 0);
	return v & 1;
}

/* once its slots are empty, a page of a native cap space goes back to
 * the host when the node trims (cap_space_trim_node); a page with a used
 * slot stays, with the slot */
static void trim_gives_back_empty_pages(void **state)
{
	struct fixture *f = *state;
	struct gate *g = gate_create(f->n);
	struct cap_slot *far = cap_space_slot(&f->t->caps, KCAP(0x20000));
	struct cap_slot *kept = cap_space_slot(&f->t->caps, KCAP(0x30000));

	cap_slot_set(far, &g->obj, RIGHTS_ALL);
	cap_slot_set(kept, &g->obj, RIGHTS_ALL);
	assert_true(slot_page_resident(far));
	assert_int_equal(task_unmap_cap(f->t, KCAP(0x20000), UNMAP_SELF), KERR_OK);
	cap_space_trim_node(f->n);
	assert_false(slot_page_resident(far));
	assert_null(cap_space_lookup(&f->t->caps, KCAP(0x20000), NULL));
	assert_true(slot_page_resident(kept));
	assert_ptr_equal(cap_space_lookup(&f->t->caps, KCAP(0x30000), NULL), &g->obj);
	kobj_put(&g->obj);
}

static long minor_faults(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_minflt;
}

/* cap_space_fini revokes every used slot, up to the highest, without
 * reading the pages above it (a native space is 3072 pages: reading
 * them all faulted each in) */
static void fini_reads_only_used_slots(void **state)
{
	struct fixture *f = *state;
	struct gate *g = gate_create(f->n);
	struct cap_space cs;
	long before;

	assert_int_equal(cap_space_init(&cs, CAP_SLOTS_NATIVE), 0);
	cap_slot_set(cap_space_slot(&cs, KCAP(0x10)), &g->obj, RIGHTS_ALL);
	cap_slot_set(cap_space_slot(&cs, KCAP(0x800)), &g->obj, RIGHTS_ALL);
	assert_int_equal(g->obj.ncaps, 2);
	before = minor_faults();
	cap_space_fini(&cs);
	assert_true(minor_faults() - before < 64);
	assert_int_equal(g->obj.ncaps, 0);
	assert_null(cs.slots);
	kobj_put(&g->obj);
	kobj_reap(f->n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(bad_kcaps_have_no_slot, setup, teardown),
	    cmocka_unit_test_setup_teardown(set_and_lookup_with_rights, setup, teardown),
	    cmocka_unit_test_setup_teardown(map_reduces_rights_and_checks_slots, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(last_cap_gone_kills_object, setup, teardown),
	    cmocka_unit_test_setup_teardown(lookup_reports_type, setup, teardown),
	    cmocka_unit_test_setup_teardown(trim_gives_back_empty_pages, setup, teardown),
	    cmocka_unit_test_setup_teardown(fini_reads_only_used_slots, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
