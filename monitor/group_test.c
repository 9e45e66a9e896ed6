/*
 * The group's <test> (group.h): a group image at a fixed point of the
 * members' run, for the zdtm harness over groups (tests/zdtm/groups.sh):
 *
 *   <test checkpoint_after_log="N" image="FILE" then="exit"/>
 *
 * After the members' Nth LOG line, counted over all of them in the order
 * the monitor's main entrypoint serves them (each line's reply is out,
 * so no member is in a LOG call), the group is cut and its image written
 * as `capsule checkpoint` writes it.  The members stay paused from the
 * cut on and are ended once the image is there: they go on in the node
 * that restores FILE.  If the checkpoint fails, they resume and run to
 * their end.
 *
 *   <test checkpoint_after_log="N" then="hold"/>
 *
 * After the Nth line every member is paused and stays paused (no image)
 * until `capsule migrate` freezes the group from there (group_migrate.c)
 * or resumes them after a failed migration: a migration at a fixed point
 * of the run, for tests/migrate/group_migrate.sh.
 */
#include "monitor/group.h"
#include "monitor/monitor.h"

static void fire(void *arg)
{
	struct mon_group *g = arg;
	char path[300];

	if (g->test_fired || g->nended == g->n)
		return;
	g->test_fired = 1;
	if (g->cfg.then_hold) { /* paused until a migration's freeze */
		if (group_pause_all(g)) {
			env_log(g->env, "monitor: group test hold: cannot pause the "
					"members");
			return;
		}
		g->test_held = 1;
		env_log(g->env,
			"monitor: group paused after line %llu (then=\"hold\"): it "
			"waits for a migration",
			(unsigned long long)g->cfg.checkpoint_after_log);
		return;
	}
	monitor_test_image_path(g->cfg.image, path, sizeof path);
	env_log(g->env, "monitor: group test checkpoint into %s", path);
	if (group_pause_all(g)) /* here, not when the cut's thread runs */
		env_log(g->env,
			"monitor: group test checkpoint: cannot pause the members");
	else
		group_checkpoint_test(g, path, 1);
}

void group_test_log_line(struct monitor *mon)
{
	struct mon_group *g = mon->group;

	if (g->cfg.checkpoint_after_log && ++g->test_lines == g->cfg.checkpoint_after_log)
		ep_defer(mon->env->ep, fire, g);
}

void group_stop(struct mon_group *g)
{
	struct msg m;

	env_log(g->env, "monitor: group stopped after its image was written");
	for (int k = 0; k < g->n; k++) {
		struct monitor *mon = g->member[k].mon;
		if (!mon || g->member[k].ended || mon->state != MON_RUNNING)
			continue;
		/* as the member's own exit(0), served on the group's entrypoint */
		msg_reset(&m, PARENT_EXIT);
		msg_put(&m, 0);
		rpc_call(mon->parent_obj.cap, &m);
	}
}
