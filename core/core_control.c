/*
 * core's control endpoint "core" (include/capsule/control.h), made only
 * when the node serves a control socket (core_config.serve): core opens
 * the IRQ session for the endpoint's line itself and serves requests on
 * its entrypoint like any RPC.
 *
 *   ps    one line per PD: label, kernel task kcap in core, reported cap
 *         map address and entries, number of occupied cap-space slots
 *         (TASK_CAP_INFO over every slot), RAM used/quota, native or not; below it one
 * line per thread: number, name, state (THREAD_STATE), ip if paused or faulted;
 * after core's own line the node's budget, "budget: ram=N caps=N (...)"
 * (core.h: where the caps come from); last a "kernel: ..." line of object, mapping and
 * badge counts (core_ps_counts), for leak checks. stop  end the node (the socket server's
 * SIGINT/SIGTERM).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <capsule/control.h>
#include "core/core_internal.h"

static const char *const core_thread_states[] = {
    [TS_INACTIVE] = "inactive", [TS_READY] = "ready",	  [TS_BLOCKED] = "blocked",
    [TS_PAUSED] = "paused",	[TS_FAULTED] = "faulted", [TS_DEAD] = "dead",
};

/* Occupied slots of the cap space of task (a kcap in core). */
static unsigned core_count_caps(uint64_t task)
{
	unsigned n = 0;

	for (unsigned i = 1; i < CAP_SLOTS; i++) {
		uint64_t w[2] = {TASK_CAP_INFO, KCAP(i)}, out[1];
		if (!kobj_invoke(task, PROTO_TASK, w, 2, out, 1) && out[0] != KOBJ_NONE)
			n++;
	}
	return n;
}

static void core_ps_thread(struct control_mailbox *mb, struct cpu_thread *t)
{
	uint64_t w[1] = {THREAD_STATE}, st[2] = {0};
	struct cpu_regs regs;
	const char *name = "?";

	if (kobj_invoke(cap_kcap(t->thread), PROTO_THREAD, w, 1, st, 2)) {
		control_reply(mb, "  thread %llu %s gone", (unsigned long long)t->nr,
			      t->name);
		return;
	}
	if (st[0] < sizeof(core_thread_states) / sizeof(*core_thread_states))
		name = core_thread_states[st[0]];
	if (st[0] == TS_PAUSED) {
		uint64_t g[1] = {THREAD_GET_REGS};
		if (!kobj_invoke(cap_kcap(t->thread), PROTO_THREAD, g, 1,
				 (uint64_t *)&regs, CPU_REGS_WORDS))
			st[1] = regs.rip;
	}
	if (st[0] == TS_PAUSED || st[0] == TS_FAULTED)
		control_reply(mb, "  thread %llu %s %s ip=0x%llx",
			      (unsigned long long)t->nr, t->name, name,
			      (unsigned long long)st[1]);
	else
		control_reply(mb, "  thread %llu %s %s", (unsigned long long)t->nr,
			      t->name, name);
}

static void core_ps_pd(struct core *c, struct control_mailbox *mb, struct pd_session *pd)
{
	control_reply(
	    mb,
	    "pd \"%s\" task=0x%llx cap_map=0x%llx entries=%llu caps=%u "
	    "ram=%llu/%llu native=%d cap_quota=%llu/%llu",
	    pd->s.label, (unsigned long long)cap_kcap(pd->task),
	    (unsigned long long)pd->cap_map_addr, (unsigned long long)pd->cap_map_entries,
	    core_count_caps(cap_kcap(pd->task)), (unsigned long long)pd->ram_used,
	    (unsigned long long)pd->ram_quota, pd->native,
	    (unsigned long long)pd->cap_used, (unsigned long long)pd->cap_quota);
	for (struct core_session *cs = c->sessions; cs; cs = cs->next) {
		struct cpu_session *cpu = container_of(cs, struct cpu_session, s);
		if (cs->ops != &cpu_session_ops)
			continue;
		for (struct cpu_thread *t = cpu->threads; t; t = t->next)
			if (t->pd == pd)
				core_ps_thread(mb, t);
	}
}

/* The k-th PD session from the end of core's list (the oldest first). */
static struct pd_session *core_pd_nth_oldest(struct core *c, unsigned k, unsigned npd)
{
	unsigned i = 0;

	for (struct core_session *s = c->sessions; s; s = s->next)
		if (s->ops == &pd_session_ops && i++ == npd - 1 - k)
			return container_of(s, struct pd_session, s);
	return NULL;
}

/* Badges still held: entries of core's cap map keyed by a badge it
 * issued (every gate, task, thread and irq core made sits there under
 * its badge until core destroys it). */
static uint64_t core_badges_live(struct core *c)
{
	struct cap_map *m = cap_map();
	uint64_t n = 0;

	for (uint64_t i = 0; i < cap_map_size(m); i++)
		n += badge_alloc_issued(&c->badges, cap_map_slot(m, i)->id);
	return n;
}

/* The leak-check line: live kernel objects by type and cap mappings
 * (FACTORY_STATS), badges handed out and still held. */
static void core_ps_counts(struct core *c, struct control_mailbox *mb)
{
	uint64_t w[1] = {FACTORY_STATS}, st[FACTORY_STAT_WORDS];

	if (kobj_invoke(KCAP(FIXED_FACTORY), PROTO_FACTORY, w, 1, st,
			FACTORY_STAT_WORDS)) {
		control_reply(mb, "kernel: counts unavailable");
		return;
	}
	control_reply(mb,
		      "kernel: tasks %llu threads %llu gates %llu irqs %llu mappings "
		      "%llu; badges allocated %llu, live %llu",
		      (unsigned long long)st[FACTORY_STAT_TASKS],
		      (unsigned long long)st[FACTORY_STAT_THREADS],
		      (unsigned long long)st[FACTORY_STAT_GATES],
		      (unsigned long long)st[FACTORY_STAT_IRQS],
		      (unsigned long long)st[FACTORY_STAT_MAPPINGS],
		      (unsigned long long)badge_alloc_count(&c->badges),
		      (unsigned long long)core_badges_live(c));
}

static void core_ps(struct core *c, struct control_mailbox *mb)
{
	unsigned npd = 0;

	control_reply(mb, "pd \"core\" task=0x%llx caps=%u",
		      (unsigned long long)KCAP(FIXED_TASK),
		      core_count_caps(KCAP(FIXED_TASK)));
	if (c->cfg->cap_total)
		control_reply(mb, "budget: ram=%llu caps=%llu (caps from the config)",
			      (unsigned long long)c->ram_budget,
			      (unsigned long long)c->cap_budget);
	else
		control_reply(mb,
			      "budget: ram=%llu caps=%llu (caps by default: ram / %llu, "
			      "at most %llu)",
			      (unsigned long long)c->ram_budget,
			      (unsigned long long)c->cap_budget, CORE_CAP_BYTES,
			      (unsigned long long)CORE_CAPS_MAX);
	for (struct core_session *s = c->sessions; s; s = s->next)
		npd += s->ops == &pd_session_ops;
	for (unsigned k = 0; k < npd; k++)
		core_ps_pd(c, mb, core_pd_nth_oldest(c, k, npd));
	core_ps_counts(c, mb);
	control_done(mb, "ok %u components", npd + 1);
}

static void core_control_request(struct control_mailbox *mb,
				 const struct control_request *req, void *arg)
{
	struct core *c = arg;

	switch (req->op) {
	case CONTROL_PS:
		core_ps(c, mb);
		return;
	case CONTROL_STOP:
		control_done(mb, "ok stopping");
		kernel_stop(0);
		return;
	default:
		control_done(mb, "error: core: operation not supported");
	}
}

int core_control_start(struct core *c)
{
	struct control_mailbox *mb;
	struct core_session *s;
	char args[64];
	unsigned line;
	int err;

	if (!c->cfg->serve)
		return 0;
	mb = control_register("core", CONTROL_PS | CONTROL_STOP, &line);
	if (!mb)
		return -EEXIST;
	snprintf(args, sizeof(args), "line=%u label=\"core\"", line);
	err = irq_session_create(c, args, &s);
	if (err)
		goto err;
	err = control_endpoint_attach(c->env, mb, irq_session_irq(s),
				      core_control_request, c);
	if (err) {
		irq_session_destroy(c, s);
		goto err;
	}
	return 0;
err:
	control_unregister(mb);
	return err;
}
