/*
 * Classify every live entry of the target's cap map (read from the
 * checkpoint's copy of its memory, at the address its libbase reported)
 * by the monitor's records, per docs/design.md's table.  An entry that fits
 * no class fails the checkpoint with a line naming its kcap and badge.
 */
#include <errno.h>
#include <string.h>

#include "monitor/checkpoint.h"
#include "monitor/group.h"
#include "monitor/target_report.h"

static int is_thread_badge(const struct monitor *mon, uint64_t badge)
{
	for (int i = 0; i < MON_MAX_THREADS; i++)
		if (mon->thread[i].used && mon->thread[i].badge == badge)
			return 1;
	return 0;
}

/* An entry of an object gone while the target still holds it: skipped
 * (a restore leaves the entry out of the tree), the record kept while
 * the target holds it. */
static enum mon_class dead_entry(struct monitor *mon, struct mon_record *r, uint64_t *aux)
{
	r->aux2 = mon->checkpoints + 1; /* still held: kept */
	*aux = 1;
	return MON_CLASS_SKIPPED;
}

/* Class of slot i holding id; *aux gets what restore needs. */
static enum mon_class classify(struct monitor *mon, uint64_t i, uint64_t id,
			       uint64_t *aux)
{
	struct mon_record *r;
	struct proxy *p;

	*aux = 0;
	if (id == CAP_ID_INVALID)
		return MON_CLASS_SKIPPED; /* receive window slot or a dead entry */
	if (i == FIXED_TASK)
		return MON_CLASS_TASK;
	if (i == FIXED_PARENT)
		return id == mon->parent_obj.badge ? MON_CLASS_PARENT : MON_CLASS_UNKNOWN;
	if (i >= FIXED_THREAD_AREA && i < FIXED_USER_BASE) {
		uint64_t slot = (i - FIXED_THREAD_AREA) % THREAD_AREA_SLOTS;
		*aux = (i - FIXED_THREAD_AREA) / THREAD_AREA_SLOTS;
		if (slot != THREAD_SLOT_GATE)
			return MON_CLASS_UNKNOWN;
		if (is_thread_badge(mon, id))
			return MON_CLASS_THREAD;
		/* killed (CPU_KILL), its entry not yet removed (thread_drop) */
		r = record_find(mon, id);
		return r && r->cls == MON_CLASS_DEAD ? dead_entry(mon, r, aux)
						     : MON_CLASS_UNKNOWN;
	}
	if ((p = proxy_find(mon, id)) != NULL) {
		*aux = (uint64_t)(p - mon->proxy); /* which proxy (image_convert.c) */
		if (p->type == &region_map_proxy_type) {
			*aux = p->state[RMAP_KIND];
			return MON_CLASS_REGION_MAP;
		}
		return p->type == &signal_proxy_type ? MON_CLASS_SIGNAL_SOURCE
						     : MON_CLASS_SESSION;
	}
	if ((r = record_find(mon, id)) != NULL) {
		if (r->cls == MON_CLASS_DEAD)
			return dead_entry(mon, r, aux);
		*aux = r->aux;
		return r->cls;
	}
	return MON_CLASS_UNKNOWN;
}

/*
 * Every RPC gate the target holds is bound to a thread that runs one of
 * the entrypoints it reported (the gate's record names the thread's
 * badge): otherwise a restore could not rebuild the pool that serves it.
 */
static int gates_have_entrypoints(struct monitor *mon, const struct mon_model *model,
				  const struct cr_report *report)
{
	const struct cr_cap_map *m = report_cap_map(model);
	uint64_t ep[CR_MAX_EPS], thread[CR_MAX_EPS];
	unsigned n;
	int rc;

	if ((rc = report_entrypoints(model, report, ep, &n))) {
		monitor_why(mon, "checkpoint: the target's list of entrypoints "
				 "is unreadable");
		return rc;
	}
	for (unsigned i = 0; i < n; i++) {
		struct cr_entrypoint e;
		long slot;

		model_read(model, ep[i], &e, sizeof e);
		slot = report_entry_slot(model, e.thread);
		thread[i] = slot < 0 ? 0 : m->slot[slot].id;
	}
	for (unsigned i = 0; i < model->ncaps; i++) {
		const struct mon_model_cap *c = &model->cap[i];
		unsigned k = 0;

		if (c->cls != MON_CLASS_RPC_GATE)
			continue;
		while (k < n && thread[k] != c->aux)
			k++;
		if (k == n) {
			monitor_why(
			    mon,
			    "checkpoint: kcap 0x%llx badge 0x%llx: RPC gate of "
			    "thread badge 0x%llx, which runs no entrypoint the target "
			    "reported",
			    (unsigned long long)c->kcap, (unsigned long long)c->badge,
			    (unsigned long long)c->aux);
			return -ENOTRECOVERABLE;
		}
	}
	return 0;
}

int cap_classify(struct monitor *mon, struct mon_model *model)
{
	const struct cr_cap_map *m;
	struct cr_report report;
	char why[160];
	int unknown = 0, rc;

	model->ncaps = 0;
	memset(model->count, 0, sizeof model->count);
	if (!mon->cap_map_addr) {
		monitor_why(mon, "checkpoint: the target reported no cap map");
		return -ENOENT;
	}
	if ((rc = report_read(model, &report, why, sizeof why))) {
		monitor_why(mon, "checkpoint refused: %s", why);
		return rc;
	}
	m = report_cap_map(model);
	if (!m) {
		monitor_why(mon, "checkpoint: no cap map at 0x%llx",
			    (unsigned long long)mon->cap_map_addr);
		return -EINVAL;
	}
	for (uint64_t i = 1; i < CAP_SLOTS; i++) {
		uint64_t id = m->slot[i].id, aux;
		enum mon_class c;

		if (!id)
			continue;
		c = classify(mon, i, id, &aux);
		if (c == MON_CLASS_UNKNOWN && mon->group) {
			/* another member's object, or one line naming the
			 * session routed outside it came through */
			c = group_classify(mon, KCAP(i), id, &aux);
			unknown += c == MON_CLASS_UNKNOWN;
		} else if (c == MON_CLASS_UNKNOWN) {
			monitor_why(
			    mon,
			    "checkpoint: kcap 0x%llx badge 0x%llx fits no class (the "
			    "monitor did not see it handed out: route the session it "
			    "came from through the monitor; the target runs on)",
			    (unsigned long long)KCAP(i), (unsigned long long)id);
			unknown++;
		}
		model->cap[model->ncaps++] = (struct mon_model_cap){KCAP(i), id, aux, c};
		model->count[c]++;
	}
	if (!unknown && (rc = gates_have_entrypoints(mon, model, &report)))
		return rc;
	/* dead records whose entries the target has dropped are done with */
	for (unsigned i = 0; i < MON_MAX_RECORDS; i++)
		if (mon->rec[i].used && mon->rec[i].cls == MON_CLASS_DEAD &&
		    mon->rec[i].aux2 != mon->checkpoints + 1)
			record_drop(mon, mon->rec[i].badge);
	return unknown ? -ENOTRECOVERABLE : 0;
}
