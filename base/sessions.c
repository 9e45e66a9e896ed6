/*
 * Client calls of core's sessions and of the parent interface: each is
 * one rpc_invoke with the word layout documented in base/sessions.h.  The
 * caller owns the caps it gets back; any cap a reply carries that the
 * call does not hand out is released here.
 */
#include <errno.h>
#include <string.h>
#include "platform.h"

int pd_alloc_ram(cap_t pd, uint64_t size, cap_t *ds)
{
	struct msg m;
	int err = base_request(pd, PD_ALLOC_RAM, CAP_INVALID, &size, 1, &m);

	return err ? err : base_take_cap(&m, ds);
}

int pd_free_ram(cap_t pd, cap_t ds)
{
	struct msg m;

	return base_drop_caps(&m, base_request(pd, PD_FREE_RAM, ds, NULL, 0, &m));
}

int pd_attach(cap_t pd, cap_t ds, uint64_t addr, uint64_t off, uint64_t size,
	      unsigned perm, uint64_t *at)
{
	uint64_t w[4] = {addr, off, size, perm};
	struct msg m;
	int err = base_drop_caps(&m, base_request(pd, PD_ATTACH, ds, w, 4, &m));

	if (err)
		return err;
	if (m.nwords < 1)
		return -EPROTO;
	*at = m.w[0];
	return 0;
}

int pd_detach(cap_t pd, uint64_t addr)
{
	struct msg m;

	return base_drop_caps(&m, base_request(pd, PD_DETACH, CAP_INVALID, &addr, 1, &m));
}

int pd_alloc_rpc_cap(cap_t pd, cap_t ep_thread, cap_t *gate)
{
	struct msg m;
	int err = base_request(pd, PD_ALLOC_RPC_CAP, ep_thread, NULL, 0, &m);

	return err ? err : base_take_cap(&m, gate);
}

/* A reply that must carry exactly n valid gates: into gates, or
 * -EPROTO with every cap it carried dropped. */
static int take_gates(struct msg *m, unsigned n, cap_t *gates)
{
	for (unsigned i = 0; i < m->ncaps; i++)
		if (!cap_valid(m->caps[i]))
			n = 0; /* a reply core never sends */
	if (m->ncaps != n) {
		base_drop_caps(m, 0);
		return -EPROTO;
	}
	for (unsigned i = 0; i < n; i++)
		gates[i] = m->caps[i];
	return 0;
}

int pd_alloc_rpc_caps(cap_t pd, cap_t ep_thread, const uint64_t *kcaps, unsigned n,
		      cap_t *gates)
{
	struct msg m;
	int err;

	if (!n || n > MSG_MAX_ITEMS)
		return -EINVAL;
	err = base_request(pd, PD_ALLOC_RPC_CAPS, ep_thread, kcaps, n, &m);
	if (err)
		return err;
	return take_gates(&m, n, gates);
}

/* n free slots of the fixed array (core maps into no slot past it), from
 * the first-free hint (every slot below it is used); held as a receive
 * window's are (CAP_ID_INVALID), the hint moved past them (a restore's
 * thousands of gates, a batch a call, rescanned every slot taken before
 * from an unmoved hint).  How many were found. */
static unsigned take_slots(struct cap_map *cm, struct cap_index **e, unsigned n)
{
	uint64_t idx =
	    cm->first_free_hint > FIXED_USER_BASE ? cm->first_free_hint : FIXED_USER_BASE;
	unsigned i = 0;

	for (; idx < CAP_SLOTS && i < n; idx++) {
		struct cap_index *s = cap_map_slot(cm, idx);
		if (s->id)
			continue;
		memset(s, 0, sizeof(*s));
		s->id = CAP_ID_INVALID;
		e[i++] = s;
	}
	if (i)
		cm->first_free_hint = idx;
	return i;
}

/* A held slot handed back unused: the hint may lie below it again. */
static void give_slot(struct cap_map *cm, struct cap_index *e)
{
	uint64_t idx = KCAP_INDEX(cap_map_kcap(cm, e));

	e->id = 0;
	if (idx < cm->first_free_hint)
		cm->first_free_hint = idx;
}

/* Slots first-fit in the cap map, held (CAP_ID_INVALID, as a receive
 * window's) while core maps the gates there; then entered with their
 * badges.  A refused call hands the slots back.  A badge the map knows
 * already is no fresh gate of core's: that reply is refused.  With pd
 * valid, the gates are pd's, mapped at its kcaps at[] too (the call goes
 * to pd with own_pd as the second cap). */
static int gates_mapped(cap_t pd, cap_t own_pd, cap_t ep_thread, const uint64_t *at,
			unsigned n, cap_t *gates)
{
	struct cap_map *cm = cap_map();
	struct cap_index *e[TASK_MAP_OUT_MAX];
	uint64_t kcap[TASK_MAP_OUT_MAX], held;
	unsigned i, refused = 0, w = cap_valid(pd) ? 2 : 1;
	struct msg m;
	int err;

	if (!n || n * w > TASK_MAP_OUT_MAX || !cap_valid(ep_thread))
		return -EINVAL;
	cap_map_lock();
	i = take_slots(cm, e, n);
	cap_map_unlock();
	msg_reset(&m, PD_ALLOC_GATES_MAPPED);
	msg_put_cap(&m, ep_thread);
	if (w == 2)
		msg_put_cap(&m, own_pd);
	for (unsigned j = 0; j < i; j++) {
		if (w == 2)
			msg_put(&m, at[j]);
		msg_put(&m, cap_map_kcap(cm, e[j]));
	}
	err = i < n ? -ENOSPC : base_drop_caps(&m, rpc_invoke(w == 2 ? pd : own_pd, &m));
	if (!err && m.nwords != n)
		err = -EPROTO; /* never core's: what it mapped stays unused */
	held = cap_badges_hold();
	cap_map_lock();
	for (unsigned j = 0; j < i; j++) {
		kcap[j] = cap_map_kcap(cm, e[j]);
		e[j]->id = 0;
		gates[j] =
		    err ? CAP_INVALID : (cap_t){cap_map_insert_at(cm, m.w[j], kcap[j])};
		if (!cap_valid(gates[j]))
			give_slot(cm, e[j]);
		refused |= !err && !cap_valid(gates[j]);
	}
	cap_map_unlock();
	cap_badges_done(held);
	for (unsigned j = 0; refused && j < i; j++) {
		if (cap_valid(gates[j]))
			cap_release(gates[j]); /* unmaps it */
		else
			base_unmap(kcap[j], UNMAP_SELF);
	}
	return refused ? -EPROTO : err;
}

int pd_alloc_gates_mapped(cap_t own_pd, cap_t ep_thread, unsigned n, cap_t *gates)
{
	return gates_mapped(CAP_INVALID, own_pd, ep_thread, NULL, n, gates);
}

int pd_alloc_gates_at(cap_t pd, cap_t own_pd, cap_t ep_thread, const uint64_t *kcaps,
		      unsigned n, cap_t *gates)
{
	if (!cap_valid(pd) || !kcaps)
		return -EINVAL;
	return gates_mapped(pd, own_pd, ep_thread, kcaps, n, gates);
}

int pd_free_rpc_cap(cap_t pd, cap_t gate)
{
	struct msg m;

	return base_drop_caps(&m, base_request(pd, PD_FREE_RPC_CAP, gate, NULL, 0, &m));
}

int pd_cap_map_report(cap_t pd, uint64_t cap_map, uint64_t entries, uint64_t report,
		      uint64_t version)
{
	uint64_t w[4] = {cap_map, entries, report, version};
	struct msg m;

	return base_drop_caps(&m,
			      base_request(pd, PD_CAP_MAP_REPORT, CAP_INVALID, w, 4, &m));
}

int pd_map_cap(cap_t pd, cap_t c, uint64_t kcap)
{
	struct msg m;

	return base_drop_caps(&m, base_request(pd, PD_MAP_CAP, c, &kcap, 1, &m));
}

int pd_map_caps(cap_t pd, const cap_t *caps, const uint64_t *kcaps, unsigned n)
{
	struct msg m;

	if (!n || n > MSG_MAX_ITEMS)
		return -EINVAL;
	msg_reset(&m, PD_MAP_CAPS);
	for (unsigned i = 0; i < n; i++)
		if (!cap_valid(caps[i]) || msg_put_cap(&m, caps[i]) ||
		    msg_put(&m, kcaps[i]))
			return -EINVAL;
	return base_drop_caps(&m, rpc_invoke(pd, &m));
}

int pd_derive_caps(cap_t pd, cap_t own_pd, const uint64_t *theirs, const uint64_t *mine,
		   unsigned n)
{
	struct msg m;

	if (!n || n > TASK_MAP_OUT_MAX)
		return -EINVAL;
	msg_reset(&m, PD_DERIVE_CAPS);
	if (msg_put_cap(&m, own_pd))
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		if (msg_put(&m, theirs[i]) || msg_put(&m, mine[i]))
			return -EINVAL;
	return base_drop_caps(&m, rpc_invoke(pd, &m));
}

int pd_map_out(cap_t pd, const cap_t *pds, unsigned npds, const unsigned *pd_of,
	       const uint64_t *from, const uint64_t *to, unsigned n)
{
	struct msg m;

	if (!npds || npds > PD_MAP_OUT_PDS || !n || n > PD_MAP_OUT_MAX(npds))
		return -EINVAL;
	msg_reset(&m, PD_MAP_OUT);
	msg_put(&m, npds);
	for (unsigned i = 0; i < npds; i++)
		if (!cap_valid(pds[i]) || msg_put(&m, cap_kcap(pds[i])) ||
		    msg_put(&m, cap_badge(pds[i])))
			return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		if (pd_of[i] >= npds || to[i] % KCAP(1) || msg_put(&m, from[i]) ||
		    msg_put(&m, to[i] | pd_of[i]))
			return -EINVAL;
	return base_drop_caps(&m, rpc_invoke(pd, &m));
}

int pd_assign_parent(cap_t pd, cap_t parent)
{
	struct msg m;

	return base_drop_caps(&m,
			      base_request(pd, PD_ASSIGN_PARENT, parent, NULL, 0, &m));
}

int pd_transfer_quota(cap_t pd, cap_t to, uint64_t ram, uint64_t caps)
{
	uint64_t w[2] = {ram, caps};
	struct msg m;

	return base_drop_caps(&m, base_request(pd, PD_TRANSFER_QUOTA, to, w, 2, &m));
}

int cpu_create_thread(cap_t cpu, cap_t pd, const char *name, cap_t *thread, uint64_t *nr,
		      uint64_t *utcb, uint64_t *thread_badge)
{
	struct msg m;
	int err;

	msg_reset(&m, CPU_CREATE_THREAD);
	if (msg_put_cap(&m, pd) || msg_put_str(&m, name ? name : ""))
		return -E2BIG;
	err = rpc_invoke(cpu, &m);
	if (err)
		return err;
	if (m.nwords < 3) {
		base_drop_caps(&m, 0);
		return -EPROTO;
	}
	err = base_take_cap(&m, thread);
	if (err)
		return err;
	*nr = m.w[0];
	*utcb = m.w[1];
	*thread_badge = m.w[2];
	return 0;
}

int cpu_start(cap_t cpu, cap_t thread, uint64_t ip, uint64_t sp)
{
	uint64_t w[2] = {ip, sp};
	struct msg m;

	return base_drop_caps(&m, base_request(cpu, CPU_START, thread, w, 2, &m));
}

int cpu_pause(cap_t cpu, cap_t thread)
{
	struct msg m;

	return base_drop_caps(&m, base_request(cpu, CPU_PAUSE, thread, NULL, 0, &m));
}

int cpu_resume(cap_t cpu, cap_t thread)
{
	struct msg m;

	return base_drop_caps(&m, base_request(cpu, CPU_RESUME, thread, NULL, 0, &m));
}

int cpu_get_regs(cap_t cpu, cap_t thread, struct cpu_regs *r)
{
	struct msg m;
	int err =
	    base_drop_caps(&m, base_request(cpu, CPU_GET_REGS, thread, NULL, 0, &m));

	if (err)
		return err;
	if (m.nwords < CPU_REGS_WORDS)
		return -EPROTO;
	memcpy(r, m.w, sizeof(*r));
	return 0;
}

int cpu_set_regs(cap_t cpu, cap_t thread, const struct cpu_regs *r)
{
	uint64_t w[CPU_REGS_WORDS];
	struct msg m;

	memcpy(w, r, sizeof(w));
	return base_drop_caps(
	    &m, base_request(cpu, CPU_SET_REGS, thread, w, CPU_REGS_WORDS, &m));
}

int rom_dataspace(cap_t rom, cap_t *ds, uint64_t *size)
{
	struct msg m;
	int err = base_request(rom, ROM_DATASPACE, CAP_INVALID, NULL, 0, &m);

	if (err)
		return err;
	if (m.nwords < 1) {
		base_drop_caps(&m, 0);
		return -EPROTO;
	}
	*size = m.w[0];
	return base_take_cap(&m, ds);
}

/* A dataspace call answered with one word (into *out, if out): 0 or
 * -errno. */
static int ds_call_word(cap_t ds, uint64_t op, cap_t c, const uint64_t *w, unsigned n,
			uint64_t *out)
{
	struct msg m;
	int err = base_drop_caps(&m, base_request(ds, op, c, w, n, &m));

	if (err)
		return err;
	if (m.nwords < 1)
		return -EPROTO;
	if (out)
		*out = m.w[0];
	return 0;
}

int ds_dirty_start(cap_t ds, uint64_t *pages)
{
	return ds_call_word(ds, DS_DIRTY_START, CAP_INVALID, NULL, 0, pages);
}

int ds_dirty_start_paid(cap_t ds, cap_t payer, int background, uint64_t *pages)
{
	uint64_t w = DS_DIRTY_BACKGROUND;

	return ds_call_word(ds, DS_DIRTY_START, payer, &w, background ? 1 : 0, pages);
}

int ds_dirty_stop(cap_t ds)
{
	struct msg m;

	return base_drop_caps(&m,
			      base_request(ds, DS_DIRTY_STOP, CAP_INVALID, NULL, 0, &m));
}

/* DS_DIRTY_FETCH, with flags (DS_DIRTY_PEEK...) if not 0; with
 * DS_DIRTY_BARE the count is the bits' (the answer has none). */
static int dirty_fetch_flags(cap_t ds, uint64_t first, uint64_t *bits, unsigned *n,
			     uint64_t *ndirty, uint64_t flags)
{
	uint64_t w[3] = {first, *n, flags}, skip = flags & DS_DIRTY_BARE ? 0 : 1;
	struct msg m;
	int err = base_drop_caps(
	    &m, base_request(ds, DS_DIRTY_FETCH, CAP_INVALID, w, flags ? 3 : 2, &m));

	if (err)
		return err;
	if (m.nwords < skip + 1 || m.nwords - skip > *n)
		return -EPROTO;
	*n = (unsigned)(m.nwords - skip);
	memcpy(bits, &m.w[skip], *n * sizeof(*bits));
	if (ndirty)
		*ndirty = skip ? m.w[0] : 0;
	for (unsigned i = 0; ndirty && !skip && i < *n; i++)
		*ndirty += (uint64_t)__builtin_popcountll(bits[i]);
	return 0;
}

int ds_dirty_fetch(cap_t ds, uint64_t first, uint64_t *bits, unsigned *n,
		   uint64_t *ndirty)
{
	return dirty_fetch_flags(ds, first, bits, n, ndirty, 0);
}

static int64_t dirty_fetch_all(cap_t ds, uint64_t pages, uint64_t *bits, uint64_t flags)
{
	uint64_t words = (pages + 63) / 64, done = 0, dirty = 0, got;
	uint64_t most = flags & DS_DIRTY_BARE ? MSG_MAX_WORDS : DS_DIRTY_WORDS;

	while (done < words) {
		unsigned n = (unsigned)(words - done < most ? words - done : most);
		int err = dirty_fetch_flags(ds, done, bits + done, &n, &got, flags);

		if (err)
			return err;
		done += n;
		dirty += got;
	}
	return (int64_t)dirty;
}

int64_t ds_dirty_fetch_all(cap_t ds, uint64_t pages, uint64_t *bits)
{
	return dirty_fetch_all(ds, pages, bits, 0);
}

int64_t ds_dirty_peek_all(cap_t ds, uint64_t pages, uint64_t *bits)
{
	return dirty_fetch_all(ds, pages, bits, DS_DIRTY_PEEK | DS_DIRTY_BARE);
}

int64_t ds_dirty_take_all(cap_t ds, uint64_t pages, uint64_t *bits)
{
	return dirty_fetch_all(ds, pages, bits, DS_DIRTY_TAKE | DS_DIRTY_BARE);
}

int ds_dirty_rearm(cap_t ds)
{
	struct msg m;

	return base_drop_caps(&m,
			      base_request(ds, DS_DIRTY_REARM, CAP_INVALID, NULL, 0, &m));
}

int ds_lazy_start(cap_t ds, cap_t sigh, uint64_t *pages)
{
	return ds_call_word(ds, DS_LAZY_START, sigh, NULL, 0, pages);
}

int ds_lazy_start_paid(cap_t ds, cap_t sigh, cap_t payer, uint64_t *pages)
{
	struct msg m;
	int err;

	msg_reset(&m, DS_LAZY_START);
	if (msg_put_cap(&m, sigh) || msg_put_cap(&m, payer))
		return -E2BIG;
	if ((err = base_drop_caps(&m, rpc_invoke(ds, &m))))
		return err;
	if (m.nwords < 1)
		return -EPROTO;
	if (pages)
		*pages = m.w[0];
	return 0;
}

int ds_lazy_wanted(cap_t ds, uint64_t *pages, unsigned max, unsigned *n, uint64_t *absent)
{
	struct msg m;
	int err = base_drop_caps(
	    &m, base_request(ds, DS_LAZY_WANTED, CAP_INVALID, NULL, 0, &m));

	if (err)
		return err;
	if (m.nwords < 1)
		return -EPROTO;
	*n = m.nwords - 1 < max ? m.nwords - 1 : max;
	memcpy(pages, &m.w[1], *n * sizeof(*pages));
	if (absent)
		*absent = m.w[0];
	return 0;
}

int ds_lazy_filled(cap_t ds, uint64_t first, uint64_t count, uint64_t *absent)
{
	uint64_t w[2] = {first, count};

	return ds_call_word(ds, DS_LAZY_FILLED, CAP_INVALID, w, 2, absent);
}

int log_write(cap_t log, const char *line, uint64_t len)
{
	struct msg m;

	msg_reset(&m, LOG_WRITE);
	if (msg_put_bytes(&m, line, len))
		return -E2BIG;
	return base_drop_caps(&m, rpc_invoke(log, &m));
}

int parent_session(cap_t parent, const char *service, const char *args, cap_t *out)
{
	struct msg m;
	int err;

	msg_reset(&m, PARENT_SESSION);
	if (msg_put_str(&m, service) || msg_put_str(&m, args ? args : ""))
		return -E2BIG;
	err = rpc_invoke(parent, &m);
	return err ? err : base_take_cap(&m, out);
}

int parent_announce(cap_t parent, const char *service, cap_t root)
{
	struct msg m;

	msg_reset(&m, PARENT_ANNOUNCE);
	if (msg_put_str(&m, service) || msg_put_cap(&m, root))
		return -E2BIG;
	return base_drop_caps(&m, rpc_invoke(parent, &m));
}

int parent_exit(cap_t parent, int code)
{
	uint64_t w = (uint64_t)(int64_t)code;
	struct msg m;

	return base_drop_caps(&m,
			      base_request(parent, PARENT_EXIT, CAP_INVALID, &w, 1, &m));
}

int parent_close(cap_t parent, cap_t session)
{
	struct msg m;

	if (!cap_valid(session))
		return -EINVAL;
	return base_drop_caps(&m,
			      base_request(parent, PARENT_CLOSE, session, NULL, 0, &m));
}

int parent_upgrade(cap_t parent, cap_t session, const char *args)
{
	struct msg m;

	if (!cap_valid(session) || !args)
		return -EINVAL;
	msg_reset(&m, PARENT_UPGRADE);
	if (msg_put_cap(&m, session) || msg_put_str(&m, args))
		return -E2BIG;
	return base_drop_caps(&m, rpc_invoke(parent, &m));
}

int pd_quota_get(cap_t pd, struct pd_quota *q)
{
	struct msg m;
	int err =
	    base_drop_caps(&m, base_request(pd, PD_QUOTA, CAP_INVALID, NULL, 0, &m));

	if (err)
		return err;
	if (m.nwords < 4)
		return -EPROTO;
	q->ram_quota = m.w[0];
	q->ram_used = m.w[1];
	q->cap_quota = m.w[2];
	q->cap_used = m.w[3];
	return 0;
}
