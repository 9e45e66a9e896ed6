/*
 * The control endpoint registry: a fixed table of mailboxes in host
 * memory, one per registered endpoint, slot i raising external line i.
 *
 * A request goes IDLE -> POSTED (control_call, socket thread) -> TAKEN
 * (control_take, the component on the node thread) -> DONE
 * (control_done) -> IDLE (control_call has passed the last line on).
 * Replies accumulate in `out`; the waiting caller forwards what is new
 * whenever it is woken.  Slots are never freed, only reused: a caller
 * holding one detects that it went away by its generation.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <capsule/native.h>
#include "tools/control.h"

#define CONTROL_OUT_MAX 32768
/* How often a waiting caller looks at the request's byte meter. */
#define CONTROL_METER_MS 250

enum mb_state { MB_FREE = 0, MB_IDLE, MB_POSTED, MB_TAKEN, MB_DONE };

/* Invariants (under control_lock): a FREE slot has no name; out_len <
 * CONTROL_OUT_MAX and out is NUL-terminated; gen changes whenever the
 * slot is freed. */
struct control_mailbox {
	enum mb_state state;
	int later; /* TAKEN: the handler answers later (control_answer_later) */
	unsigned gen;
	/* gen + 1 of the last request answered in full: its caller still
	 * gets the answer if the slot is freed before it collected it (a
	 * node that stops right after answering) */
	unsigned answered;
	unsigned ops;
	int cancel; /* the client asked to drop the request being served */
	/* the byte meter of the request being served (control_meter_*): set
	 * by whichever thread does the work, read by the waiting caller
	 * every CONTROL_METER_MS; not under control_lock */
	_Atomic uint64_t meter_done, meter_total;
	char name[CONTROL_NAME_MAX];
	struct control_request req;
	char out[CONTROL_OUT_MAX];
	size_t out_len;
	/* the caller's hook for the final line, run by the thread that
	 * answers (control_call_at); under control_lock until taken */
	control_line_fn at;
	void *at_arg;
	/* the component's side (control_endpoint_attach), node thread only */
	control_handler_t fn;
	void *fn_arg;
	cap_t irq, session;
};

static pthread_mutex_t control_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t control_cond = PTHREAD_COND_INITIALIZER;
static struct control_mailbox control_slots[CONTROL_ENDPOINTS];

static struct control_mailbox *control_find(const char *name)
{
	for (unsigned i = 0; i < CONTROL_ENDPOINTS; i++)
		if (control_slots[i].state != MB_FREE &&
		    !strcmp(control_slots[i].name, name))
			return &control_slots[i];
	return NULL;
}

struct control_mailbox *control_register(const char *name, unsigned ops, unsigned *line)
{
	struct control_mailbox *mb = NULL;

	if (!name || !name[0] || strlen(name) >= CONTROL_NAME_MAX || strchr(name, ' '))
		return NULL;
	pthread_mutex_lock(&control_lock);
	if (!control_find(name)) {
		for (unsigned i = 0; i < CONTROL_ENDPOINTS && !mb; i++) {
			if (control_slots[i].state != MB_FREE)
				continue;
			mb = &control_slots[i];
			mb->state = MB_IDLE;
			mb->ops = ops;
			snprintf(mb->name, sizeof(mb->name), "%s", name);
			mb->out_len = 0;
			mb->out[0] = 0;
			*line = i;
		}
	}
	pthread_mutex_unlock(&control_lock);
	return mb;
}

/* Under control_lock. */
static void control_free(struct control_mailbox *mb)
{
	mb->state = MB_FREE;
	mb->gen++;
	mb->name[0] = 0;
	mb->irq = mb->session = CAP_INVALID;
	mb->fn = NULL;
}

void control_unregister(struct control_mailbox *mb)
{
	if (!mb)
		return;
	pthread_mutex_lock(&control_lock);
	control_free(mb);
	pthread_cond_broadcast(&control_cond);
	pthread_mutex_unlock(&control_lock);
}

void control_reset(void)
{
	pthread_mutex_lock(&control_lock);
	for (unsigned i = 0; i < CONTROL_ENDPOINTS; i++)
		if (control_slots[i].state != MB_FREE)
			control_free(&control_slots[i]);
	pthread_cond_broadcast(&control_cond);
	pthread_mutex_unlock(&control_lock);
}

int control_exists(const char *name)
{
	int found;

	pthread_mutex_lock(&control_lock);
	found = control_find(name) != NULL;
	pthread_mutex_unlock(&control_lock);
	return found;
}

int control_take(struct control_mailbox *mb, struct control_request *req)
{
	int err = -EAGAIN;

	pthread_mutex_lock(&control_lock);
	if (mb->state == MB_POSTED) {
		*req = mb->req;
		mb->state = MB_TAKEN;
		mb->later = 0;
		err = 0;
	}
	pthread_mutex_unlock(&control_lock);
	return err;
}

/* Append one line; a full buffer keeps its last line free for the
 * final answer (truncation is marked).  Under control_lock. */
static void control_append(struct control_mailbox *mb, const char *fmt, va_list ap,
			   int final)
{
	size_t room = CONTROL_OUT_MAX - mb->out_len;
	size_t reserve = final ? 0 : 512;
	int n;

	if (room <= reserve + 2) {
		return;
	}
	n = vsnprintf(mb->out + mb->out_len, room - reserve - 1, fmt, ap);
	if (n < 0)
		return;
	if ((size_t)n >= room - reserve - 1)
		n = (int)(room - reserve - 2);
	for (int i = 0; i < n; i++) /* one line: no embedded newlines */
		if (mb->out[mb->out_len + i] == '\n')
			mb->out[mb->out_len + i] = ' ';
	mb->out_len += (size_t)n;
	mb->out[mb->out_len++] = '\n';
	mb->out[mb->out_len] = 0;
}

static void control_emit(struct control_mailbox *mb, int final, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	control_append(mb, fmt, ap, final);
	va_end(ap);
}

void control_progress(struct control_mailbox *mb, unsigned percent)
{
	pthread_mutex_lock(&control_lock);
	if (mb->state == MB_TAKEN) {
		control_emit(mb, 0, "progress: %u%%", percent > 100 ? 100 : percent);
		pthread_cond_broadcast(&control_cond);
	}
	pthread_mutex_unlock(&control_lock);
}

void control_meter_start(struct control_mailbox *mb, uint64_t total)
{
	if (!mb)
		return;
	atomic_store(&mb->meter_done, 0);
	atomic_store(&mb->meter_total, total);
}

void control_meter_add(struct control_mailbox *mb, uint64_t bytes)
{
	if (mb)
		atomic_fetch_add_explicit(&mb->meter_done, bytes, memory_order_relaxed);
}

void control_reply(struct control_mailbox *mb, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&control_lock);
	if (mb->state == MB_TAKEN) {
		va_start(ap, fmt);
		control_append(mb, fmt, ap, 0);
		va_end(ap);
		pthread_cond_broadcast(&control_cond);
	}
	pthread_mutex_unlock(&control_lock);
}

void control_answer_later(struct control_mailbox *mb)
{
	pthread_mutex_lock(&control_lock);
	if (mb->state == MB_TAKEN)
		mb->later = 1;
	pthread_mutex_unlock(&control_lock);
}

/* The request taken last is still open and its handler said it answers
 * later. */
static int control_later(struct control_mailbox *mb)
{
	int later;

	pthread_mutex_lock(&control_lock);
	later = mb->state == MB_TAKEN && mb->later;
	pthread_mutex_unlock(&control_lock);
	return later;
}

/* Under control_lock: the answer is whole, the caller may go on. */
static void control_whole(struct control_mailbox *mb)
{
	mb->state = MB_DONE;
	mb->later = 0;
	pthread_cond_broadcast(&control_cond);
}

void control_done(struct control_mailbox *mb, const char *fmt, ...)
{
	char line[CONTROL_LINE_MAX];
	control_line_fn at = NULL;
	void *at_arg = NULL;
	va_list ap;

	pthread_mutex_lock(&control_lock);
	if (mb->state == MB_TAKEN) {
		size_t from = mb->out_len, len;
		va_start(ap, fmt);
		control_append(mb, fmt, ap, 1);
		va_end(ap);
		mb->answered = mb->gen + 1;
		if ((at = mb->at)) { /* its final line, without the '\n' */
			len = mb->out_len > from ? mb->out_len - from - 1 : 0;
			len = len < sizeof line ? len : sizeof line - 1;
			memcpy(line, mb->out + from, len);
			line[len] = 0;
			at_arg = mb->at_arg;
			mb->at = NULL;
		} else {
			control_whole(mb);
		}
	}
	pthread_mutex_unlock(&control_lock);
	if (!at)
		return;
	/* the caller's hook, on this thread, before the caller is woken:
	 * no hand-over to it first (control_call_at) */
	at(line, at_arg);
	pthread_mutex_lock(&control_lock);
	if (mb->state == MB_TAKEN)
		control_whole(mb);
	pthread_mutex_unlock(&control_lock);
}

int control_cancel(const char *name)
{
	struct control_mailbox *mb;
	int err = 0;

	pthread_mutex_lock(&control_lock);
	mb = control_find(name);
	if (!mb) {
		err = -ENOENT;
	} else if (mb->state == MB_POSTED) { /* not begun: answered here */
		mb->state = MB_TAKEN;
		control_emit(mb, 1, "error: %s: %s cancelled before it began", mb->name,
			     control_op_name(mb->req.op));
		mb->state = MB_DONE;
		mb->answered = mb->gen + 1;
		pthread_cond_broadcast(&control_cond);
	} else if (mb->state == MB_TAKEN) {
		mb->cancel = 1;
	} else {
		err = -ESRCH;
	}
	pthread_mutex_unlock(&control_lock);
	return err;
}

int control_cancelled(struct control_mailbox *mb)
{
	int c;

	pthread_mutex_lock(&control_lock);
	c = mb && mb->state == MB_TAKEN && mb->cancel;
	pthread_mutex_unlock(&control_lock);
	return c;
}

const char *control_op_name(enum control_op op)
{
	switch (op) {
	case CONTROL_PS:
		return "ps";
	case CONTROL_CHECKPOINT:
		return "checkpoint";
	case CONTROL_RESTORE:
		return "restore";
	case CONTROL_STOP:
		return "stop";
	case CONTROL_FREEZE:
		return "freeze";
	case CONTROL_THAW:
		return "thaw";
	case CONTROL_RELEASE:
		return "release";
	case CONTROL_PREBUILD:
		return "prebuild";
	case CONTROL_STATUS:
		return "status";
	}
	return "?";
}

/* Pass the complete lines of out[*sent..] to fn, without the lock; with
 * upto_done, none once the answer is whole (MB_DONE, which may happen
 * while a line goes out): those are control_forward_last's, which makes
 * the slot idle first. */
static void control_forward(struct control_mailbox *mb, size_t *sent, control_line_fn fn,
			    void *arg, int upto_done)
{
	char line[CONTROL_OUT_MAX];

	while (*sent < mb->out_len && !(upto_done && mb->state == MB_DONE)) {
		char *nl = memchr(mb->out + *sent, '\n', mb->out_len - *sent);
		size_t len = (size_t)(nl - (mb->out + *sent));
		memcpy(line, mb->out + *sent, len);
		line[len] = 0;
		*sent += len + 1;
		pthread_mutex_unlock(&control_lock);
		if (fn)
			fn(line, arg);
		pthread_mutex_lock(&control_lock);
	}
}

/* The answer is whole (MB_DONE): make the slot idle, then pass the
 * lines of out[sent..] to fn without the lock.  Idle first, because a
 * client that has read the final line may send its next request at once
 * (a lazy restore and the checkpoint right after it were refused as
 * "busy" when the slot turned idle only after the last line went out). */
static void control_forward_last(struct control_mailbox *mb, size_t sent,
				 control_line_fn fn, void *arg)
{
	char rest[CONTROL_OUT_MAX], *line, *nl;

	memcpy(rest, mb->out + sent, mb->out_len - sent);
	rest[mb->out_len - sent] = 0;
	mb->state = MB_IDLE;
	pthread_mutex_unlock(&control_lock);
	for (line = rest; fn && (nl = strchr(line, '\n')); line = nl + 1) {
		*nl = 0;
		fn(line, arg);
	}
	pthread_mutex_lock(&control_lock);
}

/* Wait (under control_lock) for news or CONTROL_METER_MS; then, if the
 * byte meter moved since *shown, pass "progress: bytes DONE TOTAL" to fn
 * (a line the client turns into bytes and a rate). */
static void control_wait_meter(struct control_mailbox *mb, uint64_t *shown,
			       control_line_fn fn, void *arg)
{
	struct timespec ts;
	uint64_t done, total;
	char line[80];

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += CONTROL_METER_MS * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(&control_cond, &control_lock, &ts);
	done = atomic_load(&mb->meter_done);
	total = atomic_load(&mb->meter_total);
	if (!fn || !total || done == *shown || mb->state != MB_TAKEN)
		return;
	*shown = done;
	snprintf(line, sizeof line, "progress: bytes %llu %llu",
		 (unsigned long long)(done < total ? done : total),
		 (unsigned long long)total);
	pthread_mutex_unlock(&control_lock);
	fn(line, arg);
	pthread_mutex_lock(&control_lock);
}

int control_call(const struct control_request *req, control_line_fn fn, void *arg)
{
	return control_call_at(req, fn, arg, NULL, NULL);
}

int control_call_at(const struct control_request *req, control_line_fn fn, void *arg,
		    control_line_fn at, void *at_arg)
{
	struct control_mailbox *mb;
	size_t sent = 0;
	uint64_t shown = 0;
	unsigned gen, line;
	int err = 0;

	pthread_mutex_lock(&control_lock);
	mb = control_find(req->name);
	if (!mb)
		err = -ENOENT;
	else if (!(mb->ops & req->op))
		err = -EOPNOTSUPP;
	else if (mb->state != MB_IDLE)
		err = -EBUSY;
	if (err) {
		pthread_mutex_unlock(&control_lock);
		return err;
	}
	mb->req = *req;
	mb->cancel = 0;
	mb->at = at;
	mb->at_arg = at_arg;
	atomic_store(&mb->meter_done, 0);
	atomic_store(&mb->meter_total, 0);
	mb->out_len = 0;
	mb->out[0] = 0;
	mb->state = MB_POSTED;
	gen = mb->gen;
	line = (unsigned)(mb - control_slots);
	pthread_mutex_unlock(&control_lock);
	err = kernel_line_raise(line);
	pthread_mutex_lock(&control_lock);
	if (err) {
		if (mb->gen == gen && mb->state == MB_POSTED)
			mb->state = MB_IDLE;
		pthread_mutex_unlock(&control_lock);
		return err;
	}
	for (;;) {
		if (mb->gen != gen) {
			if (mb->answered == gen + 1) /* answered, then freed */
				control_forward(mb, &sent, fn, arg, 0);
			else
				err = -ESHUTDOWN;
			break;
		}
		if (mb->state == MB_DONE) {
			control_forward_last(mb, sent, fn, arg);
			break;
		}
		control_forward(mb, &sent, fn, arg, 1);
		if (mb->gen == gen &&
		    mb->state != MB_DONE) /* done: no news to wait for */
			control_wait_meter(mb, &shown, fn, arg);
	}
	pthread_mutex_unlock(&control_lock);
	return err;
}

/* ---- the native component's side: an irq handler per endpoint ---------- */

/* One trigger: serve whatever is posted (a request the handler left
 * unanswered, and did not promise to answer later, is answered here, so
 * the client never hangs). */
static void control_irq(void *arg)
{
	struct control_mailbox *mb = arg;
	struct control_request req;

	while (!control_take(mb, &req)) {
		mb->fn(mb, &req, mb->fn_arg);
		if (control_later(mb))
			break; /* taken: no other request is posted meanwhile */
		control_done(mb, "error: %s: %s not answered", req.name,
			     control_op_name(req.op));
	}
}

int control_endpoint_attach(struct env *env, struct control_mailbox *mb, cap_t irq,
			    control_handler_t fn, void *arg)
{
	int err;

	mb->fn = fn;
	mb->fn_arg = arg;
	err = ep_irq_handler(env->ep, irq, control_irq, mb);
	if (!err)
		mb->irq = irq;
	return err;
}

int control_endpoint_open(struct env *env, const char *name, unsigned ops,
			  control_handler_t fn, void *arg, struct control_mailbox **out)
{
	struct control_mailbox *mb;
	char args[96];
	cap_t session;
	struct msg m;
	unsigned line;
	int err;

	mb = control_register(name, ops, &line);
	if (!mb)
		return -EEXIST;
	snprintf(args, sizeof(args), "line=%u label=\"control\"", line);
	err = env_session(env, "IRQ", args, &session);
	if (err)
		goto err_unregister;
	msg_reset(&m, IRQ_SESSION_IRQ);
	err = rpc_call(session, &m);
	if (!err && (m.code != RPC_OK || m.ncaps < 1))
		err = -EIO;
	if (!err)
		err = control_endpoint_attach(env, mb, m.caps[0], fn, arg);
	if (err)
		goto err_close;
	mb->session = session;
	*out = mb;
	return 0;
err_close:
	parent_close(env->parent, session);
err_unregister:
	control_unregister(mb);
	return err;
}

void control_endpoint_close(struct env *env, struct control_mailbox *mb)
{
	if (!mb)
		return;
	if (cap_valid(mb->irq))
		ep_irq_dissolve(env->ep, mb->irq);
	if (cap_valid(mb->session))
		parent_close(env->parent, mb->session);
	control_unregister(mb);
}
