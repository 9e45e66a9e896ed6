/*
 * The monitor of a group (group.h): its members started in the order of
 * its config, each by a member monitor of its own, and the group's end
 * once every member has ended, with a line per member as init gives.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capsule/control.h>

#include "monitor/group.h"
#include "monitor/monitor.h"

struct entrypoint *group_ep(const struct monitor *mon)
{
	return mon->group->ep;
}

const char *group_member_name(const struct monitor *mon)
{
	return mon->group->member[mon->member].start->name;
}

/* A member monitor for start s: the group's config with the member's
 * binary and quota, no <start> nodes of its own. */
struct monitor *group_member_new(struct mon_group *g, int i)
{
	const struct start_config *s = &g->cfg.group->start[i];
	struct monitor *mon = calloc(1, sizeof *mon);

	if (!mon)
		return NULL;
	mon->env = g->env;
	mon->cfg = g->cfg;
	mon->cfg.group = NULL;
	/* the group's <test> is the group's (group_test.c), not the member's */
	mon->cfg.checkpoint_after_ms = mon->cfg.checkpoint_after_log = 0;
	mon->cfg.image[0] = 0;
	mon->cfg.then_exit = 0;
	snprintf(mon->cfg.binary, sizeof mon->cfg.binary, "%s", s->binary);
	mon->cfg.ram = s->ram;
	mon->cfg.caps = s->caps;
	mon->group = g;
	mon->member = i;
	mon->serve_ep = g->member[i].serve_ep;
	/* no host worker (an IRQ session each): a member needs none to run */
	return mon;
}

struct entrypoint *group_serve_ep(struct monitor *mon)
{
	struct mon_member *m = &mon->group->member[mon->member];

	if (!m->serve_ep && ep_create(mon->env, "monitor-serve", &m->serve_ep))
		m->serve_ep = NULL;
	return m->serve_ep;
}

void group_member_discard(struct monitor *mon)
{
	mon->serve_ep = NULL; /* the member's, which runs on */
	target_destroy(mon);
	free(mon);
}

/* Member k's old monitor, replaced by a restore: its target goes as an
 * ending one does (monitor_target_ended: threads first, then the rest;
 * its serving entrypoint is the member's and serves the new monitor).  The monitor is
 * kept until the next restore or the group's end: the group's entrypoint may be serving a
 * request of it right now. */
void group_member_retire(struct mon_group *g, int k)
{
	struct mon_member *m = &g->member[k];
	struct monitor *mon = m->mon;

	for (int i = 0; i < m->nroots; i++)
		cap_release(m->root[i].proxy);
	m->nroots = 0;
	if (m->ended) {
		m->ended = 0;
		g->nended--;
	}
	m->mon = NULL;
	if (!mon)
		return;
	if (mon->state == MON_RUNNING) {
		mon->state = MON_EXITED;
		target_close_session(mon, &mon->cpu);
		mon->serve_ep = NULL; /* the member's: the new monitor serves on it */
		target_destroy(mon);
	}
	for (int i = 0; i < MON_GROUP_MAX; i++)
		if (!g->retired[i]) {
			g->retired[i] = mon;
			return;
		}
	free(mon); /* not reached: at most one restore's members are kept */
}

void group_retired_free(struct mon_group *g)
{
	for (int i = 0; i < MON_GROUP_MAX; i++) {
		free(g->retired[i]);
		g->retired[i] = NULL;
	}
}

static void member_free(struct mon_member *m)
{
	if (!m->mon)
		return;
	for (int i = 0; i < m->nroots; i++)
		cap_release(m->root[i].proxy);
	m->nroots = 0;
	free(m->mon);
	m->mon = NULL;
}

/* Every member has ended: a line per member, then the component ends
 * with 0 if each exited with 0, else 1. */
static void group_end(struct mon_group *g)
{
	struct env *env;
	int code = 0;

	for (int i = 0; i < g->n; i++) {
		env_log(g->env, "monitor: member '%s' exited with %d",
			g->member[i].start->name, g->member[i].exit_code);
		if (g->member[i].exit_code)
			code = 1;
	}
	control_endpoint_close(g->env, g->endpoint);
	g->endpoint = NULL;
	for (int i = 0; i < g->n; i++)
		member_free(&g->member[i]);
	group_retired_free(g);
	env = g->env;
	/* nothing refers to the group any more: its members' parent
	 * interfaces are dissolved, the caller returns without touching it */
	monitor_config_free(&g->cfg);
	free(g);
	parent_exit(env->parent, code);
}

void group_member_ended(struct monitor *mon, int code)
{
	struct mon_group *g = mon->group;
	struct mon_member *m = &g->member[mon->member];

	if (m->ended || m->mon != mon) /* (a restore replaced mon) */
		return;
	m->ended = 1;
	m->serve_ep = NULL; /* ended by monitor_target_ended */
	m->exit_code = code;
	for (int i = 0; i < m->nroots; i++)
		cap_release(m->root[i].proxy);
	m->nroots = 0;
	/* a checkpoint under way ends first: group_checkpoint_done */
	if (++g->nended == g->n && !g->ck)
		group_end(g);
}

void group_checkpoint_done(struct mon_group *g)
{
	g->ck = NULL;
	if (g->nended == g->n)
		group_end(g);
}

void group_answer(struct mon_group *g, struct control_mailbox *mb, const char *what,
		  const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (mb)
		control_done(mb, "%s", line);
	else
		env_log(g->env, "monitor: %s: %s", what, line);
}

int group_member_runs(const struct mon_group *g, int k)
{
	const struct mon_member *m = &g->member[k];

	return m->mon && !m->ended && m->mon->state == MON_RUNNING;
}

int group_member_gone(const struct mon_group *g, int k, int *code)
{
	const struct mon_member *m = &g->member[k];
	int gone = m->ended || (m->mon && m->mon->state == MON_EXITED);

	if (gone && code)
		*code = m->ended ? m->exit_code : m->mon->exit_code;
	return gone;
}

/* The group's members by name, for `capsule ps` ("members=a,b"). */
void group_members_word(const struct mon_group *g, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = 0;
	for (int i = 0; i < g->n && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%s%s", i ? "," : "",
				      g->member[i].start->name,
				      g->member[i].ended ? "(ended)" : "");
}

/* "running", or a migration's "frozen" (source) / "held" (destination),
 * or "waiting" (no member: it waits for a restore). */
static const char *group_state(const struct mon_group *g)
{
	if (g->frozen)
		return "frozen";
	if (g->held)
		return "held";
	for (int i = 0; i < g->n; i++)
		if (g->member[i].mon)
			return "running";
	return "waiting";
}

static void group_control(struct control_mailbox *mb, const struct control_request *req,
			  void *arg)
{
	struct mon_group *g = arg;
	char members[160];
	uint64_t ck = 0, rs = 0;

	group_members_word(g, members, sizeof members);
	for (int i = 0; i < g->n; i++)
		if (g->member[i].mon) {
			ck += g->member[i].mon->checkpoints;
			rs += g->member[i].mon->restores;
		}
	if (req->op == CONTROL_STATUS) {
		control_done(mb,
			     "ok %s state=%s group=%d members=%s checkpoints=%llu "
			     "restores=%llu",
			     req->name, group_state(g), g->n, members,
			     (unsigned long long)ck, (unsigned long long)rs);
		return;
	}
	if (req->op == CONTROL_CHECKPOINT && (req->flags & CONTROL_F_SPOOL)) {
		/* a round of a pre-copy or post-copy migration */
		control_done(mb,
			     "error: %s: a group migrates by stop-and-copy: pre-copy "
			     "rounds and --postcopy are not supported for a group",
			     req->name);
		return;
	}
	if (req->op == CONTROL_CHECKPOINT && req->parent[0]) {
		control_done(mb,
			     "error: %s: a group image is always full: --parent is not "
			     "supported for a group",
			     req->name);
		return;
	}
	if (req->op == CONTROL_CHECKPOINT && (g->frozen || g->held)) {
		control_done(mb, "error: %s: busy: a migration of the group is under way",
			     req->name);
		return;
	}
	if (req->op == CONTROL_CHECKPOINT)
		return group_checkpoint(g, mb, req->name, req->path, members,
					!!(req->flags & CONTROL_F_STOP));
	if (req->op == CONTROL_RESTORE && req->flags == CONTROL_F_PAUSED)
		return group_migrate_control(g, mb, req, members); /* a migration's */
	if (req->op == CONTROL_RESTORE && req->flags) {
		control_done(mb,
			     "error: %s: a group's restore writes every member's memory "
			     "before any runs: --lazy is not supported for a group",
			     req->name);
		return;
	}
	if (req->op == CONTROL_RESTORE) {
		group_restore(g, mb, req->name, req->path);
		return;
	}
	group_migrate_control(g, mb, req, members); /* FREEZE, THAW, RELEASE */
}

/* The group's name: the monitor's <start> name (its label's last part). */
static const char *group_name(const struct mon_group *g)
{
	const char *label = g->env->label ? g->env->label : "monitor";
	const char *name = strrchr(label, '>');

	name = name ? name + 1 : label;
	while (*name == ' ')
		name++;
	return name;
}

static void control_open(struct mon_group *g)
{
	const char *name = group_name(g);

	if (control_endpoint_open(g->env, name,
				  CONTROL_CHECKPOINT | CONTROL_RESTORE | CONTROL_FREEZE |
				      CONTROL_THAW | CONTROL_RELEASE | CONTROL_STATUS,
				  group_control, g, &g->endpoint))
		env_log(g->env, "monitor: no control endpoint '%s'", name);
}

/* <restore> with <start> nodes: no member starts; the image given is
 * restored now (the component exits with 2 if it cannot be), or the
 * group waits for `capsule restore`. */
static void restore_at_start(struct mon_group *g)
{
	const char *image = g->cfg.restore_image;

	control_open(g);
	if (!image[0]) {
		env_log(g->env, "monitor: group of %d members waiting for a restore",
			g->n);
		return;
	}
	if (group_restore(g, NULL, group_name(g), image)) /* it said why */
		parent_exit(g->env->parent, 2);
}

void group_construct(struct env *env, const struct monitor_config *cfg)
{
	struct mon_group *g = calloc(1, sizeof *g);
	int rc;

	if (!g || ep_create(env, "monitor-group", &g->ep)) {
		env_log(env, "monitor: group: out of memory");
		parent_exit(env->parent, 2);
		return;
	}
	g->env = env;
	g->cfg = *cfg;
	g->n = cfg->group->nstart;
	for (int i = 0; i < g->n; i++)
		g->member[i].start = &cfg->group->start[i];
	if (cfg->group_restore)
		return restore_at_start(g);
	for (int i = 0; i < g->n; i++) {
		struct monitor *mon = group_member_new(g, i);
		if (!mon) {
			env_log(env, "monitor: group: out of memory for member '%s'",
				g->member[i].start->name);
			parent_exit(env->parent, 2);
			return;
		}
		g->member[i].mon = mon;
		if ((rc = target_start(mon))) {
			/* the members started before it are left to the node's end:
			 * the component exits, and init closes its sessions */
			parent_exit(env->parent, 2);
			return;
		}
	}
	env_log(env, "monitor: group of %d members started", g->n);
	control_open(g);
}
