/*
 * The monitor's records: every cap it learned of while serving the
 * target (with its class and what restore needs), the target's attached
 * regions and its threads.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "monitor/group.h"
#include "monitor/monitor.h"

static const char *const class_names[MON_CLASS_COUNT] = {
    [MON_CLASS_UNKNOWN] = "unknown",
    [MON_CLASS_SESSION] = "session",
    [MON_CLASS_DATASPACE] = "dataspace",
    [MON_CLASS_ROM_DS] = "rom dataspace",
    [MON_CLASS_REGION_MAP] = "region map",
    [MON_CLASS_MANAGED_DS] = "managed dataspace",
    [MON_CLASS_THREAD] = "thread",
    [MON_CLASS_RPC_GATE] = "rpc gate",
    [MON_CLASS_SIGNAL_SOURCE] = "signal source",
    [MON_CLASS_SIGNAL_CONTEXT] = "signal context",
    [MON_CLASS_SEMAPHORE] = "semaphore irq",
    [MON_CLASS_ROUTED] = "routed session",
    [MON_CLASS_ROOT] = "announced root",
    [MON_CLASS_TASK] = "task",
    [MON_CLASS_PARENT] = "parent",
    [MON_CLASS_SKIPPED] = "skipped",
    [MON_CLASS_DEAD] = "dead",
    [MON_CLASS_MEMBER] = "member object",
};

const char *mon_class_name(enum mon_class c)
{
	return c < MON_CLASS_COUNT && class_names[c] ? class_names[c] : "?";
}

/*
 * The badge index: rec_hash is an open-addressing table (linear probing,
 * backward-shift deletion) of record index + 1, keyed by badge; rec_free
 * a stack of unused record indices.  Both are derived from rec[] and
 * rebuilt from it while rec_indexed is 0 (a zeroed monitor).
 */
#define HASH_MASK ((1u << MON_REC_HASH_BITS) - 1)

static unsigned hash_home(uint64_t badge)
{
	return (unsigned)((badge * 0x9e3779b97f4a7c15ULL) >> (64 - MON_REC_HASH_BITS));
}

static void hash_insert(struct monitor *mon, unsigned i)
{
	unsigned p = hash_home(mon->rec[i].badge);

	while (mon->rec_hash[p])
		p = (p + 1) & HASH_MASK;
	mon->rec_hash[p] = (uint16_t)(i + 1);
}

static void hash_remove(struct monitor *mon, unsigned i)
{
	unsigned p = hash_home(mon->rec[i].badge), k;

	while (mon->rec_hash[p] && mon->rec_hash[p] != i + 1)
		p = (p + 1) & HASH_MASK;
	if (!mon->rec_hash[p])
		return;
	/* shift back every later entry of the run that may live at p */
	for (k = (p + 1) & HASH_MASK; mon->rec_hash[k]; k = (k + 1) & HASH_MASK) {
		unsigned home = hash_home(mon->rec[mon->rec_hash[k] - 1].badge);
		if (((k - home) & HASH_MASK) >= ((k - p) & HASH_MASK)) {
			mon->rec_hash[p] = mon->rec_hash[k];
			p = k;
		}
	}
	mon->rec_hash[p] = 0;
}

static void index_build(struct monitor *mon)
{
	memset(mon->rec_hash, 0, sizeof mon->rec_hash);
	mon->rec_nfree = 0;
	for (unsigned i = MON_MAX_RECORDS; i-- > 0;) {
		if (mon->rec[i].used)
			hash_insert(mon, i);
		else
			mon->rec_free[mon->rec_nfree++] = (uint16_t)i;
	}
	mon->rec_indexed = 1;
}

struct mon_rec_text *record_text(struct monitor *mon, const struct mon_record *r)
{
	unsigned i = (unsigned)(r - mon->rec);

	mon->rec[i].text = 1;
	return &mon->rec_text[i];
}

const char *record_what(const struct monitor *mon, const struct mon_record *r)
{
	return r->text ? mon->rec_text[r - mon->rec].what : "";
}

const char *record_args(const struct monitor *mon, const struct mon_record *r)
{
	return r->text ? mon->rec_text[r - mon->rec].args : "";
}

/* r's slot emptied, its text too if it was written. */
static void record_clear(struct monitor *mon, struct mon_record *r)
{
	if (r->text)
		memset(&mon->rec_text[r - mon->rec], 0, sizeof mon->rec_text[0]);
	memset(r, 0, sizeof *r);
}

struct mon_record *record_find(struct monitor *mon, uint64_t badge)
{
	if (!badge || badge == CAP_ID_INVALID)
		return NULL;
	if (!mon->rec_indexed)
		index_build(mon);
	for (unsigned p = hash_home(badge); mon->rec_hash[p]; p = (p + 1) & HASH_MASK) {
		struct mon_record *r = &mon->rec[mon->rec_hash[p] - 1];
		if (r->used && r->badge == badge)
			return r;
	}
	return NULL;
}

/* The record of badge, made (unused fields zero) if there is none;
 * NULL when the table is full. */
static struct mon_record *record_of(struct monitor *mon, uint64_t badge)
{
	struct mon_record *r = record_find(mon, badge);
	unsigned i;

	if (r)
		return r;
	if (!mon->rec_indexed)
		index_build(mon);
	/* full: dead records go first (a target that frees objects for long
	 * without a checkpoint would fill the table with them); one still in
	 * its cap map then fails a checkpoint, naming it, instead of a live
	 * object going unrecorded */
	for (unsigned k = 0; !mon->rec_nfree && k < MON_MAX_RECORDS; k++)
		if (mon->rec[k].used && mon->rec[k].cls == MON_CLASS_DEAD)
			record_drop(mon, mon->rec[k].badge);
	if (!mon->rec_nfree)
		return NULL;
	i = mon->rec_free[--mon->rec_nfree];
	r = &mon->rec[i];
	record_clear(mon, r);
	r->used = 1;
	r->badge = badge;
	hash_insert(mon, i);
	return r;
}

static struct mon_record *record_get(struct monitor *mon, cap_t cap)
{
	struct mon_record *r;

	if (!cap_valid(cap))
		return record_find(mon, cap_badge(cap));
	r = record_of(mon, cap_badge(cap));
	if (r && !r->cap.idx)
		r->cap = cap;
	return r;
}

struct mon_record *record_add(struct monitor *mon, enum mon_class cls, cap_t cap,
			      uint64_t aux)
{
	struct mon_record *r = record_get(mon, cap);

	if (r && r->cls == MON_CLASS_UNKNOWN) {
		r->cls = cls;
		r->aux = aux;
	}
	return r;
}

void record_hold(struct monitor *mon, cap_t cap, const char *what)
{
	struct mon_record *r = record_get(mon, cap);

	if (!r) {
		cap_release(cap);
		return;
	}
	r->refs++;
	/* only a routed session's name is read (its record is made first) */
	if (r->cls == MON_CLASS_ROUTED && what && !record_what(mon, r)[0])
		snprintf(record_text(mon, r)->what, MON_NAME_MAX, "%s", what);
}

void record_drop(struct monitor *mon, uint64_t badge)
{
	struct mon_record *r = record_find(mon, badge);

	if (!r)
		return;
	while (r->refs--)
		cap_release(r->cap);
	hash_remove(mon, (unsigned)(r - mon->rec));
	mon->rec_free[mon->rec_nfree++] = (uint16_t)(r - mon->rec);
	record_clear(mon, r);
}

int region_add(struct monitor *mon, uint64_t rm, uint64_t ds_badge, uint64_t at,
	       uint64_t off, uint64_t size, unsigned perm)
{
	for (int i = 0; i < MON_MAX_REGIONS; i++) {
		struct mon_region *g = &mon->region[i];
		if (g->used)
			continue;
		*g = (struct mon_region){1, rm, ds_badge, at, off, size, perm};
		return 0;
	}
	return -ENOSPC;
}

uint64_t record_ds_size(struct monitor *mon, const struct mon_record *ds)
{
	struct proxy *map;

	if (!ds)
		return 0;
	if (ds->cls != MON_CLASS_MANAGED_DS)
		return ds->aux;
	map = region_map_find(mon, ds->aux);
	return map ? map->state[RMAP_SIZE] : 0;
}

void region_attached(struct monitor *mon, uint64_t rm, const struct mon_req *req,
		     uint64_t at)
{
	uint64_t size = req->w[2], ds_size;

	struct mon_record *ds = record_find(mon, req->badge[0]);
	int owner;

	/* another member's dataspace (a group's, group_caps.c): its size there */
	ds_size = ds	       ? record_ds_size(mon, ds)
		  : mon->group ? group_member_ds(mon, req->badge[0], &owner)
			       : 0;
	if (!size && ds_size > req->w[1])
		size = ds_size - req->w[1];
	if (region_add(mon, rm, req->badge[0], at, req->w[1], size,
		       (unsigned)req->w[3])) {
		env_log(mon->env, "monitor: too many regions to record");
		mon->regions_lost = 1;
	}
}

void region_drop(struct monitor *mon, uint64_t rm, uint64_t at)
{
	for (int i = 0; i < MON_MAX_REGIONS; i++)
		if (mon->region[i].used && mon->region[i].rm == rm &&
		    mon->region[i].at == at)
			memset(&mon->region[i], 0, sizeof mon->region[i]);
}

int thread_add(struct monitor *mon, cap_t cap, uint64_t nr, uint64_t utcb, uint64_t badge)
{
	for (int i = 0; i < MON_MAX_THREADS; i++) {
		struct mon_thread *t = &mon->thread[i];
		if (t->used)
			continue;
		*t = (struct mon_thread){
		    .used = 1, .cap = cap, .nr = nr, .utcb = utcb, .badge = badge};
		record_add(mon, MON_CLASS_THREAD, cap, nr);
		return 0;
	}
	return -ENOSPC;
}

void thread_name(struct monitor *mon, uint64_t nr, const char *name, size_t len)
{
	for (int i = 0; i < MON_MAX_THREADS; i++) {
		struct mon_thread *t = &mon->thread[i];
		if (t->used && t->nr == nr)
			snprintf(t->name, sizeof t->name, "%.*s", (int)len, name);
	}
}

const char *thread_name_of(const struct monitor *mon, uint64_t nr)
{
	for (int i = 0; i < MON_MAX_THREADS; i++)
		if (mon->thread[i].used && mon->thread[i].nr == nr)
			return mon->thread[i].name;
	return "";
}

/* The killed thread's kernel-thread cap is dead too, and its entry stays
 * in the target's cap map until thread_join has removed it (libbase
 * kills first): recorded dead, a checkpoint in between skips it instead
 * of refusing an entry that fits no class. */
void thread_drop(struct monitor *mon, uint64_t obj_badge)
{
	for (int i = 0; i < MON_MAX_THREADS; i++) {
		struct mon_thread *t = &mon->thread[i];
		uint64_t gate = t->badge;

		if (!t->used || cap_badge(t->cap) != obj_badge)
			continue;
		memset(t, 0, sizeof *t);
		record_dead(mon, obj_badge); /* references released */
		record_dead(mon, gate);
	}
}

void record_dead(struct monitor *mon, uint64_t badge)
{
	struct mon_record *r;

	if (!badge || badge == CAP_ID_INVALID)
		return;
	if (!(r = record_of(mon, badge)))
		return; /* full: a later checkpoint names the entry */
	while (r->refs) {
		r->refs--;
		cap_release(r->cap);
	}
	r->cap = CAP_INVALID;
	r->cls = MON_CLASS_DEAD;
	r->aux = r->aux2 = 0;
}

void records_clear(struct monitor *mon)
{
	for (int i = 0; i < MON_MAX_RECORDS; i++)
		if (mon->rec[i].used)
			record_drop(mon, mon->rec[i].badge);
	memset(mon->region, 0, sizeof mon->region);
	memset(mon->thread, 0, sizeof mon->thread);
}
