/*
 * Restore on the same node (docs/design.md): a new PD and CPU
 * session, threads at their old thread-area numbers, dataspaces recreated
 * and attached at the same addresses, every cap of the model mapped at its
 * old kcap (PD_MAP_CAP) — objects the target owns (gates, dataspaces,
 * threads, signal objects) recreated with new badges — the new badges
 * written into the same cap map slots, the cap map and the object pool
 * rebuilt on a copy of the memory, memory, UTCBs and registers written,
 * then the old target destroyed and the new one started.  All or nothing:
 * until the commit point every failure destroys what was made and the
 * old target runs on.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <base/host_worker.h>
#include <base/region_map.h>
#include "monitor/lazy_fill.h"
#include "monitor/restore_prebuild.h"
#include "monitor/restore_state.h"
#include "monitor/target_report.h"

static const char *const rs_phase_name[RS_PHASES] = {
    "open", "threads", "regions", "memory", "caps",
    "fix",  "state",   "ready",	  "commit", "free-old"};

static int reply_rc(const struct msg *m)
{
	return m->code == RPC_ERROR && m->nwords ? (int)(int64_t)m->w[0] : -EPROTO;
}

int restore_call_cap(cap_t dst, struct msg *m, cap_t *out)
{
	int rc = rpc_call(dst, m);

	if (rc)
		return rc;
	if (m->code != RPC_OK)
		return reply_rc(m);
	if (m->ncaps < 1 || !cap_valid(m->caps[0]))
		return -EPROTO;
	*out = m->caps[0];
	return 0;
}

/* Keep a new cap (one reference) until commit or rollback. */
int rs_keep(struct rs *rs, enum mon_class cls, cap_t cap, uint64_t aux)
{
	if (rs->ncaps == CAP_SLOTS) {
		cap_release(cap);
		return -ENOSPC;
	}
	rs->cap[rs->ncaps++] = (struct rs_cap){cls, cap, aux, cap_badge(cap)};
	return 0;
}

static void cpu_kill(cap_t cpu, cap_t thread)
{
	struct msg m;

	msg_reset(&m, CPU_KILL);
	msg_put_cap(&m, thread);
	rpc_call(cpu, &m);
}

/* ---- threads ---------------------------------------------------------- */

static int make_thread(struct rs *rs, const struct mon_model_thread *mt,
		       struct rs_thread *t)
{
	uint64_t nr, utcb, badge;
	cap_t obj;
	int rc;

	/* a migration's prebuilt copy made it while the rounds came */
	if ((rc = restore_point(rs->mon, "thread")))
		return rc;
	if (!prebuild_take_thread(rs->mon, mt->nr, mt->utcb, mt->name, &t->obj,
				  &t->kthread, &t->badge)) {
		t->nr = mt->nr;
		if ((rc = badge_map_add(&rs->bm, mt->badge, t->badge)))
			return rc;
		return badge_map_add(&rs->bm, mt->obj_badge, cap_badge(t->obj));
	}
	for (int first = 1;; first = 0) {
		if ((!first && (rc = restore_point(rs->mon, "thread"))) ||
		    (rc = cpu_create_thread(rs->cpu, rs->pd,
					    mt->name[0] ? mt->name : "restored", &obj,
					    &nr, &utcb, &badge)))
			return rc;
		if (nr == mt->nr)
			break;
		if (nr > mt->nr || rs->nfill == MON_MAX_THREADS) {
			cpu_kill(rs->cpu, obj);
			cap_release(obj);
			return -EADDRINUSE;
		}
		rs->fill[rs->nfill++] = obj; /* a number the target had freed */
	}
	*t = (struct rs_thread){obj, CAP_INVALID, nr, badge};
	if (utcb != mt->utcb)
		return -EADDRINUSE;
	if ((rc = cpu_thread_cap(rs->cpu, obj, CPU_KERNEL_THREAD, &t->kthread)))
		return rc;
	if ((rc = badge_map_add(&rs->bm, mt->badge, badge)))
		return rc;
	return badge_map_add(&rs->bm, mt->obj_badge, cap_badge(obj));
}

/* In ascending thread number, so that core hands out the old numbers. */
static int make_threads(struct rs *rs)
{
	const struct mon_model *m = rs->m;
	int done[MON_MAX_THREADS] = {0}, rc;

	rs->what = "cannot recreate a thread at its number";
	/* those a prebuilt copy made to reach the numbers: killed at the
	 * commit, as the restore's own */
	rs->nfill = prebuild_take_fill(rs->mon, rs->fill, MON_MAX_THREADS);
	for (unsigned k = 0; k < m->nthreads; k++) {
		unsigned best = m->nthreads;
		for (unsigned i = 0; i < m->nthreads; i++)
			if (!done[i] &&
			    (best == m->nthreads || m->thread[i].nr < m->thread[best].nr))
				best = i;
		done[best] = 1;
		if ((rc = make_thread(rs, &m->thread[best], &rs->thread[best])))
			return rc;
	}
	return 0;
}

struct rs_thread *rs_thread_by_badge(struct rs *rs, uint64_t old_badge, int obj)
{
	for (unsigned i = 0; i < rs->m->nthreads; i++) {
		const struct mon_model_thread *mt = &rs->m->thread[i];
		if ((obj ? mt->obj_badge : mt->badge) == old_badge)
			return &rs->thread[i];
	}
	return NULL;
}

/* ---- caps ------------------------------------------------------------- */

/* UTCBs and registers.  A call the pause rewound is re-issued from the
 * UTCB: its destination badge (mr[0]) and cap badges get the new ids. */
static int write_threads(struct rs *rs)
{
	int rc;

	rs->what = "cannot set its threads' state";
	for (unsigned i = 0; i < rs->m->nthreads; i++) {
		const struct mon_model_thread *mt = &rs->m->thread[i];
		/* rewritten in a copy: the model stays as read (a lazy
		 * restore works on the caller's, model_work) */
		struct utcb utcb = mt->utcb_data, *u = &utcb;
		cap_t ds;

		if (mt->state == TS_INACTIVE || mt->state == TS_DEAD)
			continue;
		u->mr[0] = badge_map_new(&rs->bm, u->mr[0]);
		for (uint64_t k = 0; k < u->mr[1] && k < MSG_MAX_ITEMS; k++)
			u->mr[2 + k] = badge_map_new(&rs->bm, u->mr[2 + k]);
		if ((rc = restore_point(rs->mon, "thread state")) ||
		    (rc = cpu_thread_cap(rs->cpu, rs->thread[i].obj, CPU_UTCB_DATASPACE,
					 &ds)))
			return rc;
		rc = ds_copy(rs->mon, ds, 0, u, sizeof *u, 1);
		cap_release(ds);
		if (rc || (rc = cpu_set_regs(rs->cpu, rs->thread[i].obj, &mt->regs)))
			return rc;
	}
	return 0;
}

static void rollback(struct rs *rs)
{
	for (unsigned i = 0; i < rs->ncaps; i++)
		cap_release(rs->cap[i].cap);
	for (unsigned i = 0; i < rs->nds; i++)
		cap_release(rs->ds[i].cap);
	for (unsigned i = 0; i < MON_MAX_THREADS; i++) {
		if (rs->thread[i].obj.idx)
			cap_release(rs->thread[i].obj);
		if (rs->thread[i].kthread.idx)
			cap_release(rs->thread[i].kthread);
	}
	for (unsigned i = 0; i < rs->nfill; i++)
		cap_release(rs->fill[i]);
	rm_restore_rollback(rs->mon, &rs->rm);
	if (rs->source.idx)
		cap_release(rs->source);
	/* closing the sessions frees every object made in them */
	target_close_session(rs->mon, &rs->cpu);
	target_close_session(rs->mon, &rs->pd);
}

/* Replace a proxy's real object (the proxy's cap stays what the target
 * holds). */
static void proxy_retarget(struct proxy *p, cap_t real)
{
	cap_release(p->real);
	p->real = cap_ref(real);
}

/* Past the point of no return: the old target goes, the new one's
 * objects become the monitor's records, its threads start. */
static void commit(struct rs *rs)
{
	struct monitor *mon = rs->mon;

	/* the old target: threads, memory, objects, sessions */
	for (int i = 0; i < MON_MAX_RECORDS; i++) {
		struct mon_record *r = &mon->rec[i];
		if (r->used && r->cls != MON_CLASS_ROM_DS && r->cls != MON_CLASS_ROUTED)
			record_drop(mon, r->badge);
	}
	memset(mon->region, 0, sizeof mon->region);
	memset(mon->thread, 0, sizeof mon->thread);
	rm_restore_commit(mon, &rs->rm);
	target_close_session(mon, &mon->cpu);
	rs->old_pd = mon->pd; /* its memory is freed once the new one runs */
	mon->pd = rs->pd;
	mon->cpu = rs->cpu;
	proxy_retarget(mon->pd_proxy, rs->pd);
	proxy_retarget(mon->cpu_proxy, rs->cpu);
	for (int i = 0; i < MON_MAX_PROXIES; i++)
		if (mon->proxy[i].used && mon->proxy[i].type == &signal_proxy_type &&
		    cap_valid(rs->source))
			proxy_retarget(&mon->proxy[i], rs->source);
	if (rs->source.idx)
		cap_release(rs->source);
	/* the new objects become records */
	for (unsigned i = 0; i < rs->m->nthreads; i++) {
		struct rs_thread *t = &rs->thread[i];
		thread_add(mon, t->obj, t->nr, rs->m->thread[i].utcb, t->badge);
		thread_name(mon, t->nr, rs->m->thread[i].name,
			    sizeof rs->m->thread[i].name);
		record_hold(mon, t->obj, "restore");
		cap_release(t->kthread);
	}
	for (unsigned i = 0; i < rs->nds; i++) {
		record_add(mon, MON_CLASS_DATASPACE, rs->ds[i].cap, rs->ds[i].size);
		record_hold(mon, rs->ds[i].cap, "restore");
	}
	for (unsigned i = 0; i < rs->m->nregions; i++) {
		const struct mon_model_region *r = &rs->m->region[i];
		const struct rm_made *map =
		    r->rm ? rm_restore_find(&rs->rm, r->rm) : NULL;
		region_add(mon, map ? map->p->obj.badge : 0,
			   badge_map_new(&rs->bm, r->ds_badge), r->at, r->off, r->size,
			   r->perm);
	}
	for (unsigned i = 0; i < rs->ncaps; i++) {
		record_add(mon, rs->cap[i].cls, rs->cap[i].cap, rs->cap[i].aux);
		record_hold(mon, rs->cap[i].cap, "restore");
	}
	restore_apply(rs);
	for (unsigned i = 0; i < rs->nfill; i++) {
		cpu_kill(mon->cpu, rs->fill[i]);
		cap_release(rs->fill[i]);
	}
	/* the signals drained at the checkpoint were queued at the new
	 * contexts (restore_prepare) */
	mon->npending = 0;
	/* its threads start with monitor_restore_start */
}

void monitor_restore_start(struct monitor *mon, const struct mon_model *model)
{
	for (unsigned i = 0; i < model->nthreads; i++) {
		const struct mon_model_thread *mt = &model->thread[i];
		if (mt->state == TS_INACTIVE || mt->state == TS_DEAD)
			continue;
		for (int k = 0; k < MON_MAX_THREADS; k++)
			if (mon->thread[k].used && mon->thread[k].nr == mt->nr)
				cpu_start(mon->cpu, mon->thread[k].cap, mt->regs.rip,
					  mt->regs.rsp);
	}
}

/* The model the restore works on: a copy of the caller's description
 * (not of its memory), whose regions' data the memory's fill points into
 * the new dataspaces.  A lazy restore writes no region of it (its memory
 * is filled after the commit, lazy_fill.c) and nothing else of it (the
 * UTCBs are rewritten in a copy, write_threads): it works on the
 * caller's.  The copy, 187 KB of new pages, cost 100-200 us of a
 * post-copy's pause, mostly their first touches. */
static struct mon_model *model_work(const struct monitor *mon,
				    const struct mon_model *src)
{
	struct mon_model *m;

	if (mon->lazy)
		return (struct mon_model *)src;
	/* a migration's copy touched it before the stop */
	if ((m = prebuild_take_touched((struct monitor *)mon, PREBUILD_WORK)) ||
	    (m = malloc(sizeof *m)))
		memcpy(m, src, sizeof *m);
	return m;
}

static unsigned rebadged(const struct badge_map *bm)
{
	unsigned n = 0;

	for (unsigned i = 0; i < bm->n; i++)
		n += bm->pair[i].old_badge != bm->pair[i].new_badge;
	return n;
}

/* End phase p: the host time since the previous mark goes to it. */
static void mark(struct rs *rs, int p)
{
	uint64_t t = mon_now_us();

	rs->us[p] += t - rs->t0;
	rs->t0 = t;
}

/* Everything up to the commit point, each step timed. */
/* Entries of objects that were gone at the checkpoint keep their slots
 * but leave the cap map's tree (id CAP_ID_INVALID, as libbase marks a
 * revoked entry): their old badges could be new badges on this node. */
static int dead_entries(struct rs *rs)
{
	struct cr_cap_map *cm = report_cap_map(rs->m);

	if (!cm)
		return -EFAULT;
	for (unsigned i = 0; i < rs->m->ncaps; i++) {
		const struct mon_model_cap *mc = &rs->m->cap[i];
		struct cr_cap_entry *e = &cm->slot[KCAP_INDEX(mc->kcap)];
		if (mc->cls == MON_CLASS_SKIPPED && mc->aux && e->id == mc->badge)
			e->id = CR_ID_INVALID;
	}
	return 0;
}

/* The target's own objects: sessions, threads, regions, memory, every cap
 * at its kcap but those to another member's objects (a group's restore
 * maps them once every member's own objects exist). */
static int build_objects(struct rs *rs)
{
	struct cr_report report;
	uint64_t eps[CR_MAX_EPS];
	unsigned neps;
	char why[160];
	int rc;

	rs->what = "cannot open its sessions";
	if ((rc = restore_point(rs->mon, "PD and CPU sessions")) ||
	    (prebuild_take_pd(rs->mon, &rs->pd, &rs->cpu) &&
	     (rc = target_open_pd_cpu(rs->mon, &rs->pd, &rs->cpu))))
		return rc;
	/* what the target's libbase told its old PD (capsule ps shows it) */
	if (rs->m->cap_map_addr &&
	    (rc = pd_cap_map_report(rs->pd, rs->m->cap_map_addr, CAP_SLOTS,
				    rs->m->report_addr, rs->m->abi_version)))
		return rc;
	mark(rs, RS_OPEN);
	if ((rc = make_threads(rs)))
		return rc;
	mark(rs, RS_THREADS);
	if ((rc = rs_make_regions(rs)))
		return rc;
	mark(rs, RS_REGIONS);
	if ((rc = rs_fill_memory(rs)))
		return rc;
	mark(rs, RS_MEMORY);
	/* the report, its cap map and its entrypoints must be readable in the
	 * memory written (an image's bytes are only there now) */
	rs->what = "its checkpoint report does not match its memory";
	if ((rc = report_read(rs->m, &report, why, sizeof why))) {
		monitor_why(rs->mon, "restore: %s", why);
		return rc;
	}
	if (!report_cap_map(rs->m))
		return -EINVAL;
	rs->what = "its checkpoint report's entrypoint list (field next of struct "
		   "cr_entrypoint) loops or leaves its memory";
	if ((rc = report_entrypoints(rs->m, &report, eps, &neps)))
		return rc;
	if ((rc = rs_map_caps(rs)) || (rc = rs_bind_semaphore(rs)))
		return rc;
	mark(rs, RS_CAPS);
	return 0;
}

/* The new badges into the cap map and the object pools, then UTCBs and
 * registers: every cap must be mapped (its badge in rs->bm). */
static int build_fix(struct rs *rs)
{
	int rc;

	rs->what = "cannot rebuild its cap map";
	if ((rc = restore_point(rs->mon, "cap map")) || (rc = dead_entries(rs)) ||
	    (rc = cap_map_fix(rs->m, &rs->bm)))
		return rc;
	rs->what = "cannot rebuild its object pool (fields left, right, parent, depth "
		   "of its struct cr_object trees)";
	if ((rc = restore_point(rs->mon, "object pool")) || (rc = pool_fix(rs->m)))
		return rc;
	mark(rs, RS_FIX);
	if ((rc = write_threads(rs)))
		return rc;
	mark(rs, RS_STATE);
	return 0;
}

/* Which quota a step refused, how much it asked and how much is left:
 * opening the target's sessions asks this monitor's PD for the RAM and
 * caps of its <target>; every later step is paid by the new PD. */
static void restore_quota_why(struct rs *rs, char *buf, size_t size)
{
	struct monitor *mon = rs->mon;
	bool open = !cap_valid(rs->pd);
	struct pd_quota q;
	unsigned long long ram, caps;

	if (pd_quota_get(open ? mon->env->pd : rs->pd, &q)) {
		snprintf(buf, size, "quota exceeded (the quota cannot be read)");
		return;
	}
	ram = q.ram_quota - q.ram_used;
	caps = q.cap_quota - q.cap_used;
	if (open && mon->cfg.ram > ram)
		snprintf(buf, size, "RAM quota exceeded: %llu bytes asked, %llu left",
			 (unsigned long long)mon->cfg.ram, ram);
	else if (open && mon->cfg.caps > caps)
		snprintf(buf, size, "cap quota exceeded: %llu caps asked, %llu left",
			 (unsigned long long)mon->cfg.caps, caps);
	else
		snprintf(buf, size,
			 "quota of %s exceeded: %llu bytes of RAM and %llu caps left",
			 open ? "the monitor" : "the target's new PD", ram, caps);
}

/* "restore took" is the time until the new target runs; the old target's
 * freeing (a same-node restore only) is timed and logged beside it. */
static void log_times(struct rs *rs)
{
	char line[256];
	uint64_t run = 0;
	int n = 0;

	for (int p = 0; p < RS_PHASES; p++) {
		n += snprintf(line + n, sizeof line - (size_t)n, "%s%s %llu",
			      p ? ", " : "", rs_phase_name[p],
			      (unsigned long long)rs->us[p]);
		run += p == RS_FREE ? 0 : rs->us[p];
	}
	env_log(rs->mon->env, "monitor: restore phases (us): %s", line);
	env_log(rs->mon->env,
		"monitor: restore took %llu us, %u caps; %llu us with freeing the old "
		"target",
		(unsigned long long)run, rs->m->ncaps,
		(unsigned long long)(run + rs->us[RS_FREE]));
}

int restore_build(struct monitor *mon, const struct mon_model *model,
		  const struct badge_map *seed, struct rs **out)
{
	struct rs *rs = prebuild_take_touched(mon, PREBUILD_RS); /* zeroed */
	int rc;

	*out = NULL;
	if (!rs)
		rs = calloc(1, sizeof *rs);
	if (!rs || !model->nthreads || !(rs->m = model_work(mon, model))) {
		free(rs);
		return -ENOMEM;
	}
	rs->t0 = mon_now_us(); /* the working copies count as opening */
	rs->mon = mon;
	rs->before = model;
	if (!seed) /* a same-node restore starts here; an image's earlier */
		mon->restore_points = 0;
	if (seed)
		rs->bm = *seed;
	*out = rs;
	if ((rc = build_objects(rs)))
		return rc;
	return 0;
}

int restore_ready(struct rs *rs)
{
	int rc;

	rs->t0 = mon_now_us(); /* a group's other members were built meanwhile */
	if ((rc = build_fix(rs)) || (rc = restore_prepare(rs)) ||
	    (rc = restore_verify(rs, rs->before)) || (rc = restore_announce(rs)))
		return rc;
	mark(rs, RS_READY);
	return 0;
}

void restore_commit(struct rs *rs, struct badge_map *made)
{
	struct monitor *mon = rs->mon;

	/* the point of no return: nothing below can fail */
	rs->t0 = mon_now_us(); /* (a group's other members were made ready) */
	commit(rs);
	mark(rs, RS_COMMIT);
	target_close_session(mon, &rs->old_pd);
	mark(rs, RS_FREE);
	if (made)
		*made = rs->bm;
	mon->restores++;
	if (mon->after.later) /* a migration's: after its answer */
		mon->after.rs = rs;
	else
		restore_finish(rs);
}

void restore_finish(struct rs *rs)
{
	struct monitor *mon = rs->mon;

	rs_unmap_memory(rs);
	env_log(
	    mon->env,
	    "monitor: restored: %u threads, %u regions, %u caps at their kcaps, %u new "
	    "badges; cap map and object pool consistent",
	    rs->m->nthreads, rs->m->nregions, rs->m->ncaps, rebadged(&rs->bm));
	log_times(rs);
	env_log(mon->env, "monitor: restore: %u points that can fail passed",
		mon->restore_points);
	restore_free(rs);
}

void restore_abort(struct rs *rs, int rc)
{
	struct monitor *mon;
	char why_quota[200];

	if (!rs)
		return;
	mon = rs->mon;
	if (rc == -EDQUOT)
		restore_quota_why(rs, why_quota, sizeof why_quota);
	monitor_why(mon, "restore failed: %s: %s", rs->what,
		    rc == -EDQUOT ? why_quota : strerror(-rc));
	restore_undo(rs);
	rs_unmap_memory(rs);
	rollback(rs);
	monitor_resume(mon);
	restore_free(rs);
}

size_t restore_state_size(void)
{
	return sizeof(struct rs);
}

void restore_free(struct rs *rs)
{
	if (rs) {
		rs_mapq_drop(rs);
		if (rs->m != rs->before) /* its regions' data are not its own */
			free(rs->m);
	}
	free(rs);
}

int monitor_restore_seeded(struct monitor *mon, const struct mon_model *model,
			   const struct badge_map *seed, struct badge_map *made)
{
	struct rs *rs;
	int rc;

	if ((rc = restore_build(mon, model, seed, &rs)) || (rc = restore_ready(rs))) {
		if (rs)
			restore_abort(rs, rc);
		return rc;
	}
	restore_commit(rs, made);
	return 0;
}

int monitor_restore(struct monitor *mon, const struct mon_model *model)
{
	return monitor_restore_seeded(mon, model, NULL, NULL);
}
