/* Mapping database: derivation trees across tasks, recursive revocation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "kernel/kernel.h"

#define X KCAP(0x300)
#define Y KCAP(0x400)
#define Z KCAP(0x500)

struct fixture {
	struct node *n;
	struct task *a, *b, *c;
	struct gate *g;
};

static int setup(void **state)
{
	static struct fixture f;

	f.n = node_create();
	f.a = task_create(f.n, TASK_NATIVE);
	f.b = task_create(f.n, TASK_NATIVE);
	f.c = task_create(f.n, TASK_NATIVE);
	f.g = gate_create(f.n);
	if (!f.n || !f.a || !f.b || !f.c || !f.g)
		return -1;
	cap_slot_set(cap_space_slot(&f.a->caps, X), &f.g->obj, RIGHTS_ALL);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	kobj_put(&f->a->obj);
	kobj_put(&f->b->obj);
	kobj_put(&f->c->obj);
	kobj_put(&f->g->obj);
	return node_destroy(f->n) == 0 ? 0 : -1;
}

static struct kobj *at(struct task *t, uint64_t kcap, unsigned *rights)
{
	return cap_space_lookup(&t->caps, kcap, rights);
}

/* A:X -> B:Y -> C:Z; each link narrows the rights */
static void chain_across_three_tasks(void **state)
{
	struct fixture *f = *state;
	unsigned r;

	assert_int_equal(task_map_cap(f->b, Y, f->a, X, RIGHT_W | RIGHT_S), KERR_OK);
	assert_int_equal(task_map_cap(f->c, Z, f->b, Y, RIGHT_W), KERR_OK);
	assert_ptr_equal(at(f->b, Y, &r), &f->g->obj);
	assert_int_equal(r, RIGHTS_ALL);
	assert_ptr_equal(at(f->c, Z, &r), &f->g->obj);
	assert_int_equal(r, RIGHT_W | RIGHT_R);
	assert_true(mapdb_is_ancestor(cap_space_slot(&f->a->caps, X),
				      cap_space_slot(&f->c->caps, Z)));
	assert_int_equal(f->g->obj.ncaps, 3);
}

/* unmapping the root revokes the subtree in every task but keeps the root */
static void revoke_is_recursive(void **state)
{
	struct fixture *f = *state;

	task_map_cap(f->b, Y, f->a, X, RIGHTS_ALL);
	task_map_cap(f->c, Z, f->b, Y, RIGHTS_ALL);
	task_map_cap(f->c, Z + KCAP(1), f->a, X, RIGHTS_ALL);
	assert_int_equal(task_unmap_cap(f->a, X, 0), KERR_OK);
	assert_null(at(f->b, Y, NULL));
	assert_null(at(f->c, Z, NULL));
	assert_null(at(f->c, Z + KCAP(1), NULL));
	assert_ptr_equal(at(f->a, X, NULL), &f->g->obj);
	assert_int_equal(f->g->obj.ncaps, 1);
}

/* UNMAP_SELF in the middle: the slot and its subtree go, the parent stays */
static void unmap_self_middle(void **state)
{
	struct fixture *f = *state;

	task_map_cap(f->b, Y, f->a, X, RIGHTS_ALL);
	task_map_cap(f->c, Z, f->b, Y, RIGHTS_ALL);
	assert_int_equal(task_unmap_cap(f->b, Y, UNMAP_SELF), KERR_OK);
	assert_null(at(f->b, Y, NULL));
	assert_null(at(f->c, Z, NULL));
	assert_non_null(at(f->a, X, NULL));
	assert_int_equal(task_unmap_cap(f->a, X, UNMAP_SELF), KERR_OK);
	kobj_reap(f->n);
	assert_true(f->g->obj.dead);
}

/* mapping over an occupied slot revokes what was derived from it */
static void replace_revokes_old_subtree(void **state)
{
	struct fixture *f = *state;
	struct irq *q = irq_create(f->n);

	cap_slot_set(cap_space_slot(&f->a->caps, X + KCAP(1)), &q->obj, RIGHTS_ALL);
	task_map_cap(f->b, Y, f->a, X, RIGHTS_ALL);
	task_map_cap(f->c, Z, f->b, Y, RIGHTS_ALL);
	assert_int_equal(task_map_cap(f->b, Y, f->a, X + KCAP(1), RIGHTS_ALL), KERR_OK);
	assert_ptr_equal(at(f->b, Y, NULL), &q->obj);
	assert_null(at(f->c, Z, NULL));
	/* a slot cannot be replaced by something derived from it */
	task_map_cap(f->c, Z, f->b, Y, RIGHTS_ALL);
	assert_int_equal(task_map_cap(f->b, Y, f->c, Z, RIGHTS_ALL), KERR_INVAL);
	kobj_put(&q->obj);
}

/* releasing a slot (receive-window overwrite) keeps what was derived from it */
static void release_moves_children_up(void **state)
{
	struct fixture *f = *state;

	task_map_cap(f->b, Y, f->a, X, RIGHTS_ALL);
	task_map_cap(f->b, Y + KCAP(1), f->b, Y, RIGHTS_ALL);
	assert_int_equal(task_unmap_cap(f->b, Y, UNMAP_RELEASE), KERR_OK);
	assert_null(at(f->b, Y, NULL));
	assert_non_null(at(f->b, Y + KCAP(1), NULL));
	assert_int_equal(task_unmap_cap(f->a, X, 0), KERR_OK);
	assert_null(at(f->b, Y + KCAP(1), NULL));
}

/* a task's death revokes everything derived from its slots */
static void dying_task_revokes_derived(void **state)
{
	struct fixture *f = *state;

	task_map_cap(f->b, Y, f->a, X, RIGHTS_ALL);
	task_map_cap(f->c, Z, f->b, Y, RIGHTS_ALL);
	kobj_kill(&f->b->obj);
	kobj_reap(f->n);
	assert_null(at(f->c, Z, NULL));
	assert_non_null(at(f->a, X, NULL));
}

/* a chain as long as a cap space is revoked without recursion */
static void long_chain_revokes(void **state)
{
	struct fixture *f = *state;

	for (unsigned i = 1; i < CAP_SLOTS - 0x300; i++)
		assert_int_equal(task_map_cap(f->b, KCAP(0x300 + i), i == 1 ? f->a : f->b,
					      i == 1 ? X : KCAP(0x300 + i - 1),
					      RIGHTS_ALL),
				 KERR_OK);
	assert_int_equal(f->g->obj.ncaps, CAP_SLOTS - 0x300);
	assert_int_equal(task_unmap_cap(f->a, X, 0), KERR_OK);
	assert_int_equal(f->g->obj.ncaps, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(chain_across_three_tasks, setup, teardown),
	    cmocka_unit_test_setup_teardown(revoke_is_recursive, setup, teardown),
	    cmocka_unit_test_setup_teardown(unmap_self_middle, setup, teardown),
	    cmocka_unit_test_setup_teardown(replace_revokes_old_subtree, setup, teardown),
	    cmocka_unit_test_setup_teardown(release_moves_children_up, setup, teardown),
	    cmocka_unit_test_setup_teardown(dying_task_revokes_derived, setup, teardown),
	    cmocka_unit_test_setup_teardown(long_chain_revokes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
