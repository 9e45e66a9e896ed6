/*
 * Starting and destroying one child: its env sessions at init's parent
 * (core), its parent interface, its initial thread, its image and stack
 * (the child loader, loader/loader.h), and the exception irq through
 * which init learns of its faults.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "init/init.h"
#include "init/native_child.h"
#include "loader/loader.h"

static const char *fault_kind_name(unsigned kind)
{
	switch (kind) {
	case FAULT_READ:
		return "read fault";
	case FAULT_WRITE:
		return "write fault";
	case FAULT_EXEC:
		return "exec fault";
	case FAULT_ILLEGAL:
		return "illegal instruction";
	default:
		return "exception";
	}
}

/* State of thread (CPU_STATE): 0 or -errno. */
static int cpu_state(cap_t cpu, cap_t thread, uint64_t st[4])
{
	struct msg m;
	int rc;

	msg_reset(&m, CPU_STATE);
	msg_put_cap(&m, thread);
	if ((rc = rpc_invoke(cpu, &m)))
		return rc;
	if (m.nwords < 4)
		return -EPROTO;
	memcpy(st, m.w, 4 * sizeof st[0]);
	return 0;
}

static int cpu_exception_irq(cap_t cpu, cap_t *irq)
{
	struct msg m;
	int rc;

	msg_reset(&m, CPU_EXCEPTION_IRQ);
	if ((rc = rpc_invoke(cpu, &m)))
		return rc;
	if (m.ncaps < 1 || !cap_valid(m.caps[0]))
		return -EPROTO;
	*irq = m.caps[0];
	return 0;
}

/* Runs on init's entrypoint when the child's CPU session signals a fault. */
static void child_fault(void *arg)
{
	struct child *c = arg;
	struct init *in = c->init;
	uint64_t st[4];

	if (c->state != CHILD_RUNNING || cpu_state(c->cpu, c->thread, st))
		return;
	if (st[0] != TS_FAULTED)
		return;
	c->fault_kind = (unsigned)st[1];
	c->fault_ip = st[2];
	c->fault_addr = st[3];
	c->state = CHILD_FAULTED;
	env_log(in->env, "child '%s' faulted: %s at ip=0x%llx addr=0x%llx", c->cfg->name,
		fault_kind_name(c->fault_kind), (unsigned long long)c->fault_ip,
		(unsigned long long)c->fault_addr);
	child_destroy(c);
	init_child_ended(in);
}

const char *child_fault_name(const struct child *c)
{
	return fault_kind_name(c->fault_kind);
}

int child_open_sessions(struct child *c, int native, const char **what)
{
	struct init *in = c->init;
	const struct start_config *s = c->cfg;
	char args[INIT_ARGS_MAX];
	int rc;

	snprintf(args, sizeof args, "%slabel=\"%s\", ram_quota=%llu, cap_quota=%llu",
		 native ? "native=1, " : "", s->name, (unsigned long long)s->ram,
		 (unsigned long long)s->caps);
	*what = "cannot create its PD session";
	if ((rc = init_session_parent(in, "PD", args, &c->pd)))
		return rc;
	snprintf(
	    args, sizeof args, "label=\"%s\", priority=%llu", s->name,
	    (unsigned long long)session_args_band(in->cfg->prio_levels, s->priority));
	*what = "cannot create its CPU session";
	if ((rc = init_session_parent(in, "CPU", args, &c->cpu)))
		return rc;
	snprintf(args, sizeof args, "label=\"%s\"", s->name);
	*what = "cannot create its LOG session";
	if ((rc = init_session_parent(in, "LOG", args, &c->log)) || native)
		return rc;
	snprintf(args, sizeof args, "label=\"%s\"", s->binary);
	rc = init_session_parent(in, "ROM", args, &c->rom);
	*what = rc == -ENOENT ? "not found" : "cannot open its ROM";
	return rc;
}

int child_create_thread(struct child *c, const char **what, uint64_t *nr, uint64_t *utcb,
			uint64_t *badge)
{
	cap_t parent_cap;
	int rc;

	*what = "cannot create its parent interface";
	parent_cap = ep_manage(c->init->env->ep, &c->parent_obj, parent_dispatch);
	if (!cap_valid(parent_cap))
		return -ENOSPC;
	if ((rc = pd_assign_parent(c->pd, parent_cap)))
		return rc;
	*what = "cannot create its thread";
	return cpu_create_thread(c->cpu, c->pd, c->cfg->name, &c->thread, nr, utcb,
				 badge);
}

/* A step of c's start was refused for quota: the PD session is paid by
 * init (c's RAM and caps), every later step by c's own PD. */
void child_quota_error(struct child *c, const char *what)
{
	struct init *in = c->init;
	char why[160];

	if (cap_valid(c->pd))
		quota_explain(c->pd, 0, 0, why, sizeof why);
	else
		quota_explain(in->env->pd, c->cfg->ram, c->cfg->caps, why, sizeof why);
	env_log(in->env, "child '%s': %s: %s", c->cfg->name, what, why);
}

int child_start(struct child *c)
{
	struct init *in = c->init;
	const char *what = "";
	uint64_t entry = 0, sp;
	struct startup_info si = {.magic = STARTUP_MAGIC};
	struct loader l = {.own_pd = in->env->pd};
	int rc = native_child_start(c); /* 1: not a native binary */

	if (rc <= 0)
		return rc;
	c->state = CHILD_RUNNING;
	if ((rc = child_open_sessions(c, 0, &what)))
		goto err;
	l.child_pd = c->pd;
	if ((rc = loader_load_binary(&l, c->rom, &entry, &what)) ||
	    (rc = child_create_thread(c, &what, &si.thread_nr, &si.utcb,
				      &si.thread_badge)))
		goto err;
	si.parent_badge = c->parent_obj.badge;
	if ((rc = loader_make_stack(&l, &si, &sp, &what)))
		goto err;
	what = "cannot watch it for faults";
	if ((rc = cpu_exception_irq(c->cpu, &c->exc_irq)) ||
	    (rc = ep_irq_handler(in->env->ep, c->exc_irq, child_fault, c)))
		goto err;
	what = "cannot start its thread";
	if ((rc = cpu_start(c->cpu, c->thread, entry, sp)))
		goto err;
	return 0;
err:
	if (!strcmp(what, "not found") || rc == -ENOEXEC)
		env_log(in->env, "child '%s': binary '%s': %s", c->cfg->name,
			c->cfg->binary, what);
	else if (rc == -EDQUOT)
		child_quota_error(c, what);
	else
		env_log(in->env, "child '%s': %s: %s", c->cfg->name, what, strerror(-rc));
	c->state = CHILD_FAILED;
	c->exit_code = rc;
	child_destroy(c);
	return rc;
}

static void drop(cap_t *c)
{
	if (c->idx)
		cap_release(*c);
	*c = CAP_INVALID;
}

/* Close the sessions the child opened through init: quota back to its
 * PD, which returns it to init when it is closed below. */
static void close_child_sessions(struct child *c)
{
	while (c->nsessions)
		session_close(c, c->nsessions - 1);
}

void child_destroy(struct child *c)
{
	struct init *in = c->init;

	close_child_sessions(c);
	free(c->session);
	c->session = NULL;
	c->session_room = 0;
	session_drop_served_by(c);
	for (int i = 0; i < c->nservices; i++)
		drop(&c->service[i].root);
	c->nservices = 0;
	free(c->service);
	c->service = NULL;
	if (c->parent_obj.cap.idx)
		ep_dissolve(in->env->ep, &c->parent_obj);
	memset(&c->parent_obj, 0, sizeof c->parent_obj);
	drop(&c->thread);
	if (c->exc_irq.idx)
		ep_irq_dissolve(in->env->ep, c->exc_irq);
	drop(&c->exc_irq);
	/* CPU first: its threads go before the PD they run in */
	init_session_close_parent(in, c->cpu);
	drop(&c->cpu);
	init_session_close_parent(in, c->log);
	drop(&c->log);
	init_session_close_parent(in, c->rom);
	drop(&c->rom);
	init_session_close_parent(in, c->pd);
	drop(&c->pd);
	/* its threads are gone with its sessions: nothing runs on it */
	free(c->native);
	c->native = NULL;
}
