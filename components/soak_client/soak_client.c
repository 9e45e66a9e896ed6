/*
 * soak_client: the sending end of the soak test (tests/cr/soak.sh), also
 * run as the checkpointed target of a monitor.  Every TICK_US (a periodic
 * Timer signal, handled on the entrypoint like the server's signals) it
 * sends BATCH calls SOAK_ADD with its next sequence numbers and submits
 * one signal to the server (if it got the server's context, soak.h), for
 * the SECONDS of soak.cfg.  The counters
 * live in its memory, so a restored client goes on from what its
 * checkpoint holds: a correct restore neither repeats nor skips a call.
 * Then SOAK_DONE: the server's counts must equal its own, and the
 * signals the server says it submitted must all arrive (within 5 s).
 * Logs "soak_client: LABEL: sent N counted N errors 0, signals sent S,
 * from the server R of X: ok" and exits 0, or 1 on any mismatch.
 */
#include <base/env.h>
#include <base/signal.h>
#include <base/timer.h>
#include <errno.h>

#include "../soak_server/soak.h"

#define TICK_US	 5000
#define BATCH	 8
#define GRACE_MS 5000

static struct env *cl_env;
static struct signal_handler tick, sig_in;
static cap_t timer, soak, server_ctx;
static uint64_t seq, sig_sent, sig_received, start_us, end_us;
static uint64_t counted, errors, sig_expected, failures;
static unsigned grace_ticks;
static enum { SENDING, DRAINING, ENDED } phase;

static void fail(const char *what, int rc)
{
	if (failures++ < 5)
		env_log(cl_env, "soak_client: %s failed: %d", what, rc);
}

static int call(struct msg *m)
{
	int rc = rpc_call(soak, m);

	if (!rc && m->code != RPC_OK)
		rc = -EPROTO;
	return rc;
}

static void end(void)
{
	int ok = !failures && counted == seq && !errors && sig_received == sig_expected;

	phase = ENDED;
	env_log(cl_env,
		"soak_client: %s: sent %llu counted %llu errors %llu, signals sent %llu, "
		"from the server %llu of %llu: %s",
		cl_env->label, (unsigned long long)seq, (unsigned long long)counted,
		(unsigned long long)errors, (unsigned long long)sig_sent,
		(unsigned long long)sig_received, (unsigned long long)sig_expected,
		ok ? "ok" : "MISMATCH");
	env_exit(cl_env, ok ? 0 : 1);
}

static void done(void)
{
	struct msg m;
	int rc;

	msg_reset(&m, SOAK_DONE);
	msg_put(&m, seq);
	msg_put(&m, sig_sent);
	if ((rc = call(&m)) || m.nwords < 3) {
		fail("SOAK_DONE", rc ? rc : -EPROTO);
		end();
	}
	counted = m.w[0];
	errors = m.w[1];
	sig_expected = m.w[2];
	phase = DRAINING;
}

static void send_batch(void)
{
	struct msg m;
	int rc;

	for (unsigned i = 0; i < BATCH; i++) {
		uint64_t next = seq + 1;

		msg_reset(&m, SOAK_ADD);
		msg_put(&m, next);
		if ((rc = call(&m)))
			return fail("SOAK_ADD", rc);
		seq = next;
	}
	if (!cap_valid(server_ctx))
		return;
	if ((rc = signal_submit(cl_env, server_ctx, 1)))
		return fail("signal_submit", rc);
	sig_sent++;
}

static void on_tick(void *arg, unsigned count)
{
	uint64_t now;
	int rc;

	(void)arg;
	(void)count;
	if (phase == SENDING) {
		if ((rc = timer_elapsed_us(timer, &now)))
			return fail("elapsed", rc);
		if (now < end_us)
			return send_batch();
		return done();
	}
	if (phase == DRAINING && (sig_received >= sig_expected ||
				  ++grace_ticks * (TICK_US / 1000) >= GRACE_MS))
		end();
}

static void on_signal(void *arg, unsigned count)
{
	(void)arg;
	sig_received += count;
}

void component_construct(struct env *env)
{
	unsigned seconds, clients;
	struct msg m;
	int rc;

	cl_env = env;
	if ((rc = soak_config(env, &seconds, &clients, NULL, 0)) ||
	    (rc = signal_handler_init(env, &tick, on_tick, NULL)) ||
	    (rc = signal_handler_init(env, &sig_in, on_signal, NULL)) ||
	    (rc = env_session(env, "Soak", "", &soak))) {
		env_log(env, "soak_client: cannot start: %d", rc);
		env_exit(env, 1);
	}
	msg_reset(&m, SOAK_HELLO);
	msg_put_cap(&m, sig_in.context);
	if ((rc = call(&m))) {
		env_log(env, "soak_client: SOAK_HELLO failed: %d", rc);
		env_exit(env, 1);
	}
	/* none for the client under the monitor (soak.h): it sends no signals */
	server_ctx = m.ncaps ? m.caps[0] : CAP_INVALID;
	if ((rc = timer_connect(env, &timer)) || (rc = timer_sigh(timer, tick.context)) ||
	    (rc = timer_elapsed_us(timer, &start_us)) ||
	    (rc = timer_periodic(timer, TICK_US))) {
		env_log(env, "soak_client: no timer: %d", rc);
		env_exit(env, 1);
	}
	end_us = start_us + seconds * 1000000ull;
	env_log(env, "soak_client: sending for %u s", seconds);
}
