/*
 * LOG session: each LOG_WRITE prints "[label] line\n" on stdout, flushed
 * per line.  Component output is untrusted: control characters are
 * replaced by '?', embedded newlines start a new prefixed line, and a
 * line is cut at LOG_LINE_MAX bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "core/core_internal.h"
#include "core/session_args.h"

#define LOG_LINE_MAX 400

struct log_session {
	struct core_session s;
};

static void log_print(const char *label, const char *buf, uint64_t len)
{
	char line[LOG_LINE_MAX + 1];
	unsigned n = 0;

	for (uint64_t i = 0; i <= len; i++) {
		char ch = i < len ? buf[i] : '\n';
		if (ch == '\n') {
			if (i == len && n == 0 && len > 0 && buf[len - 1] == '\n')
				break; /* a trailing newline ends the line already */
			line[n] = 0;
			printf("[%s] %s\n", label, line);
			n = 0;
			continue;
		}
		if (n == LOG_LINE_MAX)
			continue;
		if (ch == '\t')
			ch = ' ';
		else if ((unsigned char)ch < 0x20 || ch == 0x7f)
			ch = '?';
		line[n++] = ch;
	}
	fflush(stdout);
}

static void log_dispatch(struct rpc_object *obj, struct msg *m)
{
	struct log_session *ls = container_of(obj, struct log_session, s.obj);
	char buf[MSG_MAX_WORDS * 8];
	uint64_t len;
	unsigned pos = 0;

	if (m->code != LOG_WRITE) {
		msg_reset(m, RPC_INVALID_OPCODE);
		return;
	}
	if (msg_get_bytes(m, &pos, buf, sizeof(buf), &len)) {
		core_reply_err(m, -EINVAL);
		return;
	}
	log_print(ls->s.label, buf, len);
	core_reply_ok(m);
}

int log_session_create(struct core *c, const char *args, struct core_session **out)
{
	struct log_session *ls = calloc(1, sizeof(*ls));
	char label[CORE_LABEL_MAX];

	if (!ls)
		return -ENOMEM;
	if (session_arg_str(args, "label", label, sizeof(label)))
		snprintf(label, sizeof(label), "?");
	if (!cap_valid(ep_manage(c->env->ep, &ls->s.obj, log_dispatch))) {
		free(ls);
		return -ENOSPC;
	}
	core_session_add(c, &ls->s, &log_session_ops, label);
	*out = &ls->s;
	return 0;
}

void log_session_destroy(struct core *c, struct core_session *s)
{
	core_session_remove(c, s);
	ep_dissolve(c->env->ep, &s->obj);
	free(container_of(s, struct log_session, s));
}

static int log_ops_create(struct core *c, const char *args, struct pd_session *donor,
			  struct core_session **out)
{
	return log_session_create(c, args, out);
}

static void log_ops_forget(struct core_session *s)
{
	free(container_of(s, struct log_session, s));
}

const struct core_session_ops log_session_ops = {
    .name = "LOG",
    .create = log_ops_create,
    .close = log_session_destroy,
    .forget = log_ops_forget,
};
