/*
 * The monitor's control plane (`capsule checkpoint`, `restore`, the
 * steps of `capsule migrate`, `capsule ps`): the requests that reach its
 * control endpoint, served on the entrypoint between the target's own
 * requests, and the lines it answers them with (progress, figures, one
 * line naming what went wrong and what to do about it).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <base/thread.h>

#include <capsule/control.h>

#include "monitor/checkpoint.h"
#include "monitor/dirty_pages.h"
#include "monitor/frozen_memory.h"
#include "monitor/monitor.h"
#include "monitor/lazy_fill.h"
#include "monitor/pause_retry.h"
#include "monitor/restore_prebuild.h"

static void release_deferred(void *arg)
{
	struct monitor *mon = arg;

	env_log(mon->env, "monitor: target released: it runs on at the migration's "
			  "destination");
	mon->state = MON_EXITED;
	monitor_target_ended(mon, 0);
}

/* The migration ops (tools/migrate_send.c): freeze = checkpoint to a
 * file (with a parent: the pages written since, the last pre-copy round)
 * and stay paused; then thaw (resume: the migration failed) or release
 * (end: the destination runs it).  At a destination, a restore kept
 * paused is frozen too: thaw is the commit that starts it, release ends
 * it.  0 or -errno. */
static int control_migration(struct monitor *mon, const struct control_request *req)
{
	struct incr_request incr = {.parent = req->parent, .track = 1, .spool = 1};
	int rc;

	if (req->op == CONTROL_FREEZE && (req->flags & CONTROL_F_WARM)) {
		if (mon->frozen)
			return -EBUSY;
		incr_warm_freeze(mon); /* the freeze comes next: nothing paused */
		return 0;
	}
	if (req->op == CONTROL_FREEZE) {
		int state = req->flags & CONTROL_F_STATE ? MON_CKPT_STATE : 0;
		if (mon->frozen)
			return -EBUSY;
		mon->hold = 0; /* frozen from here on: the migration decides */
		/* the image is the migration's spool file (tools/migrate_send.c);
		 * a post-copy source's has no page: the migration reads them
		 * in place (frozen_memory.h) */
		rc = monitor_checkpoint_image(mon, req->path,
					      MON_CKPT_PAUSED | MON_CKPT_SPOOL | state,
					      req->parent[0] ? &incr : NULL);
		if (!rc && state && (rc = frozen_mem_publish(mon, req->name)))
			monitor_resume(mon);
		if (rc)
			frozen_mem_end(mon);
		else
			mon->frozen = 1;
		return rc;
	}
	if (req->op == CONTROL_RELEASE && mon->prebuild && !mon->frozen) {
		prebuild_end(mon, "the migration ended before its final image");
		return 0;
	}
	if (!mon->frozen)
		return -EINVAL;
	mon->frozen = 0;
	frozen_mem_end(mon); /* no page is read once it may change */
	if (req->op == CONTROL_THAW && mon->nheld) {
		env_log(mon->env, "monitor: target started: the migration committed");
		monitor_restore_held_start(mon);
	} else if (req->op == CONTROL_THAW) {
		env_log(mon->env, "monitor: target resumed: the migration failed");
		monitor_resume(mon);
	} else {
		mon->nheld = 0;
		mon->state = MON_EXITED; /* no request takes it any more */
		ep_defer(mon->env->ep, release_deferred, mon);
	}
	return 0;
}

/* A "progress: ..." line for the client of the request being served. */
void monitor_progress(struct monitor *mon, const char *fmt, ...)
{
	char line[200];
	va_list ap;

	if (!mon->endpoint)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	control_meter_start(mon->endpoint, 0); /* a new phase: no bytes yet */
	control_reply(mon->endpoint, "progress: %s", line);
}

void monitor_meter_start(struct monitor *mon, uint64_t total)
{
	control_meter_start(mon->endpoint, total);
}

void monitor_meter_add(void *mon, uint64_t bytes)
{
	control_meter_add(((struct monitor *)mon)->endpoint, bytes);
}

/* The monitor's state in one word for `capsule ps`. */
static const char *monitor_state_word(const struct monitor *mon)
{
	if (mon->frozen)
		return "frozen";
	if (mon->prebuild)
		return "building";
	if (mon->state == MON_RUNNING)
		return "running";
	if (mon->state == MON_EXITED)
		return "ended";
	return "empty";
}

void monitor_why(struct monitor *mon, const char *fmt, ...)
{
	char line[sizeof mon->why];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	env_log(mon->env, "monitor: %s", line);
	if (!mon->why[0])
		snprintf(mon->why, sizeof mon->why, "%s", line);
}

/* The client's line for a failed request: the reason logged first, and
 * for the errors that have one, what to do about it. */
static void control_failed(struct control_mailbox *mb, struct monitor *mon,
			   const char *name, int rc)
{
	const char *hint = "";
	char quota[200] = "";

	if (rc == -ECANCELED) {
		control_done(mb, "error: %s: cancelled; it runs on, no image written",
			     name);
		return;
	}
	if (rc == -ESRCH)
		hint = "its target is not running (restore an image into it first)";
	else if (rc == -EBUSY && mon->frozen)
		hint = "a migration holds it paused; retry when it is over";
	else if (rc == -EDQUOT) /* opening the target's PD or CPU at our parent */
		snprintf(
		    quota, sizeof quota,
		    "; the target needs %llu KiB of RAM and %llu caps, more than this "
		    "monitor has: raise the RAM quantum and caps of its <start>",
		    (unsigned long long)(mon->cfg.ram >> 10),
		    (unsigned long long)mon->cfg.caps);
	if (!mon->why[0] && hint[0])
		control_done(mb, "error: %s: %s", name, hint);
	else if (!mon->why[0])
		control_done(mb, "error: %s: %s%s (see the node's log)", name,
			     strerror(-rc), quota);
	else
		control_done(mb, "error: %s: %s%s", name, mon->why, quota);
}

/* A checkpoint request's answer, once its image is written. */
struct checkpoint_answer {
	struct control_mailbox *mb;
	char name[CONTROL_NAME_MAX];
	char path[CONTROL_PATH_MAX];
	int stop;
};

static void checkpoint_answered(struct monitor *mon, int rc,
				const struct mon_ckpt_figures *f, void *arg)
{
	struct checkpoint_answer *a = arg;

	if (rc) {
		control_failed(a->mb, mon, a->name, rc);
		free(a);
		return;
	}
	control_reply(a->mb,
		      "info: checkpoint %s: total %llu us, paused %llu us, %llu bytes, "
		      "%llu pages, image %llu bytes",
		      a->name, (unsigned long long)f->total_us,
		      (unsigned long long)f->paused_us, (unsigned long long)f->bytes,
		      (unsigned long long)f->pages, (unsigned long long)f->image_bytes);
	control_done(a->mb,
		     "ok %s %s: paused %.1f ms, image %llu bytes, %llu pages, %u caps, "
		     "%u threads",
		     a->name, a->path, f->paused_us / 1000.0,
		     (unsigned long long)f->image_bytes, (unsigned long long)f->pages,
		     f->caps, f->threads);
	if (a->stop && mon->state == MON_RUNNING) { /* --stop: it ends here */
		mon->state = MON_EXITED;	    /* no request takes it any more */
		ep_defer(mon->env->ep, monitor_stop_deferred, mon);
	}
	free(a);
}

/* `capsule checkpoint`: the image (incremental with a parent), answered
 * once it is written (the entrypoint serves the target meanwhile); the
 * target runs on and its writes are tracked from this snapshot (the
 * parent of a next --parent), or with --stop it stays paused and ends
 * once the image is written.  0 or -errno (answered by the caller). */
static int control_checkpoint(struct monitor *mon, struct control_mailbox *mb,
			      const struct control_request *req)
{
	int stop = !!(req->flags & CONTROL_F_STOP);
	int state = req->flags & CONTROL_F_STATE ? MON_CKPT_STATE : 0;
	struct incr_request incr = {.parent = req->parent[0] ? req->parent : NULL,
				    .track = !stop,
				    .spool = !!(req->flags & CONTROL_F_SPOOL)};
	struct checkpoint_answer *a;
	int rc;

	if (mon->frozen)
		return -EBUSY;
	if (!(a = calloc(1, sizeof *a)))
		return -ENOMEM;
	a->mb = mb;
	a->stop = stop;
	snprintf(a->name, sizeof a->name, "%s", req->name);
	snprintf(a->path, sizeof a->path, "%s", req->path);
	control_answer_later(mb);
	if ((rc = monitor_checkpoint_image_start(
		 mon, req->path,
		 stop | state | (req->flags & CONTROL_F_SPOOL ? MON_CKPT_SPOOL : 0),
		 state ? NULL : &incr, checkpoint_answered, a)))
		free(a);
	return rc;
}

static void control_request(struct control_mailbox *mb, const struct control_request *req,
			    void *arg);

/* A request whose pause did not settle, to be run again (pause_retry.c). */
struct request_retry {
	struct control_mailbox *mb;
	struct control_request req;
};

static void request_again(struct monitor *mon, void *arg)
{
	struct request_retry *r = arg;

	if (control_cancelled(r->mb))
		control_done(r->mb, "error: %s: cancelled; it runs on, no image written",
			     r->req.name);
	else
		control_request(r->mb, &r->req, mon);
	free(r);
}

/* The pause of req's checkpoint gave up to let the entrypoint serve the
 * target: answer later, after the retry.  0, or -errno (not retried). */
static int request_retry(struct monitor *mon, struct control_mailbox *mb,
			 const struct control_request *req)
{
	struct request_retry *r = malloc(sizeof *r);
	int rc;

	mon->pause_deferred = 0;
	if (!r)
		return -ENOMEM;
	r->mb = mb;
	r->req = *req;
	if ((rc = pause_retry_later(mon, request_again, r))) {
		free(r);
		return rc;
	}
	control_answer_later(mb);
	return 0;
}

/* A request of the control plane (capsule node --control), on the
 * entrypoint: checkpoint to a file (the target runs on), restore a
 * file into this monitor if it has no target, or a migration step. */
static void control_request(struct control_mailbox *mb, const struct control_request *req,
			    void *arg)
{
	struct monitor *mon = arg;
	int rc = -EOPNOTSUPP;

	mon->why[0] = 0;
	mon->done_note[0] = 0;
	if (req->op == CONTROL_STATUS) {
		control_done(mb,
			     "ok %s state=%s target=%s checkpoints=%llu restores=%llu",
			     req->name, monitor_state_word(mon),
			     mon->cfg.binary[0] ? mon->cfg.binary : "-",
			     (unsigned long long)mon->checkpoints,
			     (unsigned long long)mon->restores);
		return;
	}
	if ((req->op & (CONTROL_CHECKPOINT | CONTROL_FREEZE)) && lazy_fill_busy(mon)) {
		uint64_t done, total;
		lazy_fill_progress(mon, &done, &total);
		control_done(
		    mb,
		    "error: %s: its memory is still being restored (%llu of %llu "
		    "pages): checkpoint it when that is done",
		    req->name, (unsigned long long)done, (unsigned long long)total);
		return;
	}
	/* a checkpoint's or freeze's pause may go back to serving */
	mon->pause_retry = !!(req->op & (CONTROL_CHECKPOINT | CONTROL_FREEZE));
	if (req->op == CONTROL_CHECKPOINT) {
		rc = control_checkpoint(mon, mb, req);
		mon->pause_retry = 0;
		if (!rc || (mon->pause_deferred && !(rc = request_retry(mon, mb, req))))
			return; /* answered when the image is written */
	} else if (req->op == CONTROL_RESTORE) {
		mon->restore_postcopy = !!(req->flags & CONTROL_F_POSTCOPY);
		mon->restore_lazy =
		    !!(req->flags & (CONTROL_F_LAZY | CONTROL_F_POSTCOPY));
		rc = monitor_restore_image(mon, req->path,
					   !!(req->flags & CONTROL_F_PAUSED));
		mon->restore_lazy = mon->restore_postcopy = 0;
	} else if (req->op & (CONTROL_FREEZE | CONTROL_THAW | CONTROL_RELEASE)) {
		rc = control_migration(mon, req);
		mon->pause_retry = 0;
		if (rc && mon->pause_deferred && !(rc = request_retry(mon, mb, req)))
			return; /* the freeze is tried again */
	} else if (req->op == CONTROL_PREBUILD) {
		rc = prebuild_round(mon, req->path);
	}
	mon->pause_retry = 0;
	if (rc && req->op == CONTROL_RESTORE && control_cancelled(mb))
		control_done(mb,
			     "error: %s: restore cancelled; what was built of it is "
			     "undone, the monitor has no target",
			     req->name);
	else if (rc)
		control_failed(mb, mon, req->name, rc);
	else
		control_done(mb, "ok %s %s%s", req->name, req->path, mon->done_note);
	/* a migration's restore onto its copy: its end after the next answer,
	 * the commit's (THAW), so that it is in neither "ready" nor "started" */
	if (mon->after.later && mon->after.answers++)
		monitor_restore_after(mon);
}

/* The endpoint's name: the last element of the label ("init -> x"). */
void monitor_control_open(struct monitor *mon)
{
	const char *label = mon->env->label ? mon->env->label : "monitor";
	const char *name = strrchr(label, '>');

	name = name ? name + 1 : label;
	while (*name == ' ')
		name++;
	if (control_endpoint_open(mon->env, name,
				  CONTROL_CHECKPOINT | CONTROL_RESTORE | CONTROL_FREEZE |
				      CONTROL_THAW | CONTROL_RELEASE | CONTROL_PREBUILD |
				      CONTROL_STATUS,
				  control_request, mon, &mon->endpoint))
		env_log(mon->env, "monitor: no control endpoint '%s'", name);
}
