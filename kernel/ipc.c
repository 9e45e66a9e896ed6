/*
 * Synchronous IPC between threads: send (FIFO queue per receiver), open
 * wait, closed wait for a reply, sleep, and message transfer with map
 * items.  A blocked thread is released only through ipc_complete().
 *
 * Timeouts: one deadline (now + timeout) bounds the whole operation, send
 * and reply phase of a call alike.  Timeout 0 means "do not block": a send
 * fails with KERR_TIMEOUT unless the receiver waits already, a wait
 * unless something is pending; the reply phase of a call with timeout 0
 * is not bounded (the request was taken, so waiting is the only sane
 * choice).
 */
#include <stdlib.h>
#include <string.h>
#include "kernel/kernel.h"

uint64_t ipc_deadline(uint64_t now, uint64_t timeout)
{
	if (timeout == SYS_TIMEOUT_NEVER || now + timeout < now)
		return UINT64_MAX;
	return now + timeout;
}

uint64_t ipc_timeout_deadline(uint64_t timeout)
{
	if (!timeout)
		return 0;
	if (timeout == SYS_TIMEOUT_NEVER)
		return UINT64_MAX; /* no clock read on the common path */
	return ipc_deadline(timeout_now(), timeout);
}

void ipc_cancel(struct thread *t)
{
	if (t->wait == IPC_SENDING)
		klist_del(&t->send_link);
	timeout_disarm(t);
	t->wait = IPC_NONE;
	t->wait_irq = NULL;
	if (t->partner) {
		kobj_put(&t->partner->obj);
		t->partner = NULL;
	}
}

void ipc_complete(struct thread *t, uint64_t tag, uint64_t label, bool direct)
{
	ipc_cancel(t);
	thread_set_result(t, tag, label);
	if (t->state == TS_BLOCKED)
		t->state = TS_READY;
	sched_ready(t, direct);
}

/* Block t in wait state w (partner p, may be NULL) until deadline. */
static void ipc_block(struct thread *t, enum ipc_wait w, struct thread *p,
		      uint64_t deadline)
{
	t->state = TS_BLOCKED;
	t->wait = w;
	if (p) {
		kobj_get(&p->obj);
		t->partner = p;
	}
	timeout_arm(t, deadline);
}

/* Map item j (word item of snd) into rcv's receive window; the new mr word. */
static uint64_t ipc_map_item(struct thread *snd, struct thread *rcv, uint64_t item,
			     unsigned j)
{
	struct cap_slot *src = cap_space_slot(&snd->task->caps, item);
	uint64_t win = rcv->utcb->br[0];
	struct cap_slot *dst;

	if (!src || !src->obj || KCAP_INDEX(win) == 0)
		return KCAP_INVALID;
	dst = cap_space_slot(&rcv->task->caps, win + KCAP(j));
	if (!dst || KCAP_INDEX(win) + j >= rcv->task->caps.nslots)
		return KCAP_INVALID;
	if (dst != src)
		mapdb_map(dst, src, item & RIGHTS_ALL, false);
	return cap_space_kcap(&rcv->task->caps, dst) | dst->rights;
}

/* Copy snd's message into rcv's UTCB; returns rcv's result tag. */
static uint64_t ipc_transfer(struct thread *snd, struct thread *rcv, uint64_t tag)
{
	unsigned words = TAG_WORDS(tag), items = TAG_ITEMS(tag);

	memcpy(rcv->utcb->mr, snd->utcb->mr, words * sizeof(uint64_t));
	for (unsigned j = 0; j < items; j++)
		rcv->utcb->mr[words + j] =
		    ipc_map_item(snd, rcv, snd->utcb->mr[words + j], j);
	return TAG(0, TAG_PROTO(tag), words, items);
}

static bool ipc_tag_ok(uint64_t tag)
{
	return TAG_ITEMS(tag) <= MSG_MAX_ITEMS &&
	       TAG_WORDS(tag) + TAG_ITEMS(tag) <= UTCB_MRS;
}

/* Hand snd's pending message to rcv, which is in an open wait (or about to
 * return from one).  A caller then waits for rcv's reply. */
static void ipc_handover(struct thread *snd, struct thread *rcv, uint64_t tag,
			 uint64_t label, unsigned op, bool direct)
{
	uint64_t rtag = ipc_transfer(snd, rcv, tag);

	if (op == SYS_OP_CALL) {
		if (rcv->caller)
			kobj_put(&rcv->caller->obj);
		kobj_get(&snd->obj);
		rcv->caller = snd;
		rcv->caller_seq = ++snd->call_seq;
	}
	ipc_complete(rcv, rtag, label, direct);
	if (op == SYS_OP_CALL) {
		ipc_cancel(snd);
		ipc_block(snd, IPC_REPLY_WAIT, rcv, snd->reply_deadline);
	} else {
		ipc_complete(snd, kres(KERR_OK), 0, false);
	}
}

void ipc_send(struct thread *t, struct thread *dst, uint64_t tag, uint64_t label,
	      unsigned op, uint64_t timeout)
{
	uint64_t deadline = ipc_timeout_deadline(timeout);

	/* the reply phase of a call with timeout 0 is not bounded */
	t->reply_deadline = timeout ? deadline : UINT64_MAX;
	if (!ipc_tag_ok(tag)) {
		ipc_complete(t, kres(KERR_INVAL), 0, false);
		return;
	}
	if (dst->state == TS_DEAD) { /* a faulted one may be resumed: wait */
		ipc_complete(t, kres(KERR_ABORTED), 0, false);
		return;
	}
	if (dst->state == TS_BLOCKED && dst->wait == IPC_RECEIVING) {
		ipc_handover(t, dst, tag, label, op, true);
		return;
	}
	if (!timeout) {
		ipc_complete(t, kres(KERR_TIMEOUT), 0, false);
		return;
	}
	t->snd_tag = tag;
	t->snd_label = label;
	t->snd_op = op;
	ipc_block(t, IPC_SENDING, dst, deadline);
	klist_add_tail(&dst->senders, &t->send_link);
}

static void ipc_deliver_kmsg(struct thread *t, struct kmsg *m)
{
	klist_del(&m->link);
	memcpy(t->utcb->mr, m->mr, m->words * sizeof(uint64_t));
	ipc_complete(t, TAG(0, 0, m->words, 0), m->label, false);
	free(m);
}

bool ipc_deliver_pending(struct thread *t)
{
	uint64_t label;

	if (!klist_empty(&t->kmsgs)) {
		ipc_deliver_kmsg(t, klist_entry(t->kmsgs.next, struct kmsg, link));
		return true;
	}
	if (irq_take(t, &label)) {
		ipc_complete(t, TAG(0, 0, 0, 0), label, false);
		return true;
	}
	return false;
}

void ipc_post_kmsg(struct thread *t, struct kmsg *m)
{
	klist_add_tail(&t->kmsgs, &m->link);
	if (t->state == TS_BLOCKED && t->wait == IPC_RECEIVING && t->utcb)
		ipc_deliver_kmsg(t, m);
}

void ipc_wait(struct thread *t, uint64_t deadline)
{
	if (ipc_deliver_pending(t))
		return;
	if (!klist_empty(&t->senders)) {
		struct thread *s = klist_entry(t->senders.next, struct thread, send_link);

		ipc_handover(s, t, s->snd_tag, s->snd_label, s->snd_op, false);
		return;
	}
	if (deadline <= timeout_now()) {
		ipc_complete(t, kres(KERR_TIMEOUT), 0, false);
		return;
	}
	ipc_block(t, IPC_RECEIVING, NULL, deadline);
}

void ipc_sleep(struct thread *t, uint64_t deadline)
{
	if (deadline <= timeout_now()) {
		ipc_complete(t, kres(KERR_TIMEOUT), 0, false);
		return;
	}
	ipc_block(t, IPC_SLEEPING, NULL, deadline);
}

void ipc_wait_irq(struct thread *t, struct irq *q, uint64_t deadline)
{
	uint64_t label;

	if (irq_take_one(q, &label)) {
		ipc_complete(t, TAG(0, 0, 0, 0), label, false);
		return;
	}
	if (deadline <= timeout_now()) {
		ipc_complete(t, kres(KERR_TIMEOUT), 0, false);
		return;
	}
	ipc_block(t, IPC_IRQ_WAIT, NULL, deadline);
	t->wait_irq = q;
}

unsigned ipc_reply(struct thread *t, uint64_t tag)
{
	struct thread *c = t->caller;
	unsigned err = KERR_OK;

	if (!c)
		return KERR_INVAL_CAP;
	t->caller = NULL;
	if (!ipc_tag_ok(tag))
		err = KERR_INVAL;
	else if (c->wait != IPC_REPLY_WAIT || c->partner != t ||
		 c->call_seq != t->caller_seq || !c->utcb)
		err = KERR_ABORTED;
	else {
		if (c->utcb->tcr[TCR_BADGES] == TCR_BADGES_AT_REPLY)
			c->utcb->tcr[TCR_BADGES] = TCR_BADGES_HELD; /* abi.h */
		ipc_complete(c, ipc_transfer(t, c, tag), 0, true);
	}
	kobj_put(&c->obj);
	return err;
}
