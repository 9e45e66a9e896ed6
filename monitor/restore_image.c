/*
 * Restore from an image file in a monitor that has no target (another
 * node process, or the same one): the image names sessions by the badges
 * the checkpointing monitor's proxies had, so this monitor first opens
 * the target's sessions at its own parent with the recorded args and
 * makes its own proxies for them (PD and CPU proxies get their real
 * sessions from the restore itself), then seeds the restore's badge map
 * with old session badge -> new proxy badge.  Everything else (threads at
 * their numbers, dataspaces at their addresses, gates, signal objects,
 * every cap at its kcap, the cap map and object pool) is
 * monitor_restore's work.  Before anything is opened, the image is
 * checked for what this monitor cannot recreate (restore_check.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <capsule/control.h>
#include "image/group.h"
#include "image/image.h"
#include "monitor/dirty_pages.h"
#include "monitor/group.h"
#include "monitor/image_convert.h"
#include "monitor/lazy_fill.h"
#include "monitor/page_channel.h"
#include "monitor/postcopy_pages.h"
#include "monitor/restore.h"
#include "monitor/restore_prebuild.h"
#include "monitor/target_report.h"
#include "monitor/verify.h"

/* A session routed outside, opened again with its recorded args (a
 * Timer behind a new proxy with its recorded state, an RM session behind
 * a new proxy: its maps are made again by the restore).  A service that
 * is declared but not announced yet is asked again until OUTSIDE_WAIT_US
 * of host time have passed, then the restore gives up naming it. */
#define OUTSIDE_WAIT_US 1000000ULL

static uint64_t host_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static const struct image_timer *timer_of(const struct image_model *im, uint64_t id)
{
	for (uint32_t i = 0; i < im->ntimers; i++)
		if (im->timers[i].session == id)
			return &im->timers[i];
	return NULL;
}

static int open_outside(struct monitor *mon, const struct image_model *im,
			const struct image_session *s, struct badge_map *seed)
{
	const char *service = s->type == IMAGE_SESSION_TIMER ? "Timer"
			      : s->type == IMAGE_SESSION_RM  ? "RM"
							     : s->service;
	struct mon_record *r;
	struct proxy *p;
	cap_t c, t;
	int rc;

	/* the server may not have announced its service yet (a node that
	 * starts it after the monitor): ask again, for a bounded time */
	uint64_t until = host_us() + OUTSIDE_WAIT_US;
	while ((rc = prebuild_session(mon, service, s->args, &c)) == -EAGAIN &&
	       host_us() < until) {
		uint64_t label;
		sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), 1000, &label);
	}
	if (rc == -EAGAIN) {
		monitor_why(mon,
			    "restore: service '%s' is declared but was not "
			    "announced within %llu ms: giving up",
			    service, OUTSIDE_WAIT_US / 1000);
		return -ETIMEDOUT;
	}
	if (rc) {
		monitor_why(mon, "restore: cannot open its '%s' session again: %s",
			    service, strerror(-rc));
		return rc;
	}
	r = record_add(mon, MON_CLASS_ROUTED, c, 0);
	record_hold(mon, c, service);
	if (!r)
		return -ENOSPC;
	snprintf(record_text(mon, r)->what, MON_NAME_MAX, "%s", service);
	snprintf(record_text(mon, r)->args, MON_ARGS_MAX, "%s", s->args);
	if (s->type != IMAGE_SESSION_TIMER && s->type != IMAGE_SESSION_RM)
		return badge_map_add(seed, s->id, cap_badge(c));
	t = proxy_new(mon,
		      s->type == IMAGE_SESSION_RM ? &rm_proxy_type : &timer_proxy_type,
		      cap_ref(c), &p);
	if (!cap_valid(t))
		return -ENOSPC;
	if (s->type == IMAGE_SESSION_TIMER) { /* the reader saw to its record */
		const struct image_timer *tm = timer_of(im, s->id);
		if ((rc = tm ? timer_state_load(p, tm) : -EINVAL))
			return rc;
	}
	return badge_map_add(seed, s->id, cap_badge(t));
}

static int open_sessions(struct monitor *mon, const struct image_model *im,
			 struct badge_map *seed)
{
	char rom_args[MON_ARGS_MAX], log_args[MON_ARGS_MAX] = "ram_quota=0";
	int rc;

	/* a group's member: labelled with its name, as target.c opens them */
	if (mon->group)
		snprintf(log_args, sizeof log_args, "ram_quota=0, label=\"%s\"",
			 group_member_name(mon));
	snprintf(rom_args, sizeof rom_args, "label=\"%s%s%s\"",
		 mon->group ? group_member_name(mon) : "", mon->group ? " -> " : "",
		 mon->cfg.binary);
	if ((rc = restore_point(mon, "LOG and ROM sessions")) ||
	    (rc = prebuild_session(mon, "LOG", log_args, &mon->log)) ||
	    (rc = prebuild_session(mon, "ROM", rom_args, &mon->rom)))
		return rc;
	if (!cap_valid(proxy_new(mon, &pd_proxy_type, CAP_INVALID, &mon->pd_proxy)) ||
	    !cap_valid(proxy_new(mon, &cpu_proxy_type, CAP_INVALID, &mon->cpu_proxy)) ||
	    !cap_valid(
		proxy_new(mon, &log_proxy_type, cap_ref(mon->log), &mon->log_proxy)) ||
	    !cap_valid(
		proxy_new(mon, &rom_proxy_type, cap_ref(mon->rom), &mon->rom_proxy)))
		return -ENOSPC;
	/* a group's members' parent interfaces run on the group's entrypoint */
	if (!cap_valid(ep_manage(mon->group ? group_ep(mon) : mon->env->ep,
				 &mon->parent_obj, parent_proxy_dispatch)))
		return -ENOSPC;
	for (uint32_t i = 0; i < im->nsessions && !rc; i++) {
		const struct image_session *s = &im->sessions[i];
		uint64_t nb = 0;

		switch (s->type) {
		case IMAGE_SESSION_PD:
			nb = mon->pd_proxy->obj.badge;
			break;
		case IMAGE_SESSION_CPU:
			nb = mon->cpu_proxy->obj.badge;
			break;
		case IMAGE_SESSION_LOG:
			nb = mon->log_proxy->obj.badge;
			break;
		case IMAGE_SESSION_ROM:
			nb = mon->rom_proxy->obj.badge;
			break;
		case IMAGE_SESSION_PARENT:
			nb = mon->parent_obj.badge;
			break;
		default:
			/* a session at another member: the group's restore
			 * records it with the member's new object */
			if (s->flags & IMAGE_SESSION_F_MEMBER)
				continue;
			if (!(rc = restore_point(mon, "outside session")))
				rc = open_outside(mon, im, s, seed);
			continue;
		}
		rc = badge_map_add(seed, s->id, nb);
	}
	return rc;
}

/* Signal sources (served by new proxies whose real source the restore
 * makes) and the binary's ROM dataspace (fetched again). */
static int open_objects(struct monitor *mon, const struct image_model *im,
			struct badge_map *seed)
{
	int rc = 0;

	for (uint32_t i = 0; i < im->ncaps && !rc; i++) {
		const struct image_cap *c = &im->caps[i];
		struct proxy *p;
		uint64_t size;
		cap_t ds;

		if (badge_map_new(seed, c->badge) != c->badge)
			continue; /* done already */
		if (c->class == IMAGE_CAP_SIGNAL_SOURCE) {
			if (!cap_valid(
				proxy_new(mon, &signal_proxy_type, CAP_INVALID, &p)))
				return -ENOSPC;
			rc = badge_map_add(seed, c->badge, p->obj.badge);
		} else if (c->class == IMAGE_CAP_DATASPACE) {
			uint32_t k = 0;
			while (k < im->ndataspaces && im->dataspaces[k].id != c->obj)
				k++;
			if (k == im->ndataspaces ||
			    im->dataspaces[k].kind != IMAGE_DS_ROM)
				continue;
			if ((rc = restore_point(mon, "ROM dataspace")) ||
			    (rc = prebuild_rom_dataspace(mon, mon->rom, &ds, &size)))
				return rc;
			record_add(mon, MON_CLASS_ROM_DS, ds, size);
			record_hold(mon, ds, "ROM");
			rc = badge_map_add(seed, c->badge, cap_badge(ds));
		}
	}
	return rc;
}

int restore_image_open(struct monitor *mon, const struct image_model *im,
		       struct badge_map *seed)
{
	int rc;

	/* one line: the step that failed names the session when it can */
	if (((rc = open_sessions(mon, im, seed)) || (rc = open_objects(mon, im, seed))) &&
	    !mon->why[0])
		monitor_why(mon, "restore: cannot open the target's sessions: %s",
			    strerror(-rc));
	return rc;
}

/* Bytes of memory the model carries. */
static uint64_t model_bytes(const struct mon_model *model)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < model->nregions; i++)
		n += model->region[i].data || model->region[i].from_src
			 ? model->region[i].size
			 : 0;
	return n;
}

/* The bytes a restore writes into the new dataspaces: a streamed image's
 * chunks with data (image_memory_fill counts them), else the regions. */
static uint64_t fill_bytes(const struct image_model *im, const struct mon_model *model)
{
	uint64_t n = 0;

	if (!im->stream)
		return model_bytes(model);
	for (uint32_t k = 0; k < im->nmemory; k++)
		n += im->memory[k].nonzero_pages * IMAGE_PAGE_SIZE;
	return n;
}

/* The restored threads' start points, for monitor_restore_held_start. */
static void hold_start(struct monitor *mon, const struct mon_model *model)
{
	mon->nheld = 0;
	for (unsigned i = 0; i < model->nthreads && mon->nheld < MON_MAX_THREADS; i++) {
		const struct mon_model_thread *mt = &model->thread[i];
		if (mt->state == TS_INACTIVE || mt->state == TS_DEAD)
			continue;
		mon->held[mon->nheld].nr = mt->nr;
		mon->held[mon->nheld].rip = mt->regs.rip;
		mon->held[mon->nheld++].rsp = mt->regs.rsp;
	}
	mon->frozen = 1;
}

void monitor_restore_held_start(struct monitor *mon)
{
	int rc;

	if ((rc = lazy_fill_start(mon))) {
		env_log(mon->env,
			"monitor: lazy restore failed: cannot start filling: %s",
			strerror(-rc));
		monitor_target_ends(mon, 1); /* it cannot run without its memory */
		return;
	}
	for (unsigned i = 0; i < mon->nheld; i++)
		for (int k = 0; k < MON_MAX_THREADS; k++)
			if (mon->thread[k].used && mon->thread[k].nr == mon->held[i].nr)
				cpu_start(mon->cpu, mon->thread[k].cap, mon->held[i].rip,
					  mon->held[i].rsp);
	mon->nheld = 0;
}

static uint64_t ri_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int restore_image(struct monitor *mon, const char *path, int paused)
{
	/* begun, read, checked, sessions opened, model made, restored */
	uint64_t t[6] = {ri_now_us()};
	/* a prebuilt copy's is touched already (its first touches were
	 * 100-150 us of a migration's stop) */
	struct mon_model *model = prebuild_take_model(mon);
	struct badge_map *seed = calloc(1, sizeof *seed);
	struct image_model *im = NULL;
	struct page_channel *ch = NULL;
	char err[400] = "";
	int rc = -ENOMEM, pre = 0;

	if (!model)
		model = calloc(1, sizeof *model);
	if (!model || !seed)
		goto out;
	if (mon->state == MON_RUNNING || mon->pd_proxy) {
		monitor_why(mon,
			    "restore: this monitor runs '%s' already (a restore needs a "
			    "monitor without a running target: end it, or restore into "
			    "another monitor with capsule restore IMAGE NAME)",
			    mon->cfg.binary);
		rc = -EBUSY;
		goto out;
	}
	if (image_is_group(path)) {
		monitor_why(mon,
			    "restore refused: %s is a group's image: restore it at the "
			    "monitor of a group with its members",
			    path);
		rc = -EINVAL;
		goto out;
	}
	monitor_progress(mon, "reading %s", path);
	/* streamed: the memory stays in the file until it is written into
	 * the new dataspaces; a lazy restore keeps it in memory instead, as
	 * the source its pages are filled from after the commit; an
	 * incremental image brings its chain (image/chain.c), merged into one
	 * full model in memory */
	/* a migration's copy built from its rounds: only this image's pages
	 * are read and written (restore_prebuild.c) */
	if (mon->prebuild && (pre = prebuild_final(mon, path, &im)) < 0) {
		rc = pre;
		goto out;
	}
	/* a post-copy skeleton's pages are in the page channel already
	 * (postcopy_bind): streamed too, no dataspace-sized model is made */
	if (!pre &&
	    (rc = image_read_chain_flags(
		 path,
		 mon->restore_lazy && !mon->restore_postcopy ? 0 : IMAGE_READ_STREAM, &im,
		 err, sizeof err))) {
		monitor_why(mon, "restore refused: %s", err);
		goto out;
	}
	t[1] = ri_now_us();
	if ((rc = restore_image_check(mon, im, path, !pre, err, sizeof err))) {
		monitor_why(mon, "restore refused: %s", err);
		goto out;
	}
	t[2] = ri_now_us();
	if (!(im->flags & IMAGE_F_PARTIAL) != !mon->restore_postcopy) {
		monitor_why(mon,
			    mon->restore_postcopy
				? "restore refused: %s: not a post-copy skeleton"
				: "restore refused: %s: a post-copy skeleton (its pages "
				  "come from a migration's source): it cannot be "
				  "restored from a file",
			    path);
		rc = -EINVAL;
		goto out;
	}
	snprintf(mon->cfg.binary, sizeof mon->cfg.binary, "%s", im->component.binary);
	mon->cfg.ram = im->component.ram_quota;
	mon->cfg.caps = im->component.cap_quota;
	mon->state = MON_RUNNING;
	mon->restore_points = 0;
	if ((rc = restore_image_open(mon, im, seed)))
		goto fail;
	t[3] = ri_now_us();
	if ((rc = image_to_model_zeroed(im, mon, model))) { /* calloc'd or taken */
		monitor_why(mon,
			    "restore refused: %s: the image names what it "
			    "does not contain",
			    path);
		goto fail;
	}
	if (pre)
		prebuild_use(mon, model);
	t[4] = ri_now_us();
	/* lazy: the model holds the memory, the source of the fill after the
	 * commit (and of the fix-ups before it) */
	if (mon->restore_postcopy && (rc = postcopy_bind(mon, model, &ch))) {
		monitor_why(mon, "restore: %s: no source of its pages", path);
		goto fail;
	}
	if (mon->restore_lazy && !ch && (rc = image_model_copy_memory(im, model))) {
		monitor_why(mon, "restore: %s: no copy of its memory: %s", path,
			    strerror(-rc));
		goto fail;
	}
	if ((rc = image_announced(im, mon))) {
		monitor_why(mon, "restore refused: %s: a bad announce note", path);
		goto fail;
	}
	mon->cap_map_addr = model->cap_map_addr;
	mon->cap_map_entries = CAP_SLOTS;
	mon->cr_report_addr = model->report_addr;
	mon->cr_abi_version = model->abi_version;
	/* a post-copy's prebuilt copy made it, with its dataspaces */
	if (mon->restore_lazy && !mon->lazy && (rc = lazy_fill_new(mon)))
		goto fail;
	if (ch) { /* the fill takes our reference */
		lazy_fill_channel(mon, ch);
		ch = NULL;
	}
	env_log(mon->env, "monitor: restoring '%s' from an image of %u threads, %u caps",
		mon->cfg.binary, model->nthreads, model->ncaps);
	monitor_progress(mon, "restoring %u threads, %llu bytes of memory, %u caps",
			 model->nthreads, (unsigned long long)model_bytes(model),
			 model->ncaps);
	snprintf(mon->done_note, sizeof mon->done_note,
		 ": %u threads, %llu bytes of memory, %u caps", model->nthreads,
		 (unsigned long long)model_bytes(model), model->ncaps);
	im->progress = monitor_meter_add; /* the client's progress line */
	im->progress_arg = mon;
	if (!mon->restore_lazy)
		monitor_meter_start(mon, fill_bytes(im, model));
	/* a migration's stop: its end after the commit's answer
	 * (monitor_restore_after) */
	mon->after.later = pre > 0 && paused && !mon->restore_lazy;
	if ((rc = monitor_restore_seeded(mon, model, seed, seed)))
		goto fail; /* verified before its commit: none of it ran */
	t[5] = ri_now_us();
	env_log(
	    mon->env,
	    "monitor: restore of the image (us): read %llu, check %llu, sessions %llu, "
	    "model %llu, restore %llu",
	    (unsigned long long)(t[1] - t[0]), (unsigned long long)(t[2] - t[1]),
	    (unsigned long long)(t[3] - t[2]), (unsigned long long)(t[4] - t[3]),
	    (unsigned long long)(t[5] - t[4]));
	postcopy_restore_wants(mon, model); /* before the target's own */
	if (mon->lazy) {		    /* the fill owns the model from here on */
		/* held (post-copy): the fill's steps begin at the commit */
		if ((rc = lazy_fill_run(mon, model, seed, !paused)))
			monitor_target_ends(mon,
					    1); /* it cannot run without its memory */
		else if (paused) /* a post-copy destination: until the commit */
			hold_start(mon, model);
		else
			monitor_restore_start(mon, model);
		model = NULL;
		goto out;
	}
	if (paused)
		hold_start(mon, model);
	else
		monitor_restore_start(mon, model);
	goto out;
fail:
	lazy_fill_free(mon);
	target_destroy(mon);
	mon->state = MON_STARTING;
	mon->cap_map_addr = 0;
out:
	if (mon->after.later && !rc) { /* freed once the answer is out */
		mon->after = (struct mon_restore_after){.later = 1,
							.rs = mon->after.rs,
							.model = model,
							.seed = seed,
							.im = im};
		return 0;
	}
	if (mon->after.rs) /* committed, then failed: its end now */
		restore_finish(mon->after.rs);
	mon->after = (struct mon_restore_after){0};
	/* what the restore did not take of a prebuilt copy; on a failure the
	 * rollback ended what it took */
	if (pre > 0)
		prebuild_end(mon, rc ? "the restore of the final image failed" : NULL);
	if (model)
		model_free(model);
	free(model);
	free(seed);
	page_channel_free(ch);
	if (im)
		image_model_free(im);
	return rc;
}

int monitor_restore_image(struct monitor *mon, const char *path, int paused)
{
	/* what an earlier restore left for after its commit goes first,
	 * whatever becomes of this one (a refused restore must not drop it,
	 * and a new copy must not meet the old one's leftovers) */
	monitor_restore_after(mon);
	return restore_image(mon, path, paused);
}

/* The rest of a migration's restore onto its copy, once the commit
 * (THAW) that starts the target is answered: the monitor's views of the
 * new memory detached, the restore's figures logged, what the restore
 * did not take of the copy ended, the working state and models freed.
 * None of it is needed before the commit, and none of it can fail.  It
 * was some 0.1 ms of the destination's restore until ready, most of it
 * the frees; run after "ready" but before the commit, on the node's
 * thread, the commit waited for it instead
 * (docs/migration-performance.md, "The destination's answer first"). */
void monitor_restore_after(struct monitor *mon)
{
	struct mon_restore_after a = mon->after;

	mon->after = (struct mon_restore_after){0};
	if (a.rs)
		restore_finish(a.rs);
	if (a.later) /* what the restore did not take of the copy */
		prebuild_end(mon, NULL);
	if (a.model)
		model_free(a.model);
	free(a.model);
	free(a.seed);
	if (a.im)
		image_model_free(a.im);
}
