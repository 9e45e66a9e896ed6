/*
 * Starting the target as the monitor's own child, as init starts a child
 * (init/child.c), except that the target's sessions are opened at the
 * monitor's parent and the target gets proxies for them, and that every
 * dataspace, attachment and thread made here is recorded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "init/elf.h"
#include "monitor/monitor.h"

#define TARGET_STACK_SIZE 0x10000ULL

/* Non-empty args: empty ones would give the monitor its own env session.
 * No label: init labels the session with the monitor's name, which is
 * the target's name too. */
int target_open_pd_cpu(struct monitor *mon, cap_t *pd, cap_t *cpu)
{
	char args[MON_ARGS_MAX];
	int rc;

	snprintf(args, sizeof args, "ram_quota=%llu, cap_quota=%llu",
		 (unsigned long long)mon->cfg.ram, (unsigned long long)mon->cfg.caps);
	if ((rc = parent_session(mon->env->parent, "PD", args, pd)))
		return rc;
	if ((rc = parent_session(mon->env->parent, "CPU", "ram_quota=0", cpu)))
		target_close_session(mon, pd);
	return rc;
}

static int open_sessions(struct monitor *mon, const char **what)
{
	char args[MON_ARGS_MAX];
	int rc;

	*what = "cannot create its PD or CPU session";
	if ((rc = target_open_pd_cpu(mon, &mon->pd, &mon->cpu)))
		return rc;
	*what = "cannot create its LOG session";
	if ((rc = parent_session(mon->env->parent, "LOG", "ram_quota=0", &mon->log)))
		return rc;
	snprintf(args, sizeof args, "label=\"%s\"", mon->cfg.binary);
	*what = "cannot open its ROM";
	return parent_session(mon->env->parent, "ROM", args, &mon->rom);
}

/* The target holds proxies; the monitor keeps its own reference to each
 * real session (proxy_new takes over the one it is given). */
static int make_proxies(struct monitor *mon)
{
	if (!cap_valid(
		proxy_new(mon, &pd_proxy_type, cap_ref(mon->pd), &mon->pd_proxy)) ||
	    !cap_valid(
		proxy_new(mon, &cpu_proxy_type, cap_ref(mon->cpu), &mon->cpu_proxy)) ||
	    !cap_valid(
		proxy_new(mon, &log_proxy_type, cap_ref(mon->log), &mon->log_proxy)) ||
	    !cap_valid(
		proxy_new(mon, &rom_proxy_type, cap_ref(mon->rom), &mon->rom_proxy)))
		return -ENOSPC;
	return 0;
}

/* A RAM dataspace of the target, filled through a temporary attachment
 * in the monitor by fill(ctx, host), attached in the target at at. */
static int load_ds(struct monitor *mon, uint64_t at, uint64_t size, unsigned perm,
		   void (*fill)(void *ctx, uint8_t *host), void *ctx)
{
	uint64_t host, got;
	cap_t ds;
	int rc;

	if ((rc = pd_alloc_ram(mon->pd, size, &ds)))
		return rc;
	record_add(mon, MON_CLASS_DATASPACE, ds, size);
	record_hold(mon, ds, "monitor");
	if ((rc = pd_attach(mon->env->pd, ds, 0, 0, size, MEM_R | MEM_W, &host)))
		return rc;
	fill(ctx, (uint8_t *)(uintptr_t)host);
	pd_detach(mon->env->pd, host);
	if ((rc = pd_attach(mon->pd, ds, at, 0, size, perm, &got)))
		return rc;
	if (got != at)
		return -EFAULT;
	return region_add(mon, 0, cap_badge(ds), at, 0, size, perm);
}

struct region_fill {
	const struct elf_image *img;
	const struct elf_region *r;
};

static void fill_region(void *ctx, uint8_t *host)
{
	const struct region_fill *f = ctx;

	memset(host, 0, f->r->end - f->r->start);
	for (int i = 0; i < f->img->nsegments; i++) {
		const struct elf_segment *s = &f->img->segment[i];
		if (s->vaddr < f->r->start || s->vaddr >= f->r->end)
			continue;
		memcpy(host + (s->vaddr - f->r->start), f->img->data + s->offset,
		       s->filesz);
	}
}

static int load_binary(struct monitor *mon, uint64_t *entry, const char **what)
{
	struct elf_image *img = calloc(1, sizeof *img);
	uint64_t size, host = 0;
	cap_t ds = CAP_INVALID;
	int rc;

	*what = "out of memory";
	if (!img)
		return -ENOMEM;
	*what = "cannot read the ROM";
	if ((rc = rom_dataspace(mon->rom, &ds, &size)) ||
	    (rc = pd_attach(mon->env->pd, ds, 0, 0, 0, MEM_R, &host)))
		goto out;
	if ((rc = elf_parse((const void *)(uintptr_t)host, size, img, what)))
		goto out;
	binary_id_of((const void *)(uintptr_t)host, size, &mon->binary);
	*what = "cannot load a segment";
	for (int i = 0; i < img->nregions && !rc; i++) {
		struct region_fill f = {img, &img->region[i]};
		rc = load_ds(mon, f.r->start, f.r->end - f.r->start, f.r->perm,
			     fill_region, &f);
	}
	*entry = img->entry;
out:
	if (host)
		pd_detach(mon->env->pd, host);
	if (cap_valid(ds))
		cap_release(ds);
	free(img);
	return rc;
}

static void fill_startup(void *ctx, uint8_t *host)
{
	const struct startup_info *si = ctx;
	uint64_t off = (TARGET_STACK_SIZE - sizeof *si) & ~63ULL;

	memset(host, 0, TARGET_STACK_SIZE);
	memcpy(host + off, si, sizeof *si);
}

/* Runs on the monitor's entrypoint when the target's CPU session
 * triggers its exception irq. */
static void target_fault(void *arg)
{
	struct monitor *mon = arg;

	for (int i = 0; i < MON_MAX_THREADS; i++) {
		struct mon_thread *t = &mon->thread[i];
		struct msg m;
		if (!t->used)
			continue;
		msg_reset(&m, CPU_STATE);
		msg_put_cap(&m, t->cap);
		if (rpc_call(mon->cpu, &m) || m.code != RPC_OK || m.nwords < 4 ||
		    m.w[0] != TS_FAULTED)
			continue;
		if (mon->state != MON_RUNNING)
			return;
		env_log(mon->env,
			"monitor: target thread %llu faulted at ip=0x%llx addr=0x%llx",
			(unsigned long long)t->nr, (unsigned long long)m.w[2],
			(unsigned long long)m.w[3]);
		mon->state = MON_EXITED;
		monitor_target_ended(mon, 1);
		return;
	}
}

static void unwatch(struct monitor *mon)
{
	if (mon->exc_irq.idx) {
		ep_irq_dissolve(mon->env->ep, mon->exc_irq);
		cap_release(mon->exc_irq);
	}
	mon->exc_irq = CAP_INVALID;
}

int target_watch(struct monitor *mon)
{
	struct msg m;
	int rc;

	unwatch(mon);
	msg_reset(&m, CPU_EXCEPTION_IRQ);
	if ((rc = rpc_call(mon->cpu, &m)))
		return rc;
	if (m.code != RPC_OK || m.ncaps < 1 || !cap_valid(m.caps[0]))
		return -EPROTO;
	mon->exc_irq = m.caps[0];
	if ((rc = ep_irq_handler(mon->env->ep, mon->exc_irq, target_fault, mon)))
		unwatch(mon);
	return rc;
}

int target_start(struct monitor *mon)
{
	const char *what = "";
	uint64_t entry = 0, nr, utcb, tbadge, base, sp;
	struct startup_info si;
	cap_t parent_cap, thread;
	int rc;

	mon->state = MON_RUNNING;
	if ((rc = open_sessions(mon, &what)))
		goto err;
	what = "cannot make its proxies";
	if ((rc = make_proxies(mon)) || (rc = load_binary(mon, &entry, &what)))
		goto err;
	what = "cannot create its parent interface";
	parent_cap = ep_manage(mon->env->ep, &mon->parent_obj, parent_proxy_dispatch);
	if (!cap_valid(parent_cap)) {
		rc = -ENOSPC;
		goto err;
	}
	if ((rc = pd_assign_parent(mon->pd, parent_cap)))
		goto err;
	what = "cannot create its thread";
	if ((rc = cpu_create_thread(mon->cpu, mon->pd, mon->cfg.binary, &thread, &nr,
				    &utcb, &tbadge)))
		goto err;
	if ((rc = thread_add(mon, thread, nr, utcb, tbadge))) {
		cap_release(thread);
		goto err;
	}
	record_hold(mon, thread, "monitor");
	what = "cannot set up its stack";
	si =
	    (struct startup_info){STARTUP_MAGIC, mon->parent_obj.badge, nr, tbadge, utcb};
	base = GUEST_STACK_AREA + nr * GUEST_STACK_SLOT + GUEST_STACK_SLOT -
	       TARGET_STACK_SIZE;
	if (nr >= THREAD_AREA_THREADS) {
		rc = -ERANGE;
		goto err;
	}
	if ((rc =
		 load_ds(mon, base, TARGET_STACK_SIZE, MEM_R | MEM_W, fill_startup, &si)))
		goto err;
	sp = base + ((TARGET_STACK_SIZE - sizeof si) & ~63ULL);
	what = "cannot watch it for faults";
	if ((rc = target_watch(mon)))
		goto err;
	what = "cannot start its thread";
	if ((rc = cpu_start(mon->cpu, thread, entry, sp)))
		goto err;
	return 0;
err:
	env_log(mon->env, "monitor: target '%s': %s: %s", mon->cfg.binary, what,
		strerror(-rc));
	mon->state = MON_FAILED;
	target_destroy(mon);
	return rc;
}

void target_close_session(struct monitor *mon, cap_t *s)
{
	struct msg m;

	if (cap_valid(*s)) {
		msg_reset(&m, PARENT_CLOSE);
		msg_put_cap(&m, *s);
		rpc_call(mon->env->parent, &m);
	}
	if (s->idx)
		cap_release(*s);
	*s = CAP_INVALID;
}

void target_destroy(struct monitor *mon)
{
	unwatch(mon);
	/* routed sessions go back to the monitor's parent */
	for (int i = 0; i < MON_MAX_RECORDS; i++) {
		struct mon_record *r = &mon->rec[i];
		if (r->used && r->cls == MON_CLASS_ROUTED) {
			struct msg m;
			msg_reset(&m, PARENT_CLOSE);
			msg_put_cap(&m, r->cap);
			rpc_call(mon->env->parent, &m);
		}
	}
	records_clear(mon);
	proxy_destroy_all(mon);
	if (mon->parent_obj.cap.idx)
		ep_dissolve(mon->env->ep, &mon->parent_obj);
	memset(&mon->parent_obj, 0, sizeof mon->parent_obj);
	/* CPU first: the threads go before the PD they run in */
	target_close_session(mon, &mon->cpu);
	target_close_session(mon, &mon->log);
	target_close_session(mon, &mon->rom);
	target_close_session(mon, &mon->pd);
}
