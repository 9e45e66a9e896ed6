/*
 * Checkpoint: pause (checkpoint_pause.c), registers, memory, then the
 * cap map (cap_classify.c).
 */
#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <base/host_worker.h>
#include "config/test_env.h"

#include "monitor/dirty_pages.h"
#include "monitor/group.h"
#include "monitor/restore.h"
#include "monitor/target_report.h"

#define MON_PAGE 4096ULL

uint64_t mon_cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Monotonic host time in microseconds (the timing log lines). */
uint64_t mon_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* The calling monitor thread waits us microseconds (a kernel timeout:
 * the node runs on meanwhile). */
void mon_sleep_us(uint64_t us)
{
	uint64_t label;

	sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), us, &label);
}

int cpu_thread_cap(cap_t cpu, cap_t thread, uint64_t op, cap_t *out)
{
	struct msg m;
	int rc;

	msg_reset(&m, op);
	msg_put_cap(&m, thread);
	if ((rc = rpc_call(cpu, &m)))
		return rc;
	if (m.code != RPC_OK)
		return m.code == RPC_ERROR && m.nwords ? (int)(int64_t)m.w[0] : -EPROTO;
	if (m.ncaps < 1 || !cap_valid(m.caps[0]))
		return -EPROTO;
	*out = m.caps[0];
	return 0;
}

int ds_copy(struct monitor *mon, cap_t ds, uint64_t off, void *buf, uint64_t size,
	    int write)
{
	uint64_t host;
	int rc =
	    pd_attach(mon->env->pd, ds, 0, off, size, MEM_R | (write ? MEM_W : 0), &host);

	if (rc)
		return rc;
	if (write)
		memcpy((void *)(uintptr_t)host, buf, size);
	else
		memcpy(buf, (const void *)(uintptr_t)host, size);
	pd_detach(mon->env->pd, host);
	return 0;
}

/* The thread's UTCB (message, buffer and thread-control registers). */
int monitor_read_utcb(struct monitor *mon, cap_t thread, struct utcb *u)
{
	cap_t ds;
	int rc = cpu_thread_cap(mon->cpu, thread, CPU_UTCB_DATASPACE, &ds);

	if (rc)
		return rc;
	rc = ds_copy(mon, ds, 0, u, sizeof *u, 0);
	cap_release(ds);
	return rc;
}

static int read_regs(struct monitor *mon, struct mon_model *model)
{
	unsigned k = 0;
	int rc;

	for (int i = 0; i < MON_MAX_THREADS; i++) {
		struct mon_model_thread *mt = &model->thread[k];
		if (!mon->thread[i].used)
			continue;
		k++;
		snprintf(mt->name, sizeof mt->name, "%s", mon->thread[i].name);
		/* an inactive thread's registers and UTCB are read too: a
		 * restore's verify sees its threads before they start */
		if (mt->state == TS_DEAD)
			continue;
		if ((rc = cpu_get_regs(mon->cpu, mon->thread[i].cap, &mt->regs)))
			return rc;
		/* read by the pause already (4 calls a thread), unless it was
		 * found busy before or not running */
		if (!mt->utcb_read &&
		    (rc = monitor_read_utcb(mon, mon->thread[i].cap, &mt->utcb_data)))
			return rc;
	}
	return 0;
}

/* The regions' copies.  Their buffers are made before the pause
 * (indexed like mon->region), allocated and pre-faulted on the host
 * worker so that neither the node's thread nor the paused copy pays for
 * page faults; a region that changed size by the pause gets a fresh
 * buffer then.  The paused copy itself is a list of memcpys from the
 * monitor's attachments of the target's dataspaces, run on the worker
 * too: the node's other components run on meanwhile. */
struct ckpt_bufs {
	int stream;	     /* no copies: the target stays paused (stream_add) */
	struct monitor *mon; /* its byte meter counts the paused copy */
	uint64_t size[MON_MAX_REGIONS];
	uint8_t *buf[MON_MAX_REGIONS];
	unsigned ncopies;
	struct {
		void *dst;
		uint64_t host; /* the attachment (detached after the copy) */
		uint64_t size;
	} copy[MON_MAX_REGIONS];
};

#define HUGE_PAGE (2ULL << 20)
/* Up to this many bytes the copy (and the buffers' allocation) runs in
 * place: a memcpy of 1 MiB takes ~0.1-0.3 ms, less than handing it to a
 * host thread on a loaded machine (1-15 ms seen with the load at 5 per
 * core), and short enough for the node's other components. */
#define CKPT_INLINE_BYTES (1ULL << 20)

/* fn(b) here or on the worker, by the bytes it moves, at nice value
 * nice (host_worker_set_nice). */
static int ckpt_job(struct monitor *mon, host_job_fn fn, struct ckpt_bufs *b,
		    uint64_t bytes, int nice)
{
	host_worker_set_nice(mon->worker, nice);
	return host_worker_run(bytes > CKPT_INLINE_BYTES ? mon->worker : NULL, fn, b);
}

void *mon_buf_prefault(void *p, uint64_t size)
{
	uintptr_t a = (uintptr_t)p, page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = (a + page - 1) & ~(page - 1), hi = (a + size) & ~(page - 1);
	uintptr_t hlo = (a + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	uintptr_t hhi = (a + size) & ~(HUGE_PAGE - 1);

	if (!p)
		return NULL;
	if (hhi > hlo) /* fewer, larger faults (best effort) */
		madvise((void *)hlo, hhi - hlo, MADV_HUGEPAGE);
#ifdef MADV_POPULATE_WRITE
	/* a huge page per call: one call over all of it holds the mmap lock
	 * (for reading) throughout, and a writer queued behind it (core
	 * protecting a dataspace for dirty tracking) holds up every page
	 * fault of the node's thread until it is done */
	uintptr_t at = lo;

	for (; at < hi; at += HUGE_PAGE - (at % HUGE_PAGE))
		if (madvise((void *)at,
			    hi - at < HUGE_PAGE - at % HUGE_PAGE
				? hi - at
				: HUGE_PAGE - at % HUGE_PAGE,
			    MADV_POPULATE_WRITE))
			break;
	if (at >= hi)
		return p;
#endif
	for (uint64_t i = 0; i < size; i += page) /* older kernels */
		((volatile uint8_t *)p)[i] = 0;
	return p;
}

/* size bytes (free()d), huge-page aligned like a dataspace, so that a
 * same-node restore can move its pages into one (restore_fill_move),
 * or NULL. */
static void *buf_alloc(uint64_t size)
{
	void *p;

	return posix_memalign(&p, size >= HUGE_PAGE ? HUGE_PAGE : 4096, size) ? NULL : p;
}

/* Host worker job: allocate and pre-fault b->buf[i] for each size. */
static int bufs_alloc_job(void *arg)
{
	struct ckpt_bufs *b = arg;

	for (int i = 0; i < MON_MAX_REGIONS; i++) {
		if (!b->size[i])
			continue;
		b->buf[i] = mon_buf_prefault(buf_alloc(b->size[i]), b->size[i]);
		b->size[i] = b->buf[i] ? b->size[i] : 0;
	}
	return 0;
}

static void bufs_prepare(struct monitor *mon, struct ckpt_bufs *b)
{
	uint64_t bytes = 0;

	for (int i = 0; i < MON_MAX_REGIONS; i++) {
		const struct mon_region *g = &mon->region[i];
		const struct mon_record *ds =
		    g->used ? record_find(mon, g->ds_badge) : NULL;
		/* none for a region copied incrementally: a buffer of its
		 * size, pre-faulted (256 MiB: some 300 ms before the pause of
		 * a migration's final freeze) and never used */
		if (g->used && g->size && !(ds && ds->cls == MON_CLASS_MANAGED_DS) &&
		    !incr_partial(mon, g))
			bytes += b->size[i] = g->size;
	}
	ckpt_job(mon, bufs_alloc_job, b, bytes, MON_WORKER_NICE);
	/* test hook (tests/migrate/postcopy.sh): they take this much longer,
	 * as on a loaded host (the job is niced), while the target runs */
	const char *v = bytes ? test_env("CAPSULE_TEST_CKPT_PREPARE_MS") : NULL;
	long ms = v ? strtol(v, NULL, 10) : 0;
	if (ms > 0 && ms <= 10000)
		mon_sleep_us((uint64_t)ms * 1000);
}

static void bufs_free(struct ckpt_bufs *b)
{
	for (int i = 0; i < MON_MAX_REGIONS; i++)
		free(b->buf[i]);
}

/* The paused copy's steps: the client's byte meter moves after each. */
#define COPY_STEP (8ULL << 20)

/* Host worker job: the paused copy. */
static int copy_job(void *arg)
{
	struct ckpt_bufs *b = arg;

	for (unsigned i = 0; i < b->ncopies; i++)
		for (uint64_t o = 0; o < b->copy[i].size; o += COPY_STEP) {
			uint64_t n = b->copy[i].size - o < COPY_STEP ? b->copy[i].size - o
								     : COPY_STEP;
			memcpy((uint8_t *)b->copy[i].dst + o,
			       (const uint8_t *)(uintptr_t)b->copy[i].host + o, n);
			monitor_meter_add(b->mon, n);
		}
	return 0;
}

/* Attach region g's dataspace and note its copy into mr->data. */
static int copy_add(struct monitor *mon, struct ckpt_bufs *b, const struct mon_region *g,
		    const struct mon_record *ds, struct mon_model_region *mr)
{
	uint64_t host;
	int rc = pd_attach(mon->env->pd, ds->cap, 0, g->off, g->size, MEM_R, &host);

	if (rc)
		return rc;
	b->copy[b->ncopies].dst = mr->data;
	b->copy[b->ncopies].host = host;
	b->copy[b->ncopies++].size = g->size;
	return 0;
}

/* A streamed checkpoint's region mr of dataspace ds: no copy; the
 * monitor attaches the whole dataspace once (model->stream_at), the
 * pause's readers (the cap map, the report) read the region there and
 * the image writer the dataspace, while the target stays paused. */
static int stream_add(struct monitor *mon, struct mon_model *model,
		      const struct mon_record *ds, struct mon_model_region *mr)
{
	uint64_t host;
	unsigned k;
	int rc;

	for (k = 0; k < model->nstream; k++)
		if (model->stream_badge[k] == mr->ds_badge)
			break;
	if (k == model->nstream) {
		if (k == MON_MAX_REGIONS)
			return -ENOSPC;
		if ((rc = pd_attach(mon->env->pd, ds->cap, 0, 0, mr->ds_size, MEM_R,
				    &host)))
			return rc;
		model->stream_at[k] = host;
		model->stream_badge[k] = mr->ds_badge;
		model->nstream++;
	}
	mr->stream = (uint8_t *)(uintptr_t)model->stream_at[k];
	mr->live = mr->stream + mr->off;
	return 0;
}

void monitor_stream_detach(struct monitor *mon, struct mon_model *model)
{
	for (unsigned k = 0; k < model->nstream; k++)
		pd_detach(mon->env->pd, model->stream_at[k]);
	for (unsigned i = 0; i < model->nregions; i++)
		if (model->region[i].stream)
			model->region[i].stream = model->region[i].live = NULL;
	model->nstream = 0;
}

/* Copy every attached region through a temporary attachment of its
 * dataspace in the monitor (seed 000, approach 1), into the prepared
 * buffers (taken over by model); the memcpys run on the host worker. */
static int read_memory(struct monitor *mon, struct mon_model *model, struct ckpt_bufs *b)
{
	uint64_t bytes = 0;
	int rc = 0;

	model->nregions = 0;
	b->ncopies = 0;
	for (int i = 0; i < MON_MAX_REGIONS && !rc; i++) {
		struct mon_region *g = &mon->region[i];
		struct mon_record *ds = g->used ? record_find(mon, g->ds_badge) : NULL;
		struct mon_model_region *mr = &model->region[model->nregions];

		if (!g->used)
			continue;
		if (!ds && g->size && mon->group && group_member_region(mon, g, mr)) {
			model->nregions++; /* another member's dataspace */
			continue;
		}
		if (!ds || !g->size) { /* e.g. a dataspace from another component */
			monitor_why(mon,
				    "checkpoint: region 0x%llx (%llu bytes): dataspace "
				    "badge 0x%llx fits no class",
				    (unsigned long long)g->at,
				    (unsigned long long)g->size,
				    (unsigned long long)g->ds_badge);
			rc = -ENOTRECOVERABLE;
			break;
		}
		mr->rm = g->rm;
		mr->at = g->at;
		mr->off = g->off;
		mr->size = g->size;
		mr->perm = g->perm;
		mr->ds_badge = g->ds_badge;
		mr->ds_size = record_ds_size(mon, ds);
		mr->data = mr->present = mr->live = mr->stream = NULL;
		if (ds->cls == MON_CLASS_MANAGED_DS) {
			model->nregions++; /* its memory is what the map holds */
			continue;
		}
		/* only the pages written: copied, or (streamed) read in place */
		if ((rc = incr_region(mon, ds->cap, g, mr, b->stream))) {
			model->nregions++; /* freed with the model, also on failure */
			if (rc < 0)
				break;
			rc = rc == 2 ? stream_add(mon, model, ds, mr) : 0;
			continue;
		}
		if (b->stream) { /* read in place by the image writer */
			model->nregions++;
			rc = stream_add(mon, model, ds, mr);
			continue;
		}
		if (b->buf[i] && b->size[i] == g->size) {
			mr->data = b->buf[i];
			b->buf[i] = NULL;
		} else {
			mr->data = malloc(g->size);
		}
		if (!mr->data) {
			rc = -ENOMEM;
			break;
		}
		model->nregions++;
		rc = copy_add(mon, b, g, ds, mr);
	}
	for (unsigned i = 0; i < b->ncopies; i++)
		bytes += b->copy[i].size;
	/* the client's progress line: the phase, its bytes; none for a copy
	 * made in place (an incremental checkpoint's small regions: a line
	 * to the client's socket in the pause for a copy of some 20 us) */
	if (!rc && bytes > CKPT_INLINE_BYTES) {
		monitor_progress(mon, "copying %.1f MiB of memory while paused",
				 bytes / (1024.0 * 1024.0));
		monitor_meter_start(mon, bytes);
	}
	b->mon = mon; /* copy_job's meter */
	if (!rc)
		rc = ckpt_job(mon, copy_job, b, bytes, 0); /* paused: at full speed */
	for (unsigned i = 0; i < b->ncopies; i++)
		pd_detach(mon->env->pd, b->copy[i].host);
	return rc;
}

/* "kcap 0x..." of the cap with this badge, or "none". */
static const char *kcap_of(const struct mon_model *model, uint64_t badge, char *buf,
			   size_t size)
{
	for (unsigned i = 0; badge && i < model->ncaps; i++)
		if (model->cap[i].badge == badge) {
			snprintf(buf, size, "kcap 0x%llx",
				 (unsigned long long)model->cap[i].kcap);
			return buf;
		}
	return "none";
}

/* Seed 002's entrypoint caps, by name in the main entrypoint the
 * target reported. */
static void log_seed002(struct monitor *mon, const struct mon_model *model)
{
	char a[32], b[32], c[32], why[160];
	struct cr_entrypoint ep;
	struct cr_report r;

	if (report_read(model, &r, why, sizeof why) ||
	    model_read(model, r.entrypoints, &ep, sizeof ep))
		return;
	env_log(
	    mon->env,
	    "monitor: seed 002: exit cap %s, signal-proxy cap %s, "
	    "constructor cap %s",
	    kcap_of(model, ep.exit_obj.badge, a, sizeof a),
	    kcap_of(model, ep.signal_proxy_obj.badge, b, sizeof b),
	    kcap_of(model, ep.constructing ? ep.constructor_obj.badge : 0, c, sizeof c));
}

static void log_summary(struct monitor *mon, const struct mon_model *model)
{
	char line[512];
	size_t n = 0;
	uint64_t bytes = 0;

	for (unsigned i = 0; i < model->nregions; i++)
		bytes += model->region[i].size;
	for (int c = 1; c < MON_CLASS_COUNT && n < sizeof line; c++)
		if (model->count[c])
			n += snprintf(line + n, sizeof line - n, "%s%u %s", n ? ", " : "",
				      model->count[c], mon_class_name(c));
	env_log(mon->env,
		"monitor: checkpoint %llu: %u threads, %u regions (%llu KiB), "
		"%u caps",
		(unsigned long long)mon->checkpoints, model->nthreads, model->nregions,
		(unsigned long long)(bytes >> 10), model->ncaps);
	env_log(mon->env, "monitor: caps: %s", line);
	log_seed002(mon, model);
}

int monitor_checkpoint(struct monitor *mon, struct mon_model *model)
{
	return monitor_checkpoint_mode(mon, model, 0);
}

int monitor_checkpoint_mode(struct monitor *mon, struct mon_model *model, int stream)
{
	struct ckpt_bufs *b = calloc(1, sizeof *b);
	uint64_t t0, t1, bytes = 0;
	int rc = -ENOMEM;

	memset(model, 0, offsetof(struct mon_model, region));
	model->nregions = 0;
	model->npending = 0;
	model->nstream = 0;
	snprintf(model->binary, sizeof model->binary, "%s", mon->cfg.binary);
	model->cap_map_addr = mon->cap_map_addr;
	model->report_addr = mon->cr_report_addr;
	model->abi_version = mon->cr_abi_version;
	if (!b)
		goto err;
	if (mon->regions_lost) { /* an image without it would restore wrong */
		monitor_why(mon,
			    "checkpoint: the target attached more than %d regions; the "
			    "monitor could not record them all",
			    MON_MAX_REGIONS);
		rc = -E2BIG;
		goto err;
	}
	monitor_write_settle(mon); /* the worker is free */
	incr_prestart(mon);	   /* core protects while the buffers are made */
	b->stream = stream;
	if (!stream)
		bufs_prepare(mon, b); /* before the pause: not counted in it */
	if (!stream)
		incr_warm(mon); /* last before the pause: its copy's pages cached */
	uint64_t ph[6], cpu = mon_cpu_us();
	ph[0] = mon_now_us();
	if ((rc = checkpoint_pause_all(mon, model)))
		goto err;
	t0 = mon->paused_since_us;
	uint64_t held = t0;
	ph[1] = mon_now_us();
	if ((rc = signals_drain(mon, model)))
		goto err;
	ph[2] = mon_now_us();
	if ((rc = read_regs(mon, model)))
		goto err;
	t1 = ph[3] = mon_now_us();
	if ((rc = read_memory(mon, model, b)))
		goto err;
	t1 = (ph[4] = mon_now_us()) - t1;
	if ((rc = rmaps_record(mon, model)))
		goto err;
	ph[5] = mon_now_us();
	if ((rc = cap_classify(mon, model)))
		goto err;
	t0 = mon_now_us() - t0; /* paused until here (and until resume or restore) */
	env_log(mon->env,
		"monitor: checkpoint phases: pause %llu us (from %llu), signals %llu, "
		"regs %llu, memory %llu, rmaps %llu, caps %llu; node thread CPU %llu us",
		(unsigned long long)(ph[1] - held), (unsigned long long)(ph[1] - ph[0]),
		(unsigned long long)(ph[2] - ph[1]), (unsigned long long)(ph[3] - ph[2]),
		(unsigned long long)(ph[4] - ph[3]), (unsigned long long)(ph[5] - ph[4]),
		(unsigned long long)(mon_now_us() - ph[5]),
		(unsigned long long)(mon_cpu_us() - cpu));
	bufs_free(b);
	free(b);
	for (unsigned i = 0; i < model->nregions; i++)
		bytes += model->region[i].data || model->region[i].stream ||
				 model->region[i].present
			     ? model->region[i].size
			     : 0;
	mon->checkpoints++;
	log_summary(mon, model);
	env_log(
	    mon->env,
	    "monitor: checkpoint paused %llu us, %llu bytes, %llu pages, copy %llu us",
	    (unsigned long long)t0, (unsigned long long)bytes,
	    (unsigned long long)(bytes / MON_PAGE), (unsigned long long)t1);
	return 0;
err:
	if (!mon->pause_deferred) /* tried again later (pause_retry.c) */
		env_log(mon->env, "monitor: checkpoint failed: %s", strerror(-rc));
	monitor_stream_detach(mon, model);
	if (b)
		bufs_free(b);
	free(b);
	model_free(model);
	monitor_resume(mon);
	return rc;
}
