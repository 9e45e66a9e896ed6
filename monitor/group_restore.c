/*
 * `capsule restore` of a group image (image/group.h) at the monitor of a
 * group: all members or none.
 *
 * The image is read and checked whole before anything changes: its
 * header and table, every member's image, every cap between members
 * against the images (an image whose caps refer to an object it does not
 * contain is refused in one line), and its members against this group's
 * (same names, same binaries, each image one its member could restore).
 *
 * Then the running members are paused and each is built anew beside its
 * old self, in a member monitor of its own, as an image restore builds
 * one target (restore_image.c, restore.c): its sessions at the monitor's
 * parent, PD, threads, memory, gates, signal contexts, region maps, each
 * with a new badge.  Once every member's own objects exist, each cap one
 * member holds to another's object (the image's table) is mapped at its
 * kcap in the holder: an RPC object as a served proxy of the owner's
 * recreated gate in the owner's new monitor (a session between members
 * is recorded in the holder's as routed to that member), a signal
 * context, dataspace or region map as the owner's recreated object.
 * Then each member's cap map, object pools and threads are fixed,
 * prepared and verified.  Only when every member is ready is any
 * committed: the old members go, the new ones take their places and
 * their roots are the group's, and all of them start.  A failure before
 * that undoes every member's restore, and the old members run on
 * unchanged.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capsule/control.h>

#include "image/group.h"
#include "monitor/checkpoint.h"
#include "monitor/group.h"
#include "monitor/group_restore.h"
#include "monitor/image_convert.h"
#include "monitor/model.h"
#include "monitor/monitor.h"
#include "monitor/restore.h"

/* The image's members are this group's, in the same order. */
static int members_match(const struct mon_group *g, const struct image_group *ig,
			 const char *path, char *err, size_t n)
{
	if ((int)ig->h.nmembers != g->n) {
		snprintf(err, n, "%s: %u members, this group has %d", path,
			 ig->h.nmembers, g->n);
		return -EINVAL;
	}
	for (int k = 0; k < g->n; k++) {
		const struct start_config *s = g->member[k].start;
		if (strcmp(ig->member[k].name, s->name) ||
		    strcmp(ig->member[k].binary, s->binary)) {
			snprintf(err, n,
				 "%s: member %d is '%s' (binary %s), this group's is "
				 "'%s' (binary %s)",
				 path, k, ig->member[k].name, ig->member[k].binary,
				 s->name, s->binary);
			return -EINVAL;
		}
	}
	return 0;
}

/* Each member's image is one its member monitor could restore here; the
 * binaries' identities checked go to bin[k]. */
static int members_admit(struct mon_group *g, const struct image_group *ig,
			 const char *path, struct binary_id *bin, char *err, size_t n)
{
	char what[600];
	int rc;

	for (int k = 0; k < g->n; k++) {
		struct monitor *mon = g->member[k].mon, *fresh = NULL;
		struct binary_id running;

		if (!ig->image[k]) /* ended at the cut: nothing to restore */
			continue;

		/* a member that never started (a group waiting for a restore) is
		 * checked by a monitor of its own that nothing else sees */
		if (!mon && !(mon = fresh = group_member_new(g, k))) {
			snprintf(err, n, "member '%s': out of memory",
				 ig->member[k].name);
			return -ENOMEM;
		}
		running = mon->binary; /* the check sets it: the member runs on */
		snprintf(what, sizeof what, "%s (member '%s')", path, ig->member[k].name);
		rc = restore_image_check(mon, ig->image[k], what, 0, err, n);
		bin[k] = mon->binary;
		mon->binary = running;
		free(fresh);
		if (rc) {
			snprintf(what, sizeof what, "%s", err);
			snprintf(err, n, "member '%s': %.500s", ig->member[k].name, what);
			return rc;
		}
	}
	return 0;
}

/* Member k's name in the group's config. */
const char *grs_name(const struct grs *s, int k)
{
	return s->g->member[k].start->name;
}

/* The first failure, naming the member (its monitor's reason if it gave
 * one, else what failed). */
void grs_failed(struct grs *s, int k, const char *what, int rc)
{
	const char *why = s->mon[k] && s->mon[k]->why[0] ? s->mon[k]->why : NULL;

	if (s->why[0])
		return;
	if (why)
		snprintf(s->why, sizeof s->why, "member '%s': %.500s", grs_name(s, k),
			 why);
	else
		snprintf(s->why, sizeof s->why, "member '%s': %s: %s", grs_name(s, k),
			 what, strerror(-rc));
}
/* Member k's sessions at other members, noted while its image's
 * sessions are at hand (the caps between members look them up). */
static int note_member_sessions(struct grs *s, int k)
{
	const struct image_model *im = s->ig->image[k];
	unsigned n = 0;

	for (uint32_t i = 0; i < im->nsessions; i++)
		n += !!(im->sessions[i].flags & IMAGE_SESSION_F_MEMBER);
	if (!n)
		return 0;
	if (!(s->msess[k] = malloc(n * sizeof *s->msess[k])))
		return -ENOMEM;
	for (uint32_t i = 0; i < im->nsessions; i++)
		if (im->sessions[i].flags & IMAGE_SESSION_F_MEMBER)
			s->msess[k][s->nmsess[k]++] = &im->sessions[i];
	return 0;
}

/* Member k built anew in a monitor of its own: sessions, model, its own
 * objects (restore_build). */
static int build_member(struct grs *s, int k)
{
	const struct image_model *im = s->ig->image[k];
	struct monitor *mon;
	int rc;

	if (!(mon = s->mon[k] = group_member_new(s->g, k)) ||
	    !(s->model[k] = calloc(1, sizeof *s->model[k])) ||
	    !(s->seed[k] = calloc(1, sizeof *s->seed[k])))
		return -ENOMEM;
	mon->binary = s->binary[k];
	mon->cfg.ram = im->component.ram_quota;
	mon->cfg.caps = im->component.cap_quota;
	mon->state = MON_RUNNING;
	if ((rc = restore_image_open(mon, im, s->seed[k])) ||
	    (rc = note_member_sessions(s, k)))
		return rc;
	if ((rc = image_to_model(im, mon, s->model[k]))) {
		monitor_why(mon, "restore refused: the image names what it does not "
				 "contain");
		return rc;
	}
	if ((rc = image_announced(im, mon))) {
		monitor_why(mon, "restore refused: a bad announce note");
		return rc;
	}
	mon->cap_map_addr = s->model[k]->cap_map_addr;
	mon->cap_map_entries = CAP_SLOTS;
	mon->cr_report_addr = s->model[k]->report_addr;
	mon->cr_abi_version = s->model[k]->abi_version;
	return restore_build(mon, s->model[k], s->seed[k], &s->rs[k]);
}

/* Pause every running member (resumed by undo_all on a failure). */
static int pause_all(struct grs *s)
{
	int rc;

	for (int k = 0; k < s->g->n; k++) {
		struct mon_member *m = &s->g->member[k];
		if (m->ended || !m->mon || m->mon->state != MON_RUNNING)
			continue;
		s->paused[k] = 1;
		if ((rc = group_pause_member(m->mon))) {
			snprintf(s->why, sizeof s->why, "cannot pause member '%s': %s",
				 m->start->name, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* Member k's restore undone first, with why it failed (its monitor's
 * reason: monitor_why keeps the first). */
static void abort_member(struct grs *s, int k, int rc)
{
	if (s->rs[k])
		restore_abort(s->rs[k], rc);
	s->rs[k] = NULL;
}

/* Everything built undone, the new monitors gone, the old members
 * resumed. */
static void undo_all(struct grs *s)
{
	member_map_drop(&s->mq);
	for (int k = 0; k < s->g->n; k++) {
		if (s->rs[k]) /* built, but another member failed */
			restore_abort(s->rs[k], -ECANCELED);
		s->rs[k] = NULL;
	}
	for (int k = 0; k < s->g->n; k++)
		if (s->mon[k]) {
			group_member_discard(s->mon[k]);
			s->mon[k] = NULL;
		}
	for (int k = 0; k < s->g->n; k++)
		if (s->paused[k])
			monitor_resume(s->g->member[k].mon);
}

/* A member the image has as ended: ended here too, with its exit code
 * (its old self, if it ran, is retired like the others). */
static void commit_ended(struct grs *s, int k)
{
	struct mon_member *m = &s->g->member[k];

	m->ended = 1;
	m->exit_code = s->ig->member[k].exit_code;
	s->g->nended++;
}

/* The point of no return: the old members go, the new ones take their
 * places, announce their roots to the group and start. */
static void commit_all(struct grs *s)
{
	struct mon_group *g = s->g;

	for (int k = 0; k < g->n; k++)
		group_member_retire(g, k);
	for (int k = 0; k < g->n; k++) {
		struct monitor *mon = s->mon[k];
		if (!mon) {
			commit_ended(s, k);
			continue;
		}
		restore_commit(s->rs[k], NULL);
		s->rs[k] = NULL;
		g->member[k].mon = mon;
		for (int i = 0; i < mon->nannounced; i++) {
			struct mon_record *r = record_find(mon, mon->announced[i].badge);
			if (r) /* its root proxy exists (restore_announce) */
				served_announce_group(mon, mon->announced[i].name,
						      r->cap);
		}
	}
	for (int k = 0; k < g->n; k++)
		if (s->mon[k]) {
			monitor_restore_start(s->mon[k], s->model[k]);
			s->mon[k] = NULL;
		}
}

/* Build, map the caps between members, make ready; commit all (unless
 * hold: a migration's restore waits for its commit, group_restore_end)
 * or undo all.  0 or -errno with one line in s->why. */
static int restore_all(struct grs *s, int hold)
{
	int rc, k;

	s->g->restore_points = 0;
	if ((rc = pause_all(s)))
		goto fail;
	for (k = 0; k < s->g->n; k++)
		if (s->ig->image[k] && (rc = build_member(s, k))) {
			abort_member(s, k, rc);
			grs_failed(s, k, "cannot recreate its objects", rc);
			goto fail;
		}
	s->t[1] = mon_now_us();
	if ((rc = grs_map_refs(s)))
		goto fail;
	s->t[2] = mon_now_us();
	env_log(s->g->env,
		"monitor: group: every member built, %u caps between members mapped "
		"(%u points that can fail passed)",
		s->ig->h.nrefs, s->g->restore_points);
	for (k = 0; k < s->g->n; k++)
		if (s->rs[k] && (rc = restore_ready(s->rs[k]))) {
			abort_member(s, k, rc);
			grs_failed(s, k, "cannot make it ready", rc);
			goto fail;
		}
	s->t[3] = mon_now_us();
	if (!hold)
		commit_all(s);
	s->t[4] = mon_now_us();
	return 0;
fail:
	undo_all(s);
	return rc ? rc : -EIO;
}

static void grs_free(struct grs *s)
{
	for (int k = 0; k < MON_GROUP_MAX; k++) {
		if (s->model[k])
			model_free(s->model[k]);
		free(s->model[k]);
		free(s->seed[k]);
		free(s->msess[k]);
	}
	free(s->made);
	image_group_free(s->ig);
	free(s);
}

/* names[0..n) into buf as HEAD "a, b" TAIL, or "" if n is 0. */
static void names_note(char *buf, size_t size, const char *head, const char **names,
		       int n, const char *tail)
{
	size_t at = 0;

	buf[0] = 0;
	for (int k = 0; k < n && at < size; k++)
		at += (size_t)snprintf(buf + at, size - at, "%s%s", k ? ", " : head,
				       names[k]);
	if (n && at < size)
		snprintf(buf + at, size - at, "%s", tail);
}

/* The group's members that have ended (they stay so after a failed
 * restore), as "; ended before it and still ended: a, b". */
static void ended_note(const struct mon_group *g, char *buf, size_t size)
{
	const char *names[MON_GROUP_MAX];
	int n = 0;

	for (int k = 0; k < g->n; k++)
		if (g->member[k].ended)
			names[n++] = g->member[k].start->name;
	names_note(buf, size, "; ended before it and still ended: ", names, n, "");
}

/* The image's members that had ended at the cut (they stay so), as
 * " (a, b ended before the cut: they stay ended)"; the count of the
 * others, which it restores. */
static int image_ended_note(const struct image_group *ig, char *buf, size_t size)
{
	const char *names[IMAGE_GROUP_MAX];
	int n = 0;

	for (uint32_t k = 0; k < ig->h.nmembers; k++)
		if (!ig->image[k])
			names[n++] = ig->member[k].name;
	names_note(buf, size, " (", names, n, " ended before the cut: they stay ended)");
	return (int)ig->h.nmembers - n;
}

int group_restore_as(struct mon_group *g, struct control_mailbox *mb, const char *name,
		     const char *path, int hold)
{
	struct grs *s = calloc(1, sizeof *s);
	char err[600], note[200];
	unsigned caps;
	int rc, live;

	if (!s) {
		group_answer(g, mb, "group restore at start",
			     "error: %s: restore failed: out of memory", name);
		return -ENOMEM;
	}
	s->g = g;
	s->path = path;
	s->t[0] = mon_now_us();
	if (g->ck || g->held || g->frozen) {
		group_answer(g, mb, "group restore at start",
			     "error: %s: restore refused: %s", name,
			     g->ck     ? "a checkpoint of the group is under way"
			     : g->held ? "a migration's restore waits for its commit here"
				       : "its members are frozen for a migration");
		free(s);
		return -EBUSY;
	}
	if (image_group_read(path, &s->ig, err, sizeof err) ||
	    members_match(g, s->ig, path, err, sizeof err) ||
	    members_admit(g, s->ig, path, s->binary, err, sizeof err)) {
		if (mb) /* (at start, the answer is the log line) */
			env_log(g->env, "monitor: group restore refused: %s", err);
		group_answer(g, mb, "group restore at start",
			     "error: %s: restore refused: %s", name, err);
		grs_free(s);
		return -EINVAL;
	}
	group_retired_free(g); /* the last restore's old members */
	g->restoring = 1;
	rc = restore_all(s, hold);
	g->restoring = 0;
	caps = s->ig->h.nrefs;
	if (rc) {
		ended_note(g, note, sizeof note);
		if (mb) /* (at start, the answer is the log line) */
			env_log(g->env, "monitor: group restore failed: %s", s->why);
		group_answer(g, mb, "group restore at start",
			     "error: %s: restore failed: %s: nothing of it is left, the "
			     "members run on unchanged%s",
			     name, s->why, note);
		grs_free(s);
		return rc;
	}
	env_log(g->env,
		"monitor: group restore: %d members, %u caps between members, %u "
		"points that can fail passed: took %llu us (build %llu, caps between "
		"members %llu, ready %llu, commit %llu)",
		g->n, caps, g->restore_points, (unsigned long long)(s->t[4] - s->t[0]),
		(unsigned long long)(s->t[1] - s->t[0]),
		(unsigned long long)(s->t[2] - s->t[1]),
		(unsigned long long)(s->t[3] - s->t[2]),
		(unsigned long long)(s->t[4] - s->t[3]));
	live = image_ended_note(s->ig, note, sizeof note);
	group_answer(
	    g, mb, "group restore at start",
	    "ok %s %s: members %d restored%s%s, %u caps between members, %.1f ms", name,
	    path, live, note, hold ? " (paused until the commit)" : "", caps,
	    (double)(s->t[4] - s->t[0]) / 1000.0);
	if (hold)
		g->held = s; /* group_restore_end */
	else
		grs_free(s);
	return 0;
}

int group_restore(struct mon_group *g, struct control_mailbox *mb, const char *name,
		  const char *path)
{
	return group_restore_as(g, mb, name, path, 0);
}

int group_restore_end(struct mon_group *g, int commit)
{
	struct grs *s = g->held;

	if (!s)
		return -ENOENT;
	g->held = NULL;
	if (commit)
		commit_all(s);
	else
		undo_all(s);
	env_log(g->env, "monitor: group: the restore held for a migration %s",
		commit ? "committed: the members start"
		       : "undone: the members before it, if any, run on");
	grs_free(s);
	return 0;
}
