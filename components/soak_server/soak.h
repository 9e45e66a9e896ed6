/* The "Soak" service of soak_server (tests/cr/soak.sh).  A session is an
 * object of its own, tied to a slot named by the client's label, so that
 * a client whose session is opened again (a restore) keeps its counts.
 *
 *   SOAK_HELLO  cap: the client's signal context; reply: the server's,
 *               except to the checkpointed client (below)
 *   SOAK_ADD    w0: the client's sequence number, 1, 2, 3, ...
 *   SOAK_DONE   w0: calls sent, w1: signals submitted to the server;
 *               reply w0: calls counted, w1: sequence errors, w2: signals
 *               the server submitted to the client
 *
 * The ROM "soak.cfg" holds "SECONDS CLIENTS NAME": how long each client
 * sends, how many DONEs the server waits for before its own total, and
 * the label of the client that runs under a monitor.  That one gets no
 * cap of the server: a cap that comes in the reply of a session that
 * stays outside the monitor cannot be checkpointed (the monitor does not
 * see it handed out, docs/cr.md), so it only receives signals. */
#ifndef SOAK_H
#define SOAK_H

#include <base/env.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { SOAK_HELLO = 1, SOAK_ADD, SOAK_DONE };

#define SOAK_SIG_EVERY 8 /* the server signals a client every 8th call */

/* "SECONDS CLIENTS [NAME]" of the ROM soak.cfg, read once at start (nothing of
 * it stays attached: a checkpointed client holds no ROM for it); 0 or
 * -errno. */
static inline int soak_config(struct env *env, unsigned *seconds, unsigned *clients,
			      char *name, unsigned name_size)
{
	cap_t rom, ds;
	uint64_t size, at;
	char buf[96] = {0}, *end;
	int rc;

	if ((rc = env_session(env, "ROM", "label=\"soak.cfg\"", &rom)))
		return rc;
	if (!(rc = rom_dataspace(rom, &ds, &size))) {
		if (!(rc = pd_attach(env->pd, ds, 0, 0, 0, MEM_R, &at))) {
			memcpy(buf, (const void *)(uintptr_t)at,
			       size < sizeof buf - 1 ? size : sizeof buf - 1);
			pd_detach(env->pd, at);
		}
		cap_release(ds);
	}
	parent_close(env->parent, rom);
	cap_release(rom);
	if (rc)
		return rc;
	*seconds = (unsigned)strtoul(buf, &end, 10);
	*clients = (unsigned)strtoul(end, &end, 10);
	while (*end == ' ')
		end++;
	for (unsigned n = 0; name && name_size; n++)
		if (n + 1 == name_size || !end[n] || end[n] == ' ' || end[n] == '\n') {
			name[n] = 0;
			break;
		} else {
			name[n] = end[n];
		}
	return *seconds && *clients ? 0 : -EINVAL;
}

#endif
