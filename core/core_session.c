/*
 * core's sessions: the table of session types (one entry per service),
 * creation by service name, lookup of a session cap a client passes
 * back, close, upgrade, and freeing what a finished node left.  What a
 * session of a type is and does lives in that type's file; this file only
 * dispatches through its ops.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/core_internal.h"

/* core's services.  A new session type is one more entry here (and its
 * ops in its own file). */
static const struct core_session_ops *const core_session_types[] = {
    &pd_session_ops,	&cpu_session_ops, &log_session_ops, &rom_session_ops,
    &timer_session_ops, &rm_session_ops,  &irq_session_ops,
};

#define CORE_SESSION_NTYPES (sizeof core_session_types / sizeof core_session_types[0])

unsigned core_session_ntypes(void)
{
	return CORE_SESSION_NTYPES;
}

const struct core_session_ops *core_session_type_at(unsigned i)
{
	return i < CORE_SESSION_NTYPES ? core_session_types[i] : NULL;
}

const struct core_session_ops *core_session_type(const char *service)
{
	for (unsigned i = 0; i < CORE_SESSION_NTYPES; i++)
		if (!strcmp(core_session_types[i]->name, service))
			return core_session_types[i];
	return NULL;
}

void core_session_add(struct core *c, struct core_session *s,
		      const struct core_session_ops *type, const char *label)
{
	s->ops = type;
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

struct core_session *core_session_find(struct core *c, cap_t cap,
				       const struct core_session_ops *type)
{
	return cap_valid(cap) ? core_session_by_badge(c, cap_badge(cap), type) : NULL;
}

struct core_session *core_session_by_badge(struct core *c, uint64_t badge,
					   const struct core_session_ops *type)
{
	for (struct core_session *s = c->sessions; s; s = s->next)
		if (s->obj.badge == badge && (!type || s->ops == type))
			return s;
	return NULL;
}

/* The client chose the name: print only its printable prefix, so that it
 * cannot forge lines in core's messages. */
static int core_service_printable_len(const char *service)
{
	int n = 0;

	while (service[n] && (unsigned char)service[n] >= 0x20 && service[n] != 0x7f)
		n++;
	return n;
}

int core_session_create(struct core *c, const char *service, const char *args,
			struct pd_session *donor, struct core_parent *owner,
			struct core_session **out)
{
	const struct core_session_ops *type = core_session_type(service);
	struct core_session *s = NULL;
	int err;

	if (!type) {
		fprintf(stderr,
			"core: session request for service \"%.*s\": no such service\n",
			core_service_printable_len(service), service);
		return -ENOENT;
	}
	err = type->create(c, args, donor, &s);
	if (err)
		return err;
	s->owner = owner;
	*out = s;
	return 0;
}

void core_session_close(struct core *c, struct core_session *s)
{
	s->ops->close(c, s);
}

int core_session_upgrade(struct core_session *s, struct pd_session *from, uint64_t ram,
			 uint64_t caps)
{
	return s->ops->upgrade ? s->ops->upgrade(s, from, ram, caps) : 0;
}

void core_forget(struct core *c)
{
	/* references first: attachments hold dataspaces and managed
	 * dataspaces of other sessions */
	for (struct core_session *s = c->sessions; s; s = s->next)
		if (s->ops->forget_refs)
			s->ops->forget_refs(s);
	for (struct core_session *s = c->sessions, *n; s; s = n) {
		n = s->next;
		s->ops->forget(s);
	}
	for (struct core_parent *p = c->parents, *n; p; p = n) {
		n = p->next;
		free(p);
	}
	timer_service_forget(c);
	c->sessions = NULL;
	c->parents = NULL;
}
