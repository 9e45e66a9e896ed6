/*
 * The monitor component: its config, its construction (control object,
 * target, test trigger) and its end when the target ends; the requests of
 * its control endpoint are served by control_plane.c.
 *
 *   <config>
 *     <target binary="counter" ram="1M" caps="100"/>
 *     <test checkpoint_after_ms="30" restore="none|same-node" [image="FILE"]
 *           [then="exit"] [checkpoint_every_ms="MS" restore_every="N"]/>
 *     (or checkpoint_after_log="N": after the target's Nth LOG line;
 *     then="hold": the target stays paused there until a migration)
 *   </config>
 *   or <config><restore [image="/abs/FILE"]/></config>: an empty monitor
 *   that restores FILE at start, or waits for the control plane's restore
 *   (docs/cr.md).  The monitor registers control endpoint NAME (its
 *   <start> name) for `capsule checkpoint` / `capsule restore` and the
 *   steps of `capsule migrate` (freeze, thaw, release).
 *
 * The <test> element is a hook for scenario tests until the control
 * socket exists: after the given time a trigger thread asks the control
 * object for a checkpoint (run on the entrypoint, between the target's
 * requests), then for a resume or a restore; with image="FILE" the
 * restore goes through an image file: checkpoint -> FILE -> read back ->
 * restore from what was read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libxml/tree.h>
#include <base/host_worker.h>
#include <base/thread.h>

#include <capsule/control.h>

#include "config/config.h"
#include "monitor/checkpoint.h"
#include "monitor/dirty_pages.h"
#include "monitor/frozen_memory.h"
#include "monitor/group.h"
#include "monitor/monitor.h"
#include "monitor/image_convert.h"
#include "monitor/lazy_fill.h"
#include "monitor/pause_retry.h"

#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

enum mon_control_op { MON_CONTROL_TEST = 1 };

void monitor_test_image_path(const char *image, char *path, size_t size)
{
	const char *pid = strstr(image, "%p");

	if (pid)
		snprintf(path, size, "%.*s%ld%s", (int)(pid - image), image,
			 (long)getpid(), pid + 2);
	else
		snprintf(path, size, "%s", image);
}

/* Replace model by what an image file of it reads back as. */
static int through_image(struct monitor *mon, struct mon_model *model)
{
	struct image_model im, *back = NULL;
	struct image_stats st;
	char err[256] = "", path[300];
	int rc = model_to_image(mon, model, &im);

	monitor_test_image_path(mon->cfg.image, path, sizeof path);

	if (rc) {
		env_log(mon->env, "monitor: image: cannot convert: %s", strerror(-rc));
		goto out;
	}
	rc = image_write(path, &im, &st, err, sizeof err);
	image_model_release(&im);
	if (!rc)
		rc = image_read(path, &back, err, sizeof err);
	if (rc) {
		env_log(mon->env, "monitor: image: %s", err);
		goto out;
	}
	model_free(model);
	if (!(rc = image_to_model(back, mon, model)) &&
	    (rc = image_model_copy_memory(back, model)))
		model_free(model);
	image_model_free(back);
	if (rc) {
		env_log(mon->env, "monitor: image: cannot use what was read: %s",
			strerror(-rc));
		goto out;
	}
	env_log(mon->env, "monitor: image: %llu bytes written, read back: %u caps",
		(unsigned long long)st.image_bytes, model->ncaps);
	unlink(path);
	return 0;
out:
	unlink(path);
	monitor_resume(mon);
	return rc;
}

static void end_deferred(void *arg)
{
	struct monitor *mon = arg;

	monitor_target_ended(mon, mon->exit_code);
}

void monitor_target_ends(struct monitor *mon, int code)
{
	mon->state = MON_EXITED;
	mon->exit_code = code;
	/* a group member's exit comes to the group's entrypoint, which runs
	 * what it defers (the main one may wait for a request long) */
	ep_defer(mon->group ? group_ep(mon) : mon->env->ep, end_deferred, mon);
}

void monitor_stop_deferred(void *arg)
{
	struct monitor *mon = arg;

	env_log(mon->env, "monitor: target stopped after its image was written");
	mon->state = MON_EXITED;
	monitor_target_ended(mon, 0);
}

/* The test hook: checkpoint, then resume or restore, per <test>; with
 * then="exit" the checkpoint goes to the image file and the target is
 * stopped there (it goes on in the node that restores the file). */
static int control_test_once(struct monitor *mon)
{
	struct mon_model *model;
	int rc, restore;

	if (lazy_fill_busy(mon)) { /* what it would copy is not all there yet */
		env_log(mon->env, "monitor: checkpoint refused: the lazy restore is "
				  "still filling its memory");
		return -EBUSY;
	}
	if (mon->cfg.then_exit) {
		if ((rc = monitor_checkpoint_image(mon, mon->cfg.image, 1, NULL)))
			return rc;
		ep_defer(mon->env->ep, monitor_stop_deferred, mon);
		return 0;
	}
	/* then="hold": paused at once, where its Nth line left it, not at
	 * the checkpoint's pause, which follows the making of its buffers (a
	 * niced host job): on a loaded host the target ran on meanwhile
	 * through its next count into that count's LOG call, was held in it,
	 * and a post-copy destination made the call (tests/migrate/postcopy.sh) */
	if (mon->cfg.then_hold && (rc = monitor_pause_now(mon)))
		return rc;
	model = calloc(1, sizeof *model);
	if (!model) {
		if (mon->cfg.then_hold)
			monitor_resume(mon);
		return -ENOMEM;
	}
	rc = monitor_checkpoint(mon, model);
	if (!rc && mon->cfg.then_hold) { /* paused: a migration's freeze takes it */
		mon->hold = 1;
		env_log(mon->env, "monitor: target held for a migration");
		model_free(model);
		free(model);
		return 0;
	}
	/* restore_every="N": only every Nth checkpoint is restored */
	restore =
	    mon->cfg.restore == MON_RESTORE_SAME_NODE &&
	    (!mon->cfg.restore_every || mon->checkpoints % mon->cfg.restore_every == 0);
	if (!rc && restore && mon->cfg.image[0])
		rc = through_image(mon, model);
	if (!rc && restore) {
		model->data_given = 1; /* freed below: the restore may take its pages */
		mon->restoring = 1;    /* served calls that fail wait for it (proxy.c) */
		rc = monitor_restore(mon, model); /* verified before its commit */
		mon->restoring = 0;
		if (!rc)
			monitor_restore_start(mon, model);
	} else if (!rc) {
		monitor_resume(mon);
	}
	model_free(model);
	free(model);
	return rc;
}

static void test_again(struct monitor *mon, void *arg)
{
	monitor_test_now(mon);
}

/* The test hook, run again from the entrypoint if its pause could not
 * settle here (pause_retry.c); a test asked for while one waits for its
 * retry is that one. */
static int control_test(struct monitor *mon)
{
	int rc;

	if (pause_retry_pending(mon))
		return 0;
	mon->pause_retry = 1;
	rc = control_test_once(mon);
	mon->pause_retry = 0;
	if (rc && mon->pause_deferred && !(rc = pause_retry_later(mon, test_again, NULL)))
		mon->pause_deferred = 0;
	return rc;
}

static void control_dispatch(struct rpc_object *obj, struct msg *m)
{
	struct monitor *mon = container_of(obj, struct monitor, control_obj);
	int rc;

	if (m->code != MON_CONTROL_TEST)
		return msg_reset(m, RPC_INVALID_OPCODE);
	if (mon->state != MON_RUNNING)
		return mon_reply_err(m, -ESRCH);
	rc = control_test(mon);
	if (rc)
		return mon_reply_err(m, rc);
	msg_reset(m, RPC_OK);
}

void monitor_test_now(struct monitor *mon)
{
	int rc;

	if (mon->state != MON_RUNNING)
		return;
	if ((rc = control_test(mon)))
		env_log(mon->env, "monitor: test checkpoint: %s",
			rc == -EDQUOT ? "refused for quota (which one: the line before)"
				      : strerror(-rc));
}

/* The trigger thread: sleep, then ask the entrypoint for the test. */
static void trigger_main(void *arg)
{
	struct monitor *mon = arg;
	uint64_t label;
	struct msg m;

	do {
		sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0),
			   mon->cfg.checkpoint_after_ms * 1000, &label);
		__atomic_store_n(&mon->trigger_calling, 1, __ATOMIC_SEQ_CST);
		msg_reset(&m, MON_CONTROL_TEST);
		/* checkpoint_every_ms: again, until the target is gone (its
		 * control object dissolved, or -ESRCH: not running) */
	} while (mon->cfg.checkpoint_every_ms && !rpc_call(mon->control, &m) &&
		 m.code != RPC_INVALID_OBJECT &&
		 !(m.code == RPC_ERROR && m.nwords && (int64_t)m.w[0] == -ESRCH));
	if (!mon->cfg.checkpoint_every_ms)
		rpc_call(mon->control, &m);
}

void monitor_target_ended(struct monitor *mon, int code)
{
	/* an image write still running ends first (and is answered) */
	host_worker_close(mon->env, mon->worker);
	mon->worker = NULL;
	env_log(mon->env, "monitor: target exited with %d after %llu checkpoint(s)", code,
		(unsigned long long)mon->checkpoints);
	/* The target's threads go first: a client's call the serving
	 * entrypoint forwarded to the (ended) target then fails instead of
	 * waiting for it forever.  Then the serving entrypoint sends its last
	 * reply (the target's last answer to a client) and stops: it takes
	 * the exit request only after that. */
	incr_forget(mon);
	frozen_mem_end(mon);
	target_close_session(mon, &mon->cpu);
	lazy_fill_free(mon);
	if (mon->serve_ep) {
		struct msg m;
		msg_reset(&m, 0);
		rpc_call(ep_exit_cap(mon->serve_ep), &m);
	}
	target_destroy(mon);
	if (mon->group) /* the group ends when its last member has */
		return group_member_ended(mon, code);
	/* the control object first: a test trigger still asleep then finds
	 * it gone instead of waiting for this entrypoint, which joins it */
	if (mon->control_obj.cap.idx)
		ep_dissolve(mon->env->ep, &mon->control_obj);
	/* a trigger whose call is queued at this entrypoint already would
	 * wait for it forever: it ends with the component instead */
	if (mon->trigger && !__atomic_load_n(&mon->trigger_calling, __ATOMIC_SEQ_CST)) {
		thread_join(mon->trigger);
		mon->trigger = NULL;
	}
	pause_retry_flush(mon); /* its client is answered before the endpoint goes */
	/* leave the control plane: a later `capsule checkpoint` of this name
	 * is told there is no such monitor, not that a dead one is silent */
	control_endpoint_close(mon->env, mon->endpoint);
	mon->endpoint = NULL;
	parent_exit(mon->env->parent, code);
}

void monitor_construct(struct env *env, void *arg)
{
	struct monitor *mon = calloc(1, sizeof *mon);
	int rc;

	if (!mon) {
		env_log(env, "monitor: out of memory");
		parent_exit(env->parent, 2);
		return;
	}
	if (((const struct monitor_config *)arg)->group) {
		free(mon);
		group_construct(env, arg);
		return;
	}
	mon->env = env;
	mon->cfg = *(const struct monitor_config *)arg;
	mon->control = ep_manage(env->ep, &mon->control_obj, control_dispatch);
	if (!cap_valid(mon->control)) {
		env_log(env, "monitor: no control object");
		parent_exit(env->parent, 2);
		return;
	}
	if ((rc = host_worker_open(env, env->ep, &mon->worker)))
		env_log(env,
			"monitor: no host worker (%s): checkpoints copy and write on "
			"the node's thread",
			strerror(-rc));
	if (mon->cfg.restore_image[0]) {
		if ((rc = monitor_restore_image(mon, mon->cfg.restore_image, 0))) {
			parent_exit(env->parent, 2);
			return;
		}
	} else if (!mon->cfg.binary[0]) {
		env_log(env, "monitor: no target: waiting for a restore");
	} else if ((rc = target_start(mon))) {
		parent_exit(env->parent, 2);
		return;
	}
	if ((rc = pause_retry_init(mon)))
		env_log(env,
			"monitor: no retry context (%s): a checkpoint's pause waits on "
			"the entrypoint",
			strerror(-rc));
	monitor_control_open(mon);
	if (mon->cfg.checkpoint_after_ms &&
	    (rc =
		 thread_create(env, "monitor-test", trigger_main, mon, 0, &mon->trigger)))
		env_log(env, "monitor: no test trigger: %s", strerror(-rc));
}
