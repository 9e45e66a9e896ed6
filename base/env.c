/*
 * The component environment: log, session requests, announce, exit.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "platform.h"

#define ENV_LINE_MAX 1024
/* bytes of one LOG_WRITE: the payload minus its length word */
#define ENV_LOG_CHUNK ((MSG_MAX_WORDS - 1) * 8)
#define ENV_RETRY_US  1000

void env_log(struct env *env, const char *fmt, ...)
{
	char line[ENV_LINE_MAX];
	size_t len, off = 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	len = strlen(line);
	if (!cap_valid(env->log)) {
		base_console(env->label ? env->label : "?", line);
		return;
	}
	do {
		size_t chunk = len - off > ENV_LOG_CHUNK ? ENV_LOG_CHUNK : len - off;

		if (log_write(env->log, line + off, chunk))
			return;
		off += chunk;
	} while (off < len);
}

/* Closed wait on nobody: sleep for us microseconds. */
static void env_sleep(uint64_t us)
{
	uint64_t label;

	sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), us, &label);
}

int env_session(struct env *env, const char *service, const char *args, cap_t *out)
{
	int err;

	if (!service || !out)
		return -EINVAL;
	/* the service may be announced later: ask until the parent knows */
	while ((err = parent_session(env->parent, service, args ? args : "", out)) ==
	       -EAGAIN)
		env_sleep(ENV_RETRY_US);
	return err;
}

uint64_t env_rom_number(struct env *env, const char *label, uint64_t dflt)
{
	char args[64], buf[24] = {0};
	uint64_t size, at, v;
	cap_t rom, ds;

	snprintf(args, sizeof args, "label=\"%s\"", label);
	if (env_session(env, "ROM", args, &rom))
		return dflt;
	if (rom_dataspace(rom, &ds, &size) ||
	    pd_attach(env->pd, ds, 0, 0, 0, MEM_R, &at)) {
		parent_close(env->parent, rom);
		cap_release(rom);
		return dflt;
	}
	memcpy(buf, (const void *)at, size < sizeof buf - 1 ? size : sizeof buf - 1);
	v = strtoull(buf, NULL, 10);
	pd_detach(env->pd, at);
	cap_release(ds);
	parent_close(env->parent, rom);
	cap_release(rom);
	return v;
}

int env_announce(struct env *env, const char *service, cap_t root)
{
	if (!service || !cap_valid(root))
		return -EINVAL;
	return parent_announce(env->parent, service, root);
}

void env_exit(struct env *env, int code)
{
	if (cap_valid(env->parent))
		parent_exit(env->parent, code);
	/* the parent ends us; until then, and if there is none, sleep */
	for (;;)
		env_sleep(SYS_TIMEOUT_NEVER);
}
