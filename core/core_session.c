/*
 * core's table of sessions: creation by service name, lookup of a
 * session cap a client passes back, close.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "core/core_internal.h"

void core_session_add(struct core *c, struct core_session *s, enum core_service type,
		      const char *label)
{
	s->type = type;
	strncpy(s->label, label ? label : "", sizeof(s->label) - 1);
	s->label[sizeof(s->label) - 1] = 0;
	s->next = c->sessions;
	c->sessions = s;
}

void core_session_remove(struct core *c, struct core_session *s)
{
	for (struct core_session **pp = &c->sessions; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			s->next = NULL;
			return;
		}
	}
}

struct core_session *core_session_find(struct core *c, cap_t cap, enum core_service type)
{
	uint64_t badge = cap_badge(cap);

	if (!cap_valid(cap))
		return NULL;
	for (struct core_session *s = c->sessions; s; s = s->next)
		if (s->obj.badge == badge && (!type || s->type == type))
			return s;
	return NULL;
}

int core_session_create(struct core *c, const char *service, const char *args,
			struct pd_session *donor, struct core_parent *owner,
			struct core_session **out)
{
	struct core_session *s = NULL;
	int err;

	if (!strcmp(service, "PD")) {
		struct pd_session *pd;
		err = pd_session_create(c, args, donor, &pd);
		if (!err)
			s = &pd->s;
	} else if (!strcmp(service, "CPU")) {
		struct cpu_session *cpu;
		err = cpu_session_create(c, args, &cpu);
		if (!err)
			s = &cpu->s;
	} else if (!strcmp(service, "LOG")) {
		err = log_session_create(c, args, &s);
	} else if (!strcmp(service, "ROM")) {
		err = rom_session_create(c, args, &s);
	} else if (!strcmp(service, "Timer")) {
		err = timer_session_create(c, args, &s);
	} else if (!strcmp(service, "RM")) {
		err = rm_session_create(c, args, &s);
	} else if (!strcmp(service, "IRQ")) {
		err = irq_session_create(c, args, &s);
	} else {
		return -ENOENT;
	}
	if (err)
		return err;
	s->owner = owner;
	*out = s;
	return 0;
}

void core_session_close(struct core *c, struct core_session *s)
{
	switch (s->type) {
	case SVC_PD:
		pd_session_destroy(container_of(s, struct pd_session, s));
		break;
	case SVC_CPU:
		cpu_session_destroy(container_of(s, struct cpu_session, s));
		break;
	case SVC_LOG:
		log_session_destroy(c, s);
		break;
	case SVC_ROM:
		rom_session_destroy(c, s);
		break;
	case SVC_TIMER:
		timer_session_destroy(c, s);
		break;
	case SVC_RM:
		rm_session_destroy(c, s);
		break;
	case SVC_IRQ:
		irq_session_destroy(c, s);
		break;
	}
}

/* Free one session's host memory without talking to the kernel. */
static void core_session_forget(struct core_session *s)
{
	if (s->type == SVC_PD) {
		struct pd_session *pd = container_of(s, struct pd_session, s);
		signal_pd_forget(pd);
		for (struct pd_gate *g = pd->gates, *n; g; g = n) {
			n = g->next;
			free(g);
		}
		for (struct pd_gate *g = pd->held, *n; g; g = n) {
			n = g->next;
			free(g);
		}
		free(pd);
	} else if (s->type == SVC_CPU) {
		struct cpu_session *cpu = container_of(s, struct cpu_session, s);
		for (struct cpu_thread *t = cpu->threads, *n; t; t = n) {
			n = t->next;
			free(t);
		}
		free(cpu);
	} else if (s->type == SVC_RM) {
		rm_session_forget(s);
	} else {
		rom_session_forget(s); /* frees LOG sessions too */
	}
}

void core_forget(struct core *c)
{
	/* attachments first: they hold references on the dataspaces */
	for (struct core_session *s = c->sessions; s; s = s->next) {
		struct pd_session *pd = container_of(s, struct pd_session, s);
		if (s->type != SVC_PD)
			continue;
		pd_memory_forget(pd);
	}
	for (struct core_session *s = c->sessions, *n; s; s = n) {
		n = s->next;
		core_session_forget(s);
	}
	for (struct core_parent *p = c->parents, *n; p; p = n) {
		n = p->next;
		free(p);
	}
	c->sessions = NULL;
	c->parents = NULL;
}
