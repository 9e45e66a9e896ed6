/*
 * Starting the target as the monitor's own child with the child loader
 * (loader/loader.h), as init starts a child, except that the target's
 * sessions are opened at the monitor's parent and the target gets proxies
 * for them, and that every dataspace, attachment and thread made here is
 * recorded.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "loader/loader.h"
#include "monitor/group.h"
#include "monitor/monitor.h"

/* A group member's sessions are labelled with its name (", label=" NAME
 * "", in three parts for snprintf); the target of one monitor's have none. */
static const char *member_label(const struct monitor *mon, int part)
{
	if (!mon->group)
		return "";
	return part == 1 ? ", label=\"" : part == 2 ? group_member_name(mon) : "\"";
}

/* The entrypoint that serves the target's parent interface. */
static struct entrypoint *parent_ep(const struct monitor *mon)
{
	return mon->group ? mon->group->ep : mon->env->ep;
}

#define MEMBER_PRIORITY "32768" /* CPU_PRIORITY_LIMIT / 2 */

/* Non-empty args: empty ones would give the monitor its own env session.
 * No label: init labels the session with the monitor's name, which is
 * the target's name too.  A group's members run one priority level
 * below the monitor (the upper half of its band is the monitor's, as
 * init's <config prio_levels="2">): the group's cut lets a member run on
 * for a millisecond and must get the CPU back then, not after the
 * member's slice (group_cut.c). */
int target_open_pd_cpu(struct monitor *mon, cap_t *pd, cap_t *cpu)
{
	char args[MON_ARGS_MAX];
	int rc;

	snprintf(args, sizeof args, "ram_quota=%llu, cap_quota=%llu%s%s%s",
		 (unsigned long long)mon->cfg.ram, (unsigned long long)mon->cfg.caps,
		 member_label(mon, 1), member_label(mon, 2), member_label(mon, 3));
	if ((rc = parent_session(mon->env->parent, "PD", args, pd)))
		return rc;
	snprintf(args, sizeof args, "ram_quota=0%s%s%s%s", member_label(mon, 1),
		 member_label(mon, 2), member_label(mon, 3),
		 mon->group ? ", priority=" MEMBER_PRIORITY : "");
	if ((rc = parent_session(mon->env->parent, "CPU", args, cpu)))
		target_close_session(mon, pd);
	return rc;
}

static int open_sessions(struct monitor *mon, const char **what)
{
	char args[MON_ARGS_MAX];
	int rc;

	*what = "cannot create its PD or CPU session";
	if ((rc = target_open_pd_cpu(mon, &mon->pd, &mon->cpu)))
		return rc;
	*what = "cannot create its LOG session";
	snprintf(args, sizeof args, "ram_quota=0%s%s%s", member_label(mon, 1),
		 member_label(mon, 2), member_label(mon, 3));
	if ((rc = parent_session(mon->env->parent, "LOG", args, &mon->log)))
		return rc;
	snprintf(args, sizeof args, "label=\"%s%s%s\"",
		 mon->group ? group_member_name(mon) : "", mon->group ? " -> " : "",
		 mon->cfg.binary);
	*what = "cannot open its ROM";
	return parent_session(mon->env->parent, "ROM", args, &mon->rom);
}

/* The target holds proxies; the monitor keeps its own reference to each
 * real session (proxy_new takes over the one it is given). */
static int make_proxies(struct monitor *mon)
{
	if (!cap_valid(
		proxy_new(mon, &pd_proxy_type, cap_ref(mon->pd), &mon->pd_proxy)) ||
	    !cap_valid(
		proxy_new(mon, &cpu_proxy_type, cap_ref(mon->cpu), &mon->cpu_proxy)) ||
	    !cap_valid(
		proxy_new(mon, &log_proxy_type, cap_ref(mon->log), &mon->log_proxy)) ||
	    !cap_valid(
		proxy_new(mon, &rom_proxy_type, cap_ref(mon->rom), &mon->rom_proxy)))
		return -ENOSPC;
	return 0;
}

/* The loader placed a dataspace in the target: the monitor keeps a
 * reference to it and records it and its attachment. */
/* The binary's identity, from the bytes the loader loads (an image
 * records it; a restore elsewhere checks it). */
static void hash_binary(void *ctx, const void *data, uint64_t size)
{
	struct monitor *mon = ctx;

	binary_id_of(data, size, &mon->binary);
}

static int placed(void *ctx, cap_t ds, uint64_t at, uint64_t size, unsigned perm)
{
	struct monitor *mon = ctx;

	record_add(mon, MON_CLASS_DATASPACE, ds, size);
	record_hold(mon, cap_ref(ds), "monitor");
	return region_add(mon, 0, cap_badge(ds), at, 0, size, perm);
}

/* Runs on the monitor's entrypoint when the target's CPU session
 * triggers its exception irq. */
static void target_fault(void *arg)
{
	struct monitor *mon = arg;

	for (int i = 0; i < MON_MAX_THREADS; i++) {
		struct mon_thread *t = &mon->thread[i];
		struct msg m;
		if (!t->used)
			continue;
		msg_reset(&m, CPU_STATE);
		msg_put_cap(&m, t->cap);
		if (rpc_call(mon->cpu, &m) || m.code != RPC_OK || m.nwords < 4 ||
		    m.w[0] != TS_FAULTED)
			continue;
		if (mon->state != MON_RUNNING)
			return;
		env_log(mon->env,
			"monitor: target thread %llu faulted at ip=0x%llx addr=0x%llx",
			(unsigned long long)t->nr, (unsigned long long)m.w[2],
			(unsigned long long)m.w[3]);
		mon->state = MON_EXITED;
		monitor_target_ended(mon, 1);
		return;
	}
}

static void unwatch(struct monitor *mon)
{
	if (mon->exc_irq.idx) {
		ep_irq_dissolve(mon->env->ep, mon->exc_irq);
		cap_release(mon->exc_irq);
	}
	mon->exc_irq = CAP_INVALID;
}

int target_watch_prepare(struct monitor *mon, cap_t cpu, cap_t *irq)
{
	struct msg m;
	int rc;

	msg_reset(&m, CPU_EXCEPTION_IRQ);
	if ((rc = rpc_call(cpu, &m)))
		return rc;
	if (m.code != RPC_OK || m.ncaps < 1 || !cap_valid(m.caps[0]))
		return -EPROTO;
	if ((rc = ep_irq_handler(mon->env->ep, m.caps[0], target_fault, mon))) {
		cap_release(m.caps[0]);
		return rc;
	}
	*irq = m.caps[0];
	return 0;
}

void target_watch_undo(struct monitor *mon, cap_t *irq)
{
	ep_irq_dissolve(mon->env->ep, *irq);
	cap_release(*irq);
	*irq = CAP_INVALID;
}

void target_watch_apply(struct monitor *mon, cap_t *irq)
{
	unwatch(mon);
	mon->exc_irq = *irq;
	*irq = CAP_INVALID;
}

int target_watch(struct monitor *mon)
{
	cap_t irq;
	int rc;

	unwatch(mon);
	if ((rc = target_watch_prepare(mon, mon->cpu, &irq)))
		return rc;
	target_watch_apply(mon, &irq);
	return 0;
}

int target_start(struct monitor *mon)
{
	const char *what = "";
	uint64_t entry = 0, sp;
	struct startup_info si = {.magic = STARTUP_MAGIC};
	struct loader l = {
	    .own_pd = mon->env->pd, .placed = placed, .binary = hash_binary, .ctx = mon};
	cap_t parent_cap, thread;
	int rc;

	mon->state = MON_RUNNING;
	if ((rc = open_sessions(mon, &what)))
		goto err;
	l.child_pd = mon->pd;
	what = "cannot make its proxies";
	if ((rc = make_proxies(mon)) ||
	    (rc = loader_load_binary(&l, mon->rom, &entry, &what)))
		goto err;
	what = "cannot create its parent interface";
	parent_cap = ep_manage(parent_ep(mon), &mon->parent_obj, parent_proxy_dispatch);
	if (!cap_valid(parent_cap)) {
		rc = -ENOSPC;
		goto err;
	}
	if ((rc = pd_assign_parent(mon->pd, parent_cap)))
		goto err;
	what = "cannot create its thread";
	if ((rc = cpu_create_thread(mon->cpu, mon->pd, mon->cfg.binary, &thread,
				    &si.thread_nr, &si.utcb, &si.thread_badge)))
		goto err;
	if ((rc = thread_add(mon, thread, si.thread_nr, si.utcb, si.thread_badge))) {
		cap_release(thread);
		goto err;
	}
	thread_name(mon, si.thread_nr, mon->cfg.binary, strlen(mon->cfg.binary));
	record_hold(mon, thread, "monitor");
	si.parent_badge = mon->parent_obj.badge;
	if ((rc = loader_make_stack(&l, &si, &sp, &what)))
		goto err;
	what = "cannot watch it for faults";
	if ((rc = target_watch(mon)))
		goto err;
	what = "cannot start its thread";
	if ((rc = cpu_start(mon->cpu, thread, entry, sp)))
		goto err;
	return 0;
err:
	env_log(mon->env, "monitor: target '%s': %s: %s", mon->cfg.binary, what,
		strerror(-rc));
	mon->state = MON_FAILED;
	target_destroy(mon);
	return rc;
}

void target_close_session(struct monitor *mon, cap_t *s)
{
	struct msg m;

	if (cap_valid(*s)) {
		msg_reset(&m, PARENT_CLOSE);
		msg_put_cap(&m, *s);
		rpc_call(mon->env->parent, &m);
	}
	if (s->idx)
		cap_release(*s);
	*s = CAP_INVALID;
}

void target_destroy(struct monitor *mon)
{
	unwatch(mon);
	/* routed sessions go back to the monitor's parent */
	for (int i = 0; i < MON_MAX_RECORDS; i++) {
		struct mon_record *r = &mon->rec[i];
		if (r->used && r->cls == MON_CLASS_ROUTED && !r->member) {
			struct msg m;
			msg_reset(&m, PARENT_CLOSE);
			msg_put_cap(&m, r->cap);
			rpc_call(mon->env->parent, &m);
		}
	}
	records_clear(mon);
	proxy_destroy_all(mon);
	if (mon->parent_obj.cap.idx)
		ep_dissolve(parent_ep(mon), &mon->parent_obj);
	memset(&mon->parent_obj, 0, sizeof mon->parent_obj);
	/* CPU first: the threads go before the PD they run in */
	target_close_session(mon, &mon->cpu);
	target_close_session(mon, &mon->log);
	target_close_session(mon, &mon->rom);
	target_close_session(mon, &mon->pd);
}
