/*
 * Pausing the target for a checkpoint so that no thread is in the middle
 * of something a restore cannot continue.
 *
 * A thread paused in the middle of an IPC call (docs/seed002.md): the
 * kernel rewinds a call whose send phase has not completed (the server
 * has not taken it), so resume or restore re-issues it; for a call a
 * server has already taken the thread stays blocked in its reply wait
 * even while paused, and the checkpoint waits, bounded by
 * CKPT_REPLY_WAIT_MS, until the reply has arrived (the thread is then
 * paused with the reply in its UTCB).  A thread with a reply's caps still
 * in its receive window, one keeping badges outside its cap map (a
 * message being built, tcr[TCR_BADGES]), or one holding the cap map lock,
 * is waited for the same way.  If the wait ends unmet the checkpoint fails and the
 * target runs on.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "monitor/checkpoint.h"
#include "monitor/monitor.h"
#include "monitor/restore.h"
#include "monitor/target_report.h"

#define CKPT_REPLY_WAIT_MS 200
/* tries on the entrypoint before a retryable request goes back to
 * serving, and the gap after which a try starts a new wait */
#define CKPT_TRY_MS	  4
#define CKPT_RETRY_GAP_US 100000

static int cpu_state(cap_t cpu, cap_t thread, uint64_t *state)
{
	struct msg m;
	int rc;

	msg_reset(&m, CPU_STATE);
	msg_put_cap(&m, thread);
	if ((rc = rpc_call(cpu, &m)))
		return rc;
	if (m.code != RPC_OK)
		return m.code == RPC_ERROR && m.nwords ? (int)(int64_t)m.w[0] : -EPROTO;
	if (m.nwords < 2)
		return -EPROTO;
	/* a thread halted by a page fault waits for its pager (a region
	 * map's fault handler): its registers are those of the faulting
	 * instruction, which runs again on resume and after a restore; any
	 * other fault ends the target (target.c) */
	if (m.w[0] == TS_FAULTED && m.w[1] != FAULT_READ && m.w[1] != FAULT_WRITE &&
	    m.w[1] != FAULT_EXEC)
		return -EFAULT;
	*state = m.w[0];
	return 0;
}

void monitor_resume(struct monitor *mon)
{
	signals_resubmit(mon);
	for (int i = 0; i < MON_MAX_THREADS; i++)
		if (mon->thread[i].used)
			cpu_resume(mon->cpu, mon->thread[i].cap);
	if (mon->paused_since_us) {
		mon->paused_us = mon_now_us() - mon->paused_since_us;
		mon->paused_since_us = 0;
	}
}

static int pause_each(struct monitor *mon)
{
	int rc;

	for (int i = 0; i < MON_MAX_THREADS; i++)
		if (mon->thread[i].used && (rc = cpu_pause(mon->cpu, mon->thread[i].cap)))
			return rc;
	return 0;
}

int monitor_pause_now(struct monitor *mon)
{
	int rc;

	mon->paused_since_us = mon_now_us(); /* the checkpoint's pause keeps it */
	rc = pause_each(mon);

	if (rc)
		monitor_resume(mon);
	return rc;
}

/* Is the thread where a restore cannot continue it?
 * - It keeps badges outside its cap map (libbase marks the span in
 *   tcr[TCR_BADGES], cap_badges_hold): the badges of a call it is
 *   building, a reply's words, an object not yet in its pool.  A restore
 *   rewrites the ids in the cap map and the words of a caught call in
 *   the UTCB, not a register or a variable: cut so, worker's thread_join
 *   sent CPU_KILL with the killed thread's old badge and got -EINVAL,
 *   and thread_create put the kernel thread's old badge into the cap map.
 * - Its receive window holds a capability: a reply's caps are mapped
 *   there and stay until the thread has moved them into its cap map
 *   (base/msg.c); paused in between, its cap map does not have them and a
 *   restore would not remake them (the restored thread then finds its
 *   window empty: thread_create failed with -EPROTO when its
 *   CPU_CREATE_THREAD reply was caught so).
 * The UTCB is read into *u (the thread is paused: the checkpoint keeps
 * it).  1, 0 or -errno. */
static int thread_busy(struct monitor *mon, struct mon_thread *t, struct utcb *u)
{
	int rc = monitor_read_utcb(mon, t->cap, u);

	if (rc)
		return rc;
	if (u->tcr[TCR_BADGES] == TCR_BADGES_HELD) /* AT_REPLY: none yet */
		return 1;
	if (u->br[0] == KCAP_INVALID || !u->br[0])
		return 0;
	for (unsigned j = 0; j < MSG_MAX_ITEMS; j++) {
		struct msg m;

		msg_reset(&m, PD_CAP_VALID);
		msg_put(&m, u->br[0] + KCAP(j));
		if ((rc = rpc_call(mon->pd, &m)))
			return rc;
		if (m.code != RPC_OK || m.nwords < 1)
			return -EPROTO;
		if (m.w[0])
			return 1;
	}
	return 0;
}

int monitor_read_target(struct monitor *mon, uint64_t addr, void *buf, uint64_t size)
{
	const uint64_t pg = 4096;

	for (int i = 0; i < MON_MAX_REGIONS; i++) {
		const struct mon_region *g = &mon->region[i];
		const struct mon_record *ds;
		uint64_t off, page, len;
		char *pages;
		int rc;

		if (!g->used || g->rm || addr < g->at || addr - g->at + size > g->size)
			continue;
		if (!(ds = record_find(mon, g->ds_badge)))
			return -ENOENT;
		off = g->off + addr - g->at;
		page = off & ~(pg - 1);
		len = (off - page + size + pg - 1) & ~(pg - 1);
		if (!(pages = malloc(len)))
			return -ENOMEM;
		if (!(rc = ds_copy(mon, ds->cap, page, pages, len, 0)))
			memcpy(buf, pages + (off - page), size);
		free(pages);
		return rc;
	}
	return -EFAULT;
}

/* Is a thread of the target changing its cap map (it holds the cap map
 * lock its report names, ABI version 2)?  A restore rebuilds the cap
 * map's tree from its slots, so a thread cut in the middle of a change
 * would go on with links into the old tree.  1, 0 or -errno. */
static int cap_map_locked(struct monitor *mon)
{
	struct cr_report r;
	uint32_t word;
	int rc;

	if (mon->cr_abi_version < 2 || !mon->cr_report_addr)
		return 0;
	if ((rc = monitor_read_target(mon, mon->cr_report_addr, &r, sizeof r)))
		return rc;
	if (r.magic != CR_REPORT_MAGIC || r.version < 2 || !r.cap_lock)
		return 0; /* what is wrong with it, the checkpoint says */
	if ((rc = monitor_read_target(mon, r.cap_lock, &word, sizeof word)))
		return rc;
	return word != 0;
}

/* States of all threads into model; *blocked = 1 if one is still in the
 * reply wait of a call a server has taken, or is busy (thread_busy), or
 * holds the cap map lock. */
static int read_states(struct monitor *mon, struct mon_model *model, int *blocked)
{
	int rc;

	*blocked = 0;
	model->nthreads = 0;
	for (int i = 0; i < MON_MAX_THREADS; i++) {
		struct mon_thread *t = &mon->thread[i];
		struct mon_model_thread *mt = &model->thread[model->nthreads];
		if (!t->used)
			continue;
		if ((rc = cpu_state(mon->cpu, t->cap, &mt->state)))
			return rc;
		*blocked |= mt->state == TS_BLOCKED;
		mt->utcb_read = 0;
		if (!*blocked && mt->state != TS_INACTIVE && mt->state != TS_DEAD) {
			if ((rc = thread_busy(mon, t, &mt->utcb_data)) < 0)
				return rc;
			*blocked = rc;
			mt->utcb_read = 1;
		}
		mt->nr = t->nr;
		mt->badge = t->badge;
		mt->utcb = t->utcb;
		mt->obj_badge = cap_badge(t->cap);
		model->nthreads++;
	}
	if (!*blocked && (rc = cap_map_locked(mon)))
		*blocked = rc > 0;
	return 0;
}

/* read_states, and for a target of its own (a group's cut checks its
 * members itself) whether it is still setting itself up (*setup): that
 * keeps it unsettled too. */
static int read_pause(struct monitor *mon, struct mon_model *model, int *blocked,
		      int *setup)
{
	int rc = read_states(mon, model, blocked);

	*setup = 0;
	if (rc || *blocked || mon->group)
		return rc;
	if ((rc = monitor_setting_up(mon, 0)) < 0)
		return rc;
	*setup = *blocked = rc;
	return 0;
}

int monitor_threads_blocked(struct monitor *mon, struct mon_model *scratch)
{
	int blocked, rc = read_states(mon, scratch, &blocked);

	return rc ? rc : blocked;
}

/* Pause all so that none is blocked in a taken call.  The server of such
 * a call may be a thread of the target itself (paused too, it would never
 * reply), so each try resumes everything and lets it run 1 ms.  That
 * server may be waiting for this entrypoint (a LOG line from a handler):
 * a request that can be retried (mon->pause_retry) gives up after
 * CKPT_TRY_MS tries with -EAGAIN and mon->pause_deferred set, and is run
 * again once the entrypoint has served what is queued (pause_retry.c).
 * CKPT_REPLY_WAIT_MS bounds the wait over all the tries. */
int checkpoint_pause_all(struct monitor *mon, struct mon_model *model)
{
	uint64_t now = mon_now_us(), waited;
	int blocked, setup, rc;

	mon->pause_deferred = 0;
	if (!mon->pause_wait_since_us ||
	    now - mon->pause_wait_last_us > CKPT_RETRY_GAP_US)
		mon->pause_wait_since_us = now; /* a new wait, not a retry */
	for (int tries = 0;; tries++) {
		/* until monitor_resume; paused already (a test hold, a group's
		 * cut): "paused" counts from then, the threads' real stop */
		if (!mon->paused_since_us)
			mon->paused_since_us = mon_now_us();
		if ((rc = pause_each(mon)) ||
		    (rc = read_pause(mon, model, &blocked, &setup)))
			break;
		if (setup)
			mon->pause_setup = 1; /* for the line once it settles */
		waited = (mon_now_us() - mon->pause_wait_since_us) / 1000;
		if (!blocked) {
			if (waited)
				env_log(mon->env,
					mon->pause_setup
					    ? "monitor: checkpoint waited %llu ms for "
					      "the target to set itself up"
					    : "monitor: checkpoint waited %llu ms for a "
					      "call being served",
					(unsigned long long)waited);
			break;
		}
		monitor_resume(mon);
		if (waited >= CKPT_REPLY_WAIT_MS) {
			env_log(mon->env,
				setup ? "monitor: checkpoint: the target is still "
					"setting itself up after %d ms"
				      : "monitor: checkpoint: a thread's call is still "
					"being served after %d ms",
				CKPT_REPLY_WAIT_MS);
			rc = -EBUSY;
			break;
		}
		if (tries == CKPT_TRY_MS && mon->pause_retry && mon->retry) {
			mon->pause_wait_last_us = mon_now_us();
			mon->pause_deferred = 1;
			return -EAGAIN;
		}
		mon_sleep_us(1000);
	}
	mon->pause_wait_since_us = 0;
	mon->pause_setup = 0;
	return rc;
}
