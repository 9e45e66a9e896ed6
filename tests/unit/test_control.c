/*
 * The control registry (tools/control.c): registration rules, the
 * mailbox protocol and the line raise, with a fake endpoint served by
 * the root thread of a booted node and a host pthread as the client.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <capsule/abi.h>
#include <capsule/native.h>
#include <base/env.h>
#include "core/core.h"
#include "tools/control.h"

#define IRQ_KCAP    KCAP(0x350)
#define ROOT_THREAD KCAP_THREAD(0, THREAD_SLOT_GATE)

static int failed_line;
#define CHECK(c)                                                                         \
	do {                                                                             \
		if (!(c)) {                                                              \
			fprintf(stderr, "CHECK failed line %d: %s\n", __LINE__, #c);     \
			failed_line = __LINE__;                                          \
			kernel_stop(1000 + __LINE__);                                    \
		}                                                                        \
	} while (0)

static uint64_t kcall3(uint64_t kcap, unsigned proto, uint64_t a, uint64_t b, uint64_t c)
{
	struct utcb *u = kernel_native_utcb();
	uint64_t label;

	u->mr[0] = a;
	u->mr[1] = b;
	u->mr[2] = c;
	return kernel_native_invoke(kcap, TAG(SYS_OP_CALL, proto, 3, 0),
				    SYS_TIMEOUT_NEVER, &label);
}

static struct control_request make_req(enum control_op op, const char *name,
				       const char *path)
{
	struct control_request r = {.op = op};

	snprintf(r.name, sizeof(r.name), "%s", name);
	snprintf(r.path, sizeof(r.path), "%s", path);
	return r;
}

/* ---- registry alone ------------------------------------------------------- */

/* names are unique and valid; the table is finite; unregister frees a name */
static void register_rules(void **state)
{
	struct control_mailbox *mb[CONTROL_ENDPOINTS], *a;
	unsigned line, seen = 0;
	char name[16];

	assert_null(control_register("", CONTROL_PS, &line));
	assert_null(control_register("a b", CONTROL_PS, &line));
	for (unsigned i = 0; i < CONTROL_ENDPOINTS; i++) {
		snprintf(name, sizeof(name), "ep%u", i);
		mb[i] = control_register(name, CONTROL_PS, &line);
		assert_non_null(mb[i]);
		assert_true(line < CONTROL_ENDPOINTS && !(seen & (1u << line)));
		seen |= 1u << line;
	}
	assert_null(control_register("one-more", CONTROL_PS, &line));
	assert_null(control_register("ep3", CONTROL_PS, &line));
	control_unregister(mb[3]);
	assert_false(control_exists("ep3"));
	a = control_register("ep3", CONTROL_PS, &line);
	assert_ptr_equal(a, mb[3]);
	control_reset();
	assert_false(control_exists("ep0"));
}

/* no endpoint, op outside the mask, line not bound: clean errors */
static void call_errors(void **state)
{
	struct control_request r = make_req(CONTROL_CHECKPOINT, "x", "/tmp/x");
	unsigned line;

	assert_int_equal(control_call(&r, NULL, NULL), -ENOENT);
	assert_non_null(control_register("x", CONTROL_PS, &line));
	assert_int_equal(control_call(&r, NULL, NULL), -EOPNOTSUPP);
	r.op = CONTROL_PS;
	assert_int_equal(control_call(&r, NULL, NULL), -ENODEV); /* no node */
	assert_int_equal(control_call(&r, NULL, NULL), -ENODEV); /* not left busy */
	control_reset();
}

/* cancel: only an endpoint serving a request has something to cancel */
static void cancel_rules(void **state)
{
	unsigned line;
	struct control_mailbox *mb = control_register("c1", CONTROL_CHECKPOINT, &line);

	assert_non_null(mb);
	assert_int_equal(control_cancel("nobody"), -ENOENT);
	assert_int_equal(control_cancel("c1"), -ESRCH); /* idle */
	assert_false(control_cancelled(mb));
	assert_false(control_cancelled(NULL));
	control_reset();
	assert_int_equal(control_cancel("c1"), -ENOENT);
}

/* ---- a fake endpoint inside a node -------------------------------------- */

static struct control_mailbox *fake_mb;
static unsigned fake_line;
static atomic_int fake_ready;
static int fake_answer; /* 0: answer requests; 1: take one and stop; 2: answer one */

static void fake_root(void *arg)
{
	struct control_request req;
	uint64_t label;

	CHECK(fake_mb != NULL);
	kernel_native_utcb()->br[0] = IRQ_KCAP;
	CHECK(!TAG_ERROR(kcall3(KCAP(FIXED_FACTORY), PROTO_FACTORY, FACTORY_IRQ, 0, 0)));
	CHECK(!TAG_ERROR(kcall3(IRQ_KCAP, PROTO_IRQ, IRQ_BIND, ROOT_THREAD, 0x80)));
	CHECK(!TAG_ERROR(kcall3(IRQ_KCAP, PROTO_IRQ, IRQ_LINE, fake_line, 0)));
	CHECK(control_take(fake_mb, &req) == -EAGAIN);
	atomic_store(&fake_ready, 1);
	for (int i = 0; i < 2; i++) {
		CHECK(!TAG_ERROR(kernel_native_invoke(IRQ_KCAP, TAG(SYS_OP_WAIT, 0, 0, 0),
						      SYS_TIMEOUT_NEVER, &label)));
		CHECK(control_take(fake_mb, &req) == 0);
		CHECK(control_take(fake_mb, &req) == -EAGAIN);
		if (fake_answer == 1)
			break;
		CHECK(req.op == CONTROL_CHECKPOINT && !strcmp(req.path, "/img"));
		control_progress(fake_mb, 50);
		if (i == 0) { /* the meter: read by the waiting caller every 1/4 s */
			control_meter_start(fake_mb, 100);
			control_meter_add(fake_mb, 40);
			usleep(600000);
		}
		control_reply(fake_mb, "line %d\nwith newline", i);
		control_done(fake_mb, "ok %s %s", req.name, req.path);
		control_reply(fake_mb, "after done: dropped");
		if (fake_answer == 2)
			break;
	}
	kernel_stop(0);
}

struct client {
	struct control_request req;
	int rc[2];
	char lines[8][128];
	int nlines;
};

static void client_line(const char *line, void *arg)
{
	struct client *c = arg;

	if (c->nlines < 8)
		snprintf(c->lines[c->nlines++], sizeof(c->lines[0]), "%s", line);
}

static void *client_thread(void *arg)
{
	struct client *c = arg;

	while (!atomic_load(&fake_ready))
		usleep(1000);
	for (int i = 0; i < (fake_answer ? 1 : 2); i++)
		c->rc[i] = control_call(&c->req, client_line, c);
	return NULL;
}

/* two requests through the line: progress, reply and final lines in order */
static void fake_endpoint(void **state)
{
	struct client c = {.req = make_req(CONTROL_CHECKPOINT, "fake", "/img")};
	pthread_t th;

	failed_line = 0;
	fake_answer = 0;
	atomic_store(&fake_ready, 0);
	fake_mb = control_register("fake", CONTROL_CHECKPOINT, &fake_line);
	assert_int_equal(pthread_create(&th, NULL, client_thread, &c), 0);
	assert_int_equal(kernel_boot(fake_root, NULL), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(failed_line, 0);
	assert_int_equal(c.rc[0], 0);
	assert_int_equal(c.rc[1], 0);
	/* the first request's meter gave one line among its own, once */
	assert_int_equal(c.nlines, 7);
	int bytes = -1;
	for (int i = 0; i < c.nlines; i++)
		if (!strncmp(c.lines[i], "progress: bytes", 15)) {
			assert_int_equal(bytes, -1);
			bytes = i;
		}
	assert_true(bytes >= 0 &&
		    bytes <=
			2); /* the meter may be read before the 50% line is forwarded */
	assert_string_equal(c.lines[bytes], "progress: bytes 40 100");
	for (int i = bytes; i < c.nlines - 1; i++)
		memcpy(c.lines[i], c.lines[i + 1], sizeof c.lines[i]);
	assert_string_equal(c.lines[0], "progress: 50%");
	assert_string_equal(c.lines[1], "line 0 with newline");
	assert_string_equal(c.lines[2], "ok fake /img");
	assert_string_equal(c.lines[4], "line 1 with newline");
	control_reset();
}

/* control_call_at: the hook gets the final line on the answering thread
 * (the node's), before the caller is woken */
static struct {
	pthread_t thread;
	char line[128];
	int calls, caller_back; /* caller_back: the call had returned */
	atomic_int returned;
} at_seen;

static void at_hook(const char *line, void *arg)
{
	at_seen.thread = pthread_self();
	snprintf(at_seen.line, sizeof at_seen.line, "%s", line);
	at_seen.calls++;
	usleep(100000); /* a caller woken before this returns would show */
	at_seen.caller_back = atomic_load(&at_seen.returned);
}

static void *at_client_thread(void *arg)
{
	struct client *c = arg;

	while (!atomic_load(&fake_ready))
		usleep(1000);
	c->rc[0] = control_call_at(&c->req, client_line, c, at_hook, NULL);
	atomic_store(&at_seen.returned, 1);
	return NULL;
}

static void final_line_hook_on_the_node_thread(void **state)
{
	struct client c = {.req = make_req(CONTROL_CHECKPOINT, "fake", "/img")};
	pthread_t th;

	failed_line = 0;
	fake_answer = 2;
	atomic_store(&fake_ready, 0);
	atomic_store(&at_seen.returned, 0);
	fake_mb = control_register("fake", CONTROL_CHECKPOINT, &fake_line);
	assert_int_equal(pthread_create(&th, NULL, at_client_thread, &c), 0);
	assert_int_equal(kernel_boot(fake_root, NULL), 0); /* on this thread */
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(failed_line, 0);
	assert_int_equal(c.rc[0], 0);
	assert_int_equal(at_seen.calls, 1);
	assert_string_equal(at_seen.line, "ok fake /img");
	assert_true(pthread_equal(at_seen.thread, pthread_self()));
	assert_int_equal(at_seen.caller_back, 0);
	/* the caller still got every line, the final one last */
	assert_true(c.nlines >= 1);
	assert_string_equal(c.lines[c.nlines - 1], "ok fake /img");
	control_reset();
}

/* the node ends with a request taken but unanswered: the caller is failed */
static void node_stops_mid_request(void **state)
{
	struct client c = {.req = make_req(CONTROL_CHECKPOINT, "fake", "/img")};
	pthread_t th;

	failed_line = 0;
	fake_answer = 1;
	atomic_store(&fake_ready, 0);
	fake_mb = control_register("fake", CONTROL_CHECKPOINT, &fake_line);
	assert_int_equal(pthread_create(&th, NULL, client_thread, &c), 0);
	assert_int_equal(kernel_boot(fake_root, NULL), 0);
	control_reset(); /* what `capsule node` does when the node ended */
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(failed_line, 0);
	assert_int_equal(c.rc[0], -ESHUTDOWN);
}

/* ---- a real endpoint: core's IRQ session, libbase's irq handler -------- */

static atomic_int svc_ready;
static int svc_fail;
#define SVC_CHECK(c)                                                                     \
	do {                                                                             \
		if (!(c) && !svc_fail) {                                                 \
			fprintf(stderr, "SVC_CHECK failed line %d: %s\n", __LINE__, #c); \
			svc_fail = __LINE__;                                             \
		}                                                                        \
	} while (0)

/* The answer to a freeze, from the entrypoint after the handler
 * returned (control_answer_later). */
static void svc_answer_later(void *arg)
{
	control_done(arg, "ok svc later");
}

/* svc3: the answer is made whole while the caller forwards a line of it */
static atomic_int svc3_line_read, svc3_done;

static void svc_request(struct control_mailbox *mb, const struct control_request *req,
			void *arg)
{
	if (!strcmp(req->path, "/tmp/svc3.img")) {
		control_reply(mb, "first line");
		for (int i = 0; i < 5000 && !atomic_load(&svc3_line_read); i++)
			usleep(1000);
		control_done(mb, "ok %s %s", req->name, req->path);
		atomic_store(&svc3_done, 1);
		return;
	}
	if (req->op == CONTROL_FREEZE) {
		control_answer_later(mb);
		ep_defer(ep_main(), svc_answer_later, mb);
		return;
	}
	control_progress(mb, 100);
	control_done(mb, "ok %s %s", req->name, req->path);
}

/* init's construct: open endpoint "svc", then probe the IRQ session rules */
static void svc_init(struct env *env, void *arg)
{
	struct control_mailbox *mb, *other;
	unsigned line;
	char args[32];
	cap_t s1, s2;

	SVC_CHECK(!control_endpoint_open(env, "svc", CONTROL_CHECKPOINT | CONTROL_FREEZE,
					 svc_request, NULL, &mb));
	SVC_CHECK(control_endpoint_open(env, "svc", CONTROL_CHECKPOINT, svc_request, NULL,
					&other) == -EEXIST);
	other = control_register("raw", CONTROL_PS, &line);
	SVC_CHECK(other != NULL);
	snprintf(args, sizeof(args), "line=%u", line);
	SVC_CHECK(!env_session(env, "IRQ", args, &s1));
	SVC_CHECK(env_session(env, "IRQ", args, &s2) == -EBUSY); /* one per line */
	SVC_CHECK(env_session(env, "IRQ", "label=\"x\"", &s2) == -EINVAL); /* no line */
	SVC_CHECK(!parent_close(env->parent, s1));
	SVC_CHECK(!env_session(env, "IRQ", args, &s2)); /* the line is free again */
	control_unregister(other);
	atomic_store(&svc_ready, 1);
}

struct svc_client {
	int rc_ps, rc_ckpt, rc_restore, rc_later, rc_stop, rc_next, rc_mid;
	struct client ps, ckpt, later, next, mid;
};

/* A client that sends its next request as soon as it has read the final
 * line of the one before, as a second `capsule` command does. */
static void next_at_once(const char *line, void *arg)
{
	struct svc_client *c = arg;
	struct control_request r = make_req(CONTROL_CHECKPOINT, "svc", "/tmp/svc2.img");

	if (!strncmp(line, "ok ", 3))
		c->rc_next = control_call(&r, client_line, &c->next);
}

/* The caller is still passing on "first line" (without the lock) when
 * the handler makes the answer whole: the final line must not reach the
 * client before the slot is idle (`capsule ps` right after another was
 * refused "busy" that way). */
static void mid_line(const char *line, void *arg)
{
	struct svc_client *c = arg;
	struct control_request r = make_req(CONTROL_CHECKPOINT, "svc", "/tmp/svc4.img");

	if (!strcmp(line, "first line")) {
		atomic_store(&svc3_line_read, 1);
		for (int i = 0; i < 5000 && !atomic_load(&svc3_done); i++)
			usleep(1000);
	} else if (!strncmp(line, "ok ", 3)) {
		c->rc_mid = control_call(&r, client_line, &c->mid);
	}
}

static void *svc_client_thread(void *arg)
{
	struct svc_client *c = arg;
	struct control_request r;

	while (!atomic_load(&svc_ready))
		usleep(1000);
	r = make_req(CONTROL_PS, "core", "");
	c->rc_ps = control_call(&r, client_line, &c->ps);
	r = make_req(CONTROL_CHECKPOINT, "svc", "/tmp/svc.img");
	c->rc_ckpt = control_call(&r, client_line, &c->ckpt);
	c->rc_next = 1;
	if (control_call(&r, next_at_once, c))
		c->rc_next = 2;
	r = make_req(CONTROL_CHECKPOINT, "svc", "/tmp/svc3.img");
	c->rc_mid = 1;
	if (control_call(&r, mid_line, c))
		c->rc_mid = 2;
	r = make_req(CONTROL_RESTORE, "svc", "/tmp/svc.img");
	c->rc_restore = control_call(&r, NULL, NULL);
	r = make_req(CONTROL_FREEZE, "svc", "/tmp/svc.img");
	c->rc_later = control_call(&r, client_line, &c->later);
	r = make_req(CONTROL_STOP, "core", "");
	c->rc_stop = control_call(&r, NULL, NULL);
	return NULL;
}

/* core (serving) and init as the endpoint: ps, a request, stop */
static void endpoint_through_core(void **state)
{
	const char *dirs[1] = {"/nonexistent"};
	struct core_config cfg = {
	    .rom_dirs = dirs, .nrom = 1, .serve = 1, .init_construct = svc_init};
	struct svc_client c = {0};
	pthread_t th;
	int found = 0;

	atomic_store(&svc_ready, 0);
	atomic_store(&svc3_line_read, 0);
	atomic_store(&svc3_done, 0);
	svc_fail = 0;
	assert_int_equal(pthread_create(&th, NULL, svc_client_thread, &c), 0);
	assert_int_equal(kernel_boot(core_main, &cfg), 0);
	control_reset();
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(cfg.status, 0);
	assert_int_equal(svc_fail, 0);
	assert_int_equal(c.rc_ps, 0);
	for (int i = 0; i < c.ps.nlines; i++)
		found |= !strncmp(c.ps.lines[i], "pd \"init\" task=0x", 17);
	assert_true(found);
	assert_int_equal(c.rc_ckpt, 0);
	assert_int_equal(c.ckpt.nlines, 2);
	assert_string_equal(c.ckpt.lines[0], "progress: 100%");
	assert_string_equal(c.ckpt.lines[1], "ok svc /tmp/svc.img");
	/* the slot is idle once the final line can be read (it was "busy") */
	assert_int_equal(c.rc_next, 0);
	assert_int_equal(c.next.nlines, 2);
	assert_string_equal(c.next.lines[1], "ok svc /tmp/svc2.img");
	/* also when the answer was made whole while a line of it was passed on */
	assert_int_equal(c.rc_mid, 0);
	assert_int_equal(c.mid.nlines, 2);
	assert_string_equal(c.mid.lines[1], "ok svc /tmp/svc4.img");
	assert_int_equal(c.rc_restore, -EOPNOTSUPP);
	/* answered after the handler returned, not "not answered" */
	assert_int_equal(c.rc_later, 0);
	assert_int_equal(c.later.nlines, 1);
	assert_string_equal(c.later.lines[0], "ok svc later");
	assert_int_equal(c.rc_stop, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(register_rules),
	    cmocka_unit_test(call_errors),
	    cmocka_unit_test(cancel_rules),
	    cmocka_unit_test(fake_endpoint),
	    cmocka_unit_test(node_stops_mid_request),
	    cmocka_unit_test(final_line_hook_on_the_node_thread),
	    cmocka_unit_test(endpoint_through_core),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
