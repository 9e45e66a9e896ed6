/*
 * A group's side of `capsule migrate` (docs/migration.md, "Groups"),
 * stop-and-copy, all members or none:
 *
 *   source       FREEZE   the cut and the group image, as `capsule
 *                         checkpoint` of the group, but every member
 *                         stays paused (group_checkpoint_hold);
 *                THAW     the migration failed before its commit: the
 *                         members resume, unchanged;
 *                RELEASE  it was committed: the members end here and the
 *                         group waits for a restore (as a group with
 *                         <restore/> does), so a group can come back;
 *   destination  RESTORE paused: every member built, caps between
 *                         members mapped, ready and verified, nothing
 *                         committed (group_restore_as, held);
 *                THAW     the commit: the members before it (if any) go,
 *                         the restored ones start;
 *                RELEASE  the abort: the restore is undone, the members
 *                         before it (if any) run on.
 *
 * The node's side (the stream, the commit) is tools/migrate_group_*.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <capsule/control.h>

#include "monitor/group.h"
#include "monitor/monitor.h"

/* A migration's members end here: each goes as a restore's old member
 * does (group_member_retire), and the empty group waits for a restore. */
static void release_members(struct mon_group *g)
{
	group_retired_free(g); /* the last restore's old members */
	for (int k = 0; k < g->n; k++)
		group_member_retire(g, k);
	g->frozen = 0;
	env_log(g->env,
		"monitor: group: its %d members ended here (migrated); the group "
		"waits for a restore",
		g->n);
}

static void freeze(struct mon_group *g, struct control_mailbox *mb,
		   const struct control_request *req, const char *members)
{
	if (req->parent[0] || req->flags) {
		control_done(mb,
			     "error: %s: a group migrates by stop-and-copy: pre-copy "
			     "rounds and --postcopy are not supported for a group",
			     req->name);
		return;
	}
	if (g->frozen || g->held || g->restoring) {
		control_done(mb, "error: %s: busy: %s", req->name,
			     g->frozen ? "its members are frozen for a migration"
				       : "a restore is under way");
		return;
	}
	group_checkpoint_hold(g, mb, req->name, req->path, members);
}

static void thaw(struct mon_group *g, struct control_mailbox *mb, const char *name)
{
	if (g->frozen) {
		group_resume(g);
		g->frozen = 0;
		env_log(g->env, "monitor: group: the migration failed: its members "
				"resume here");
		control_done(mb, "ok %s resumed", name);
	} else if (g->held) {
		group_restore_end(g, 1);
		control_done(mb, "ok %s started", name);
	} else {
		control_done(mb,
			     "error: %s: no member is frozen or restored for a "
			     "migration here",
			     name);
	}
}

static void release(struct mon_group *g, struct control_mailbox *mb, const char *name)
{
	if (g->frozen) {
		release_members(g);
		control_done(mb, "ok %s ended here", name);
	} else if (g->held) {
		group_restore_end(g, 0);
		control_done(mb, "ok %s: the restore for the migration undone", name);
	} else {
		control_done(mb,
			     "error: %s: no member is frozen or restored for a "
			     "migration here",
			     name);
	}
}

void group_migrate_control(struct mon_group *g, struct control_mailbox *mb,
			   const struct control_request *req, const char *members)
{
	if (req->op == CONTROL_FREEZE)
		freeze(g, mb, req, members);
	else if (req->op == CONTROL_THAW)
		thaw(g, mb, req->name);
	else if (req->op == CONTROL_RELEASE)
		release(g, mb, req->name);
	else if (req->op == CONTROL_RESTORE) /* paused: the destination's */
		group_restore_as(g, mb, req->name, req->path, 1);
}
