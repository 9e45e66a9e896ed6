/* A group member whose target has exited is ended for a checkpoint of
 * the group even before the group's entrypoint has recorded its end
 * (group_member_gone, monitor/group.c): a cut that let the members run
 * between two tries may find one so, and the group image then records it
 * as ended with its exit code, with no image (group_image_records), as
 * one whose end was recorded. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "monitor/group.h"
#include "monitor/group_image.h"
#include "monitor/image_convert.h"
#include "monitor/model.h"
#include "monitor/monitor.h"

static struct start_config start[3] = {
    {.name = "done", .binary = "hello"},
    {.name = "exiting", .binary = "counter"},
    {.name = "running", .binary = "counter"},
};

/* Member 0's end recorded (exit 0); member 1's target exited with 3, its
 * end still deferred; member 2 runs. */
static struct mon_group *group(void)
{
	struct mon_group *g = calloc(1, sizeof *g);

	g->n = 3;
	for (int k = 0; k < 3; k++) {
		g->member[k].mon = calloc(1, sizeof *g->member[k].mon);
		g->member[k].start = &start[k];
		g->member[k].mon->state = MON_RUNNING;
	}
	g->member[0].ended = 1;
	g->member[0].mon->state = MON_EXITED;
	g->member[1].mon->state = MON_EXITED;
	g->member[1].mon->exit_code = 3;
	return g;
}

static void group_free(struct mon_group *g)
{
	for (int k = 0; k < 3; k++)
		free(g->member[k].mon);
	free(g);
}

static void gone_before_its_end_is_recorded(void **state)
{
	struct mon_group *g = group();
	int code = -1;

	assert_true(group_member_gone(g, 0, &code));
	assert_int_equal(code, 0);
	assert_true(group_member_gone(g, 1, &code));
	assert_int_equal(code, 3);
	assert_false(group_member_gone(g, 2, NULL));
	assert_false(group_member_runs(g, 1));
	group_free(g);
}

static void recorded_ended_in_the_image(void **state)
{
	struct mon_group *g = group();
	struct mon_model *models[3] = {NULL, NULL, NULL};
	struct group_image gi;
	char why[256] = "";

	g->n = 2; /* the two that ended: no model is read */
	assert_int_equal(group_image_records(g, models, NULL, 0, &gi, why, sizeof why),
			 0);
	assert_int_equal(gi.ig.h.nmembers, 2);
	assert_null(gi.image[1]);
	assert_int_equal(gi.member[1].exit_code, 3);
	assert_string_equal(gi.member[1].name, "exiting");
	assert_string_equal(gi.member[1].binary, "counter");
	group_image_release(&gi);
	group_free(g);
}

/* A running member's cap to an object of a member that ended while the
 * cut settled: dead in its image (the holder's image failed with
 * -ENOENT before: its owner's object was no longer found) */
static void cap_to_an_ended_members_object(void **state)
{
	struct mon_group *g = group();
	struct monitor *holder = g->member[2].mon;
	struct mon_model *m = calloc(1, sizeof *m);
	struct image_model im;

	holder->group = g;
	holder->member = 2;
	m->ncaps = 2;
	m->cap[0] = (struct mon_model_cap){
	    .kcap = 0x315000, .badge = 0x670, .aux = 0, .cls = MON_CLASS_MEMBER};
	m->cap[1] = (struct mon_model_cap){
	    .kcap = 0x316000, .badge = 0x480, .aux = 1, .cls = MON_CLASS_MEMBER};
	assert_int_equal(model_to_image_records(holder, m, &im), 0);
	assert_int_equal(im.ncaps, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(im.caps[i].class, IMAGE_CAP_DEAD);
		assert_int_equal(im.caps[i].arg, IMAGE_DEAD_REVOKED);
		assert_string_equal(im.caps[i].note, "member ended");
	}
	image_model_release(&im);
	free(m);
	group_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(gone_before_its_end_is_recorded),
	    cmocka_unit_test(recorded_ended_in_the_image),
	    cmocka_unit_test(cap_to_an_ended_members_object),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
