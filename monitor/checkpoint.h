/*
 * The monitor's in-memory checkpoint model and its entry points (the
 * control socket and the image converter use these).
 */
#ifndef MONITOR_CHECKPOINT_H
#define MONITOR_CHECKPOINT_H

#include "monitor/model.h"
#include "monitor/monitor.h"

/*
 * Checkpoint the running target into model: pause every thread (waiting,
 * bounded, for the reply to a call a server has already taken), read the
 * registers, copy every attached region, read the cap map and classify
 * every live entry.  0 with the target paused; -errno (logged, naming an
 * unclassifiable kcap and badge) with the target resumed.
 */
int monitor_checkpoint(struct monitor *mon, struct mon_model *model);
/* For a group's cut (group_cut.c), the target's threads paused: 1 if one
 * is still in the reply wait of a call a server has taken or has a
 * reply's caps in its receive window, 0 if none, or -errno (scratch: the
 * threads' states). */
int monitor_threads_blocked(struct monitor *mon, struct mon_model *scratch);
/* target_setup.c: is the paused target still setting itself up (no cap
 * map or entrypoint reported yet, a semaphore irq before its signal
 * handler thread, or with pools: an object pool in the middle of a
 * change, read from its memory, an RPC per object)?  1, 0 or -errno. */
int monitor_setting_up(struct monitor *mon, int pools);
/* checkpoint_pause.c: pause every thread so that none is in a taken call,
 * holds a reply's caps in its window or the cap map lock, retrying for a
 * bounded time; the threads' states into model.  0 or -errno (-EBUSY:
 * not met in time; the target then runs). */
int checkpoint_pause_all(struct monitor *mon, struct mon_model *model);
/* checkpoint_pause.c: pause every thread where it is, at once (a test
 * hold's point; the checkpoint's pause then settles them).  0, or -errno
 * with all running. */
int monitor_pause_now(struct monitor *mon);
/* checkpoint.c: the thread's UTCB (message, buffer and thread-control
 * registers).  0 or -errno. */
int monitor_read_utcb(struct monitor *mon, cap_t thread, struct utcb *u);
/* size bytes at addr of the target's address space, read through the
 * dataspace attached there.  0 or -errno. */
int monitor_read_target(struct monitor *mon, uint64_t addr, void *buf, uint64_t size);
/* The same; stream: the target stays paused until its memory is used, so
 * no region is copied: the model's regions read the monitor's
 * attachments of the dataspaces in place (mon_model_region.stream),
 * to be detached with monitor_stream_detach on the entrypoint. */
int monitor_checkpoint_mode(struct monitor *mon, struct mon_model *model, int stream);
/* Detach a streamed checkpoint's attachments (model's regions no longer
 * read them). */
void monitor_stream_detach(struct monitor *mon, struct mon_model *model);
/* Resume every thread of the target; the pause a checkpoint began ends
 * (mon->paused_us). */
void monitor_resume(struct monitor *mon);
/* The signals queued in the paused target's sources, taken into
 * mon->pending and the model (pending_signals.c): 0 or -errno. */
int signals_drain(struct monitor *mon, struct mon_model *model);
/* The host worker's nice value for work the target does not wait for
 * (buffers before the pause, the image write after it). */
#define MON_WORKER_NICE 10
/* Host monotonic time in microseconds. */
uint64_t mon_now_us(void);
void mon_sleep_us(uint64_t us);
/* This host thread's CPU time in microseconds (the phase lines: what a
 * step cost the thread, whatever the host's load). */
uint64_t mon_cpu_us(void);
/*
 * Replace the paused target by a new one made from model (same node):
 * all or nothing.  0 with the new target committed but not yet running
 * (verify it, then monitor_restore_start), or -errno with the new one
 * destroyed and the old one resumed.
 */
int monitor_restore(struct monitor *mon, const struct mon_model *model);
/* Start the threads of a committed restore of model where it stopped. */
void monitor_restore_start(struct monitor *mon, const struct mon_model *model);

/*
 * Other-node restore: read the image file at path (image_read validates
 * it), check that this monitor can recreate everything it names, open
 * the target's sessions at this monitor's parent with the recorded args,
 * and restore it (monitor_restore), then verify it with a second
 * checkpoint.  mon must have no target.  All or nothing: 0 with the
 * target running (with paused: made, verified and committed, but its
 * threads not started, mon->frozen set), or -errno (one line logged)
 * with nothing left open.
 */
int monitor_restore_image(struct monitor *mon, const char *path, int paused);
/* What a migration's restore onto its copy left for after its answer
 * (mon->after), done now: the control plane calls this once it answered
 * the request.  Nothing if there is nothing. */
void monitor_restore_after(struct monitor *mon);
/* A restore made with paused: its threads start now (the commit). */
void monitor_restore_held_start(struct monitor *mon);
/* checkpoint_image.c: checkpoint the target into an image file at path;
 * the target is resumed, or with keep_paused left paused (also if the
 * write fails it is resumed).  req (NULL: none): dirty tracking from
 * this snapshot on, or an incremental image of the pages written since
 * req->parent (monitor/dirty_pages.h).  The memory is copied, compressed
 * and written on the host worker; this waits for it.  0 or -errno
 * (logged). */
struct incr_request;
/* keep_paused's bits: 1 (MON_CKPT_PAUSED) keeps the target paused;
 * MON_CKPT_SPOOL says path is a temporary file (a migration's spool
 * image: read back and sent, removed after, worthless after a crash of
 * the node since the migration dies with it), written without fsync. */
#define MON_CKPT_PAUSED 1
#define MON_CKPT_SPOOL	2
/* MON_CKPT_STATE: the target's state, no page (IMAGE_F_PARTIAL, a
 * post-copy source's pre-skeleton and freeze), written in place on the
 * entrypoint; kept paused, its attachments become mon's frozen memory
 * (frozen_memory.h) instead of being detached. */
#define MON_CKPT_STATE 4
int monitor_checkpoint_image(struct monitor *mon, const char *path, int keep_paused,
			     const struct incr_request *req);
/* What a checkpoint into a file took: total and paused time, the memory
 * copied (bytes, pages of 4 KiB) and the file's size. */
struct mon_ckpt_figures {
	uint64_t total_us, paused_us, bytes, pages, image_bytes;
	unsigned caps, threads;
};
typedef void (*mon_ckpt_done_fn)(struct monitor *mon, int rc,
				 const struct mon_ckpt_figures *f, void *arg);
/* The same without waiting for the write: the snapshot is taken and the
 * target resumed (unless keep_paused) before this returns; done(mon, rc,
 * figures, arg) runs on the entrypoint once the file is written (or
 * failed).  0: done will be called once; -errno (logged): the snapshot
 * failed, the target runs, done is not called. */
int monitor_checkpoint_image_start(struct monitor *mon, const char *path, int keep_paused,
				   const struct incr_request *req, mon_ckpt_done_fn done,
				   void *arg);
/* Wait for an image write still running and finish it (its done). */
void monitor_write_settle(struct monitor *mon);

/* A CPU-session op on a thread answering with one cap (CPU_UTCB_DATASPACE,
 * CPU_KERNEL_THREAD): 0 with *out, or -errno. */
int cpu_thread_cap(cap_t cpu, cap_t thread, uint64_t op, cap_t *out);
/* Copy size bytes between the monitor and [off, off + size) of dataspace
 * ds through a temporary attachment (write: to the dataspace). */
int ds_copy(struct monitor *mon, cap_t ds, uint64_t off, void *buf, uint64_t size,
	    int write);

/* Pre-fault size bytes at p (a malloc'd buffer or an attachment) for
 * writing, with huge pages where the kernel offers them; p (NULL stays
 * NULL).  Best effort: never fails. */
void *mon_buf_prefault(void *p, uint64_t size);

/* rm_proxy.c: the region maps the target holds into model->rmap. */
int rmaps_record(struct monitor *mon, struct mon_model *model);

/* cap_classify.c: classify the cap map copy in model's regions. */
int cap_classify(struct monitor *mon, struct mon_model *model);
#endif
