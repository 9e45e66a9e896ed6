/*
 * `capsule checkpoint` of a group (group.h): the consistent cut
 * (group_cut.c), a checkpoint of every member while all are paused (its
 * threads, memory and cap map, each cap classified; caps to another
 * member's objects by group_caps.c), the table of caps between members,
 * logged one line each, and each member's image records
 * (group_image.c); then the members resume and the group image is
 * written (the members' memory and the file).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <base/thread.h>
#include <capsule/control.h>

#include "monitor/checkpoint.h"
#include "monitor/group.h"
#include "monitor/group_image.h"

#define GROUP_MAX_CAPS 1024 /* caps between members a cut lists */

static void models_free(struct mon_model **models, int n)
{
	for (int k = 0; k < n; k++)
		if (models[k]) {
			model_free(models[k]);
			free(models[k]);
		}
}

/* Can the group be cut?  Every member runs or has ended, and one runs:
 * a group is checkpointed whole or not (an ended member is recorded as
 * ended).  0, or -ESRCH with why. */
static int cuttable(const struct mon_group *g, char *why, size_t size)
{
	int live = 0;

	for (int k = 0; k < g->n; k++) {
		int gone = group_member_gone(g, k, NULL);
		if (!gone && !group_member_runs(g, k)) {
			snprintf(
			    why, size,
			    "member '%s' is not running: a group is checkpointed whole",
			    g->member[k].start->name);
			return -ESRCH;
		}
		live += !gone;
	}
	if (!live)
		snprintf(why, size, "every member has ended");
	return live ? 0 : -ESRCH;
}

/* Checkpoint every member of the cut into models (all stay paused).
 * 0, or -errno with one line in why (the members resumed). */
static int members_checkpoint(struct mon_group *g, struct mon_model **models, char *why,
			      size_t size)
{
	for (int k = 0; k < g->n; k++) {
		struct monitor *mon = g->member[k].mon;
		int rc;

		if (group_member_gone(g, k, NULL)) /* recorded as ended, no image */
			continue;
		mon->why[0] = 0;
		if (!(models[k] = calloc(1, sizeof *models[k]))) {
			snprintf(why, size, "out of memory for member '%s'",
				 g->member[k].start->name);
			group_resume(g);
			return -ENOMEM;
		}
		if ((rc = monitor_checkpoint(mon, models[k]))) {
			snprintf(why, size, "%s", mon->why[0] ? mon->why : strerror(-rc));
			free(models[k]);
			models[k] = NULL;
			group_resume(g); /* the failed one resumed itself */
			return rc;
		}
	}
	return 0;
}

static void log_table(struct mon_group *g, const struct group_cap *t, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		env_log(g->env,
			"monitor: group: '%s' kcap 0x%llx badge 0x%llx -> '%s' %s 0x%llx",
			g->member[t[i].holder].start->name, (unsigned long long)t[i].kcap,
			(unsigned long long)t[i].badge, g->member[t[i].owner].start->name,
			t[i].kind, (unsigned long long)t[i].object);
}

/* A checkpoint request under way.  The cut runs on a thread of its own
 * (cut_main): while it waits for members to settle, the main entrypoint
 * must go on serving the members' PD and LOG proxies (a server member
 * that submits a signal to a client in the middle of a call waits for
 * its PD proxy, and its client for it).  The thread then calls obj on
 * the main entrypoint, which checkpoints the paused members and answers
 * (ck_dispatch). */
struct group_ck {
	struct rpc_object obj;
	cap_t cap;
	struct mon_group *g;
	struct control_mailbox *mb;
	struct thread *thread;
	uint64_t t0;
	int rc;
	int stop;      /* --stop, or the group's <test> then="exit": end the members */
	int hold;      /* a migration's freeze: the members stay paused (g->frozen) */
	int prepaused; /* every member was paused before (group_pause_all) */
	char name[CONTROL_NAME_MAX], path[CONTROL_PATH_MAX], members[160], why[480];
};

#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

static void ck_free(void *arg)
{
	struct group_ck *ck = arg;

	struct mon_group *g = ck->g;
	int stop = ck->stop && !ck->rc;

	thread_join(ck->thread); /* it returns once its call is answered */
	ep_dissolve(g->env->ep, &ck->obj);
	free(ck);
	group_checkpoint_done(g); /* the members are paused: g stays */
	if (stop)
		group_stop(g);
}

/* The answer, if a request asked (not for the group's <test>). */
#define ck_answer(ck, ...)                                                               \
	do {                                                                             \
		if ((ck)->mb)                                                            \
			control_done((ck)->mb, __VA_ARGS__);                             \
	} while (0)

/* On the main entrypoint, every member paused by the cut (or the cut
 * failed, rc): checkpoint each, list the caps between them, resume. */
static void ck_finish(struct group_ck *ck)
{
	struct mon_group *g = ck->g;
	struct mon_model *models[MON_GROUP_MAX] = {0};
	struct group_cap *t = calloc(GROUP_MAX_CAPS, sizeof *t);
	struct group_image gi = {0};
	struct stat st = {0};
	char ended[32];
	uint64_t paused;
	unsigned n;
	int resumed;

	/* (the cut succeeded, but the last member may have ended meanwhile) */
	if (!ck->rc && (ck->rc = t ? cuttable(g, ck->why, sizeof ck->why) : -ENOMEM)) {
		if (!t)
			snprintf(ck->why, sizeof ck->why, "out of memory");
		group_resume(g);
	}
	if (ck->rc || (ck->rc = members_checkpoint(g, models, ck->why, sizeof ck->why))) {
		env_log(g->env, "monitor: group checkpoint failed: %s", ck->why);
		ck_answer(ck, "error: %s: %s", ck->name, ck->why);
		models_free(models, g->n);
		free(t);
		return;
	}
	n = group_cap_table(g, models, t, GROUP_MAX_CAPS);
	log_table(g, t, n);
	ck->rc = group_image_records(g, models, t, n, &gi, ck->why, sizeof ck->why);
	resumed = (!ck->stop && !ck->hold) || ck->rc;
	if (resumed)
		group_resume(g);
	paused = mon_now_us() - ck->t0;
	free(t);
	if (!ck->rc)
		ck->rc = group_image_write(g, ck->name, ck->path, models, &gi, paused,
					   ck->why, sizeof ck->why);
	models_free(models, g->n);
	group_image_release(&gi);
	if (ck->rc) {
		env_log(g->env, "monitor: group checkpoint failed: %s", ck->why);
		ck_answer(ck, "error: %s: %s", ck->name, ck->why);
		if (!resumed) /* the test or freeze failed: they go on */
			group_resume(g);
		return;
	}
	stat(ck->path, &st);
	if (ck->hold) /* before the answer: until group_thaw or group_release */
		g->frozen = 1;
	snprintf(ended, sizeof ended, " (%d ended before)", g->nended);
	env_log(g->env,
		"monitor: group image: %d members paused together %llu us%s, %u caps "
		"between members, %lld bytes written to %s",
		g->n - g->nended, (unsigned long long)paused, g->nended ? ended : "", n,
		(long long)st.st_size, ck->path);
	ck_answer(ck,
		  "ok %s %s: members %s, paused %.1f ms, %u caps between members, "
		  "image %lld bytes",
		  ck->name, ck->path, ck->members, paused / 1000.0, n,
		  (long long)st.st_size);
}

static void ck_dispatch(struct rpc_object *obj, struct msg *m)
{
	struct group_ck *ck = container_of(obj, struct group_ck, obj);

	ck_finish(ck);
	msg_reset(m, RPC_OK);
	ep_defer(ck->g->env->ep, ck_free, ck);
}

static void cut_main(void *arg)
{
	struct group_ck *ck = arg;
	struct msg m;

	ck->t0 = mon_now_us();
	ck->rc = group_cut(ck->g, ck->prepaused, ck->why, sizeof ck->why);
	msg_reset(&m, 1);
	rpc_call(ck->cap, &m);
}

/* Start the cut for a request (mb) or the group's <test> (mb NULL). */
static void ck_start(struct mon_group *g, struct control_mailbox *mb, const char *name,
		     const char *path, const char *members, int stop, int hold)
{
	char why[160] = "busy";
	struct group_ck *ck =
	    cuttable(g, why, sizeof why) || g->ck ? NULL : calloc(1, sizeof *ck);
	int prepaused;

	if (!ck) {
		group_answer(g, mb, "group test checkpoint", "error: %s: %s", name, why);
		if (stop && !mb) /* group_pause_all paused them for it */
			group_resume(g);
		return;
	}
	ck->g = g;
	ck->mb = mb;
	ck->stop = stop;
	ck->hold = hold;
	/* the <test>'s stop (group_pause_all paused them), or members its
	 * then="hold" paused (which ends that hold: the cut resumes them if
	 * it fails); a request's --stop finds them running */
	ck->prepaused = (stop && !mb) || g->test_held;
	g->test_held = 0;
	snprintf(ck->name, sizeof ck->name, "%s", name);
	snprintf(ck->members, sizeof ck->members, "%s", members);
	snprintf(ck->path, sizeof ck->path, "%s", path);
	prepaused = ck->prepaused;
	ck->cap = ep_manage(g->env->ep, &ck->obj, ck_dispatch);
	if (!cap_valid(ck->cap) ||
	    thread_create(g->env, "monitor-group-cut", cut_main, ck, 0, &ck->thread)) {
		if (cap_valid(ck->cap))
			ep_dissolve(g->env->ep, &ck->obj);
		free(ck);
		group_answer(g, mb, "group test checkpoint",
			     "error: %s: cannot start the group's cut", name);
		if (prepaused)
			group_resume(g);
		return;
	}
	g->ck = ck;
	if (mb)
		control_answer_later(mb);
}

void group_checkpoint(struct mon_group *g, struct control_mailbox *mb, const char *name,
		      const char *path, const char *members, int stop)
{
	ck_start(g, mb, name, path, members, stop, 0);
}

void group_checkpoint_hold(struct mon_group *g, struct control_mailbox *mb,
			   const char *name, const char *path, const char *members)
{
	ck_start(g, mb, name, path, members, 0, 1);
}

void group_checkpoint_test(struct mon_group *g, const char *path, int stop)
{
	char members[160];

	group_members_word(g, members, sizeof members);
	ck_start(g, NULL, "test", path, members, stop, 0);
}
