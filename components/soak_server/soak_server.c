/*
 * soak_server: the counting end of the soak test (tests/cr/soak.sh).
 * Announces "Soak"; each client (a slot named by its label) sends
 * SOAK_ADD with the sequence numbers 1, 2, 3, ... and the server counts a
 * call only if it carries the next number: a lost call shows as a gap, a
 * duplicated one as a repeat, both counted as sequence errors.  Every
 * SOAK_SIG_EVERY-th call it submits a signal to the client's context;
 * the signals clients submit to its own context are added up.  A client's
 * SOAK_DONE is answered with what the server counted for it; when every
 * client of soak.cfg is done and the signals they claim have arrived (or
 * 5 s later) the server logs its totals and exits (1 on any mismatch).
 */
#include <base/env.h>
#include <base/signal.h>
#include <base/timer.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "soak.h"

#define SLOTS	   64
#define LABEL_MAX  64
#define GRACE_MS   5000
#define ERRORS_LOG 5

struct slot {
	char label[LABEL_MAX];
	uint64_t last, counted, errors, sig_to, sig_refused, sent, sig_claimed;
	cap_t ctx; /* the client's signal context */
	int done;
};

struct session {
	struct rpc_object obj;
	struct slot *slot;
};

static struct env *srv_env;
static struct rpc_object root_obj;
static struct signal_handler sig_in, tick;
static struct slot slot[SLOTS];
static unsigned nslots, ndone, clients, errors_logged, grace_ticks;
static uint64_t sig_received;
static cap_t timer;
static char monitored[LABEL_MAX]; /* soak.cfg's NAME */

static void reply_error(struct msg *m, int err)
{
	msg_reset(m, RPC_ERROR);
	msg_put(m, (uint64_t)(int64_t)err);
}

static void finish(void)
{
	uint64_t sent = 0, counted = 0, errors = 0, claimed = 0;
	int ok;

	for (unsigned i = 0; i < nslots; i++) {
		sent += slot[i].sent;
		counted += slot[i].counted;
		errors += slot[i].errors;
		claimed += slot[i].sig_claimed;
	}
	ok = sent == counted && !errors && claimed == sig_received;
	env_log(srv_env,
		"soak_server: total: %u clients, calls sent %llu counted %llu, sequence "
		"errors %llu, signals from clients %llu of %llu: %s",
		nslots, (unsigned long long)sent, (unsigned long long)counted,
		(unsigned long long)errors, (unsigned long long)sig_received,
		(unsigned long long)claimed, ok ? "ok" : "MISMATCH");
	env_exit(srv_env, ok ? 0 : 1);
}

/* Once every client is done: when the signals they claim are all here,
 * or GRACE_MS later, the totals. */
static void check_end(void)
{
	uint64_t claimed = 0;

	if (ndone < clients)
		return;
	for (unsigned i = 0; i < nslots; i++)
		claimed += slot[i].sig_claimed;
	if (sig_received >= claimed || grace_ticks * 100 >= GRACE_MS)
		finish();
}

static void check_end_deferred(void *arg)
{
	(void)arg;
	check_end();
}

static void on_signal(void *arg, unsigned count)
{
	(void)arg;
	sig_received += count;
	check_end();
}

static void on_tick(void *arg, unsigned count)
{
	(void)arg;
	(void)count;
	if (ndone >= clients)
		grace_ticks++;
	check_end();
}

static void add(struct slot *s, struct msg *m)
{
	uint64_t seq = m->nwords ? m->w[0] : 0;

	if (seq == s->last + 1) {
		s->last = seq;
		/* a submit that fails is counted apart: the context of a
		 * client restored by its monitor is a new object, and the cap
		 * the server holds names the old one */
		if (++s->counted % SOAK_SIG_EVERY == 0 && cap_valid(s->ctx)) {
			if (signal_submit(srv_env, s->ctx, 1))
				s->sig_refused++;
			else
				s->sig_to++;
		}
	} else {
		s->errors++;
		if (errors_logged++ < ERRORS_LOG)
			env_log(srv_env, "soak_server: %s: call %llu after %llu",
				s->label, (unsigned long long)seq,
				(unsigned long long)s->last);
	}
	msg_reset(m, RPC_OK);
}

static void done(struct slot *s, struct msg *m)
{
	if (m->nwords < 2)
		return reply_error(m, -EINVAL);
	s->sent = m->w[0];
	s->sig_claimed = m->w[1];
	if (!s->done++)
		ndone++;
	env_log(
	    srv_env,
	    "soak_server: %s: sent %llu counted %llu errors %llu, signals to it %llu, "
	    "submits refused %llu",
	    s->label, (unsigned long long)s->sent, (unsigned long long)s->counted,
	    (unsigned long long)s->errors, (unsigned long long)s->sig_to,
	    (unsigned long long)s->sig_refused);
	msg_reset(m, RPC_OK);
	msg_put(m, s->counted);
	msg_put(m, s->errors);
	msg_put(m, s->sig_to);
	ep_defer(srv_env->ep, check_end_deferred, NULL); /* after this reply */
}

static void session_dispatch(struct rpc_object *obj, struct msg *m)
{
	struct slot *s = ((struct session *)obj)->slot;

	switch (m->code) {
	case SOAK_ADD:
		return add(s, m);
	case SOAK_HELLO:
		if (m->ncaps < 1 || !cap_valid(m->caps[0]))
			return reply_error(m, -EINVAL);
		if (cap_valid(s->ctx))
			cap_release(s->ctx);
		s->ctx = cap_ref(m->caps[0]);
		msg_reset(m, RPC_OK);
		if (strcmp(s->label, monitored))
			msg_put_cap(m, sig_in.context);
		return;
	case SOAK_DONE:
		return done(s, m);
	default:
		msg_reset(m, RPC_INVALID_OPCODE);
	}
}

/* The slot of label="..." in args, made on first use. */
static struct slot *slot_of(const char *args)
{
	const char *p = strstr(args, "label=\"");
	char label[LABEL_MAX];
	unsigned n = 0;

	if (p)
		for (p += 7; *p && *p != '"' && n + 1 < sizeof label; p++)
			label[n++] = *p;
	label[n] = 0;
	for (unsigned i = 0; i < nslots; i++)
		if (!strcmp(slot[i].label, label))
			return &slot[i];
	if (nslots == SLOTS)
		return NULL;
	memcpy(slot[nslots].label, label, n + 1);
	slot[nslots].ctx = CAP_INVALID;
	return &slot[nslots++];
}

static void root_dispatch(struct rpc_object *obj, struct msg *m)
{
	struct session *s;
	char args[192];
	unsigned pos = 0;

	(void)obj;
	if (m->code == ROOT_CLOSE || m->code == ROOT_UPGRADE)
		return msg_reset(m, RPC_OK); /* a session lives as long as the server */
	if (m->code != ROOT_SESSION)
		return msg_reset(m, RPC_INVALID_OPCODE);
	if (msg_get_str(m, &pos, args, sizeof args))
		return reply_error(m, -EINVAL);
	s = calloc(1, sizeof *s);
	if (!s || !(s->slot = slot_of(args))) {
		free(s);
		return reply_error(m, -ENOSPC);
	}
	if (!cap_valid(ep_manage(srv_env->ep, &s->obj, session_dispatch))) {
		free(s);
		return reply_error(m, -ENOSPC);
	}
	msg_reset(m, RPC_OK);
	msg_put_cap(m, s->obj.cap);
}

void component_construct(struct env *env)
{
	unsigned seconds;
	int rc;

	srv_env = env;
	if ((rc = soak_config(env, &seconds, &clients, monitored, sizeof monitored)) ||
	    (rc = signal_handler_init(env, &sig_in, on_signal, NULL)) ||
	    (rc = signal_handler_init(env, &tick, on_tick, NULL)) ||
	    (rc = timer_connect(env, &timer)) || (rc = timer_sigh(timer, tick.context)) ||
	    (rc = timer_periodic(timer, 100000))) {
		env_log(env, "soak_server: cannot start: %d", rc);
		env_exit(env, 1);
	}
	if (!cap_valid(ep_manage(env->ep, &root_obj, root_dispatch)) ||
	    env_announce(env, "Soak", root_obj.cap)) {
		env_log(env, "soak_server: cannot announce Soak");
		env_exit(env, 1);
	}
	env_log(env, "soak_server: Soak announced, waiting for %u clients", clients);
}
