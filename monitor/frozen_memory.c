/*
 * The frozen memory of a post-copy source (frozen_memory.h): the
 * freeze's attachments of the target's dataspaces, published by name in
 * a small table for the migration's host thread.  A read-write lock
 * keeps them mapped while the reader holds them; the monitor's
 * withdrawal takes it for writing, so it waits for a hold in progress
 * and no hold succeeds after it.  The last of the monitor and the
 * reader to let go frees the record.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <base/sessions.h>
#include "monitor/frozen_memory.h"
#include "monitor/model.h"
#include "monitor/monitor.h"

#define FROZEN_MAX 8 /* migrations published at once on a node */

struct frozen_mem {
	char name[MON_NAME_MAX];
	int refs, gone;
	pthread_rwlock_t lock;
	unsigned n;
	struct {
		uint64_t id, size, at;
	} ds[MON_MAX_REGIONS];
	/* the regions of its address space over them, and where its cap map
	 * and checkpoint report are: the pages the destination's restore
	 * reads are found with these, not with final.img (frozen_mem_find) */
	unsigned nregions;
	struct frozen_region region[MON_MAX_REGIONS];
	uint64_t cap_map_addr, report_addr;
};

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct frozen_mem *table[FROZEN_MAX];

static void unref(struct frozen_mem *fm)
{
	if (__atomic_sub_fetch(&fm->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	pthread_rwlock_destroy(&fm->lock);
	free(fm);
}

/* The size of dataspace badge as model's regions give it, or 0. */
static uint64_t ds_size_of(const struct mon_model *model, uint64_t badge)
{
	for (unsigned i = 0; i < model->nregions; i++)
		if (model->region[i].ds_badge == badge && model->region[i].stream)
			return model->region[i].ds_size;
	return 0;
}

int frozen_mem_take(struct monitor *mon, struct mon_model *model)
{
	struct frozen_mem *fm;

	if (mon->frozen_mem || !(fm = calloc(1, sizeof *fm)))
		return mon->frozen_mem ? -EBUSY : -ENOMEM;
	fm->refs = 1; /* the monitor's */
	pthread_rwlock_init(&fm->lock, NULL);
	for (unsigned k = 0; k < model->nstream; k++) {
		fm->ds[k].id = model->stream_badge[k];
		fm->ds[k].at = model->stream_at[k];
		fm->ds[k].size = ds_size_of(model, model->stream_badge[k]);
	}
	fm->n = model->nstream;
	for (unsigned i = 0; i < model->nregions; i++) {
		const struct mon_model_region *r = &model->region[i];
		if (!r->rm && r->stream) /* not of a managed dataspace's map */
			fm->region[fm->nregions++] =
			    (struct frozen_region){r->at, r->size, r->off, r->ds_badge};
	}
	fm->cap_map_addr = model->cap_map_addr;
	fm->report_addr = model->report_addr;
	/* the attachments are the record's now: the model's regions no
	 * longer point into them */
	for (unsigned i = 0; i < model->nregions; i++)
		model->region[i].stream = model->region[i].live = NULL;
	model->nstream = 0;
	mon->frozen_mem = fm;
	return 0;
}

int frozen_mem_publish(struct monitor *mon, const char *name)
{
	struct frozen_mem *fm = mon->frozen_mem;
	unsigned slot;

	if (!fm)
		return -ENOENT;
	snprintf(fm->name, sizeof fm->name, "%s", name);
	pthread_mutex_lock(&table_lock);
	for (slot = 0; slot < FROZEN_MAX && table[slot]; slot++)
		if (!strcmp(table[slot]->name, fm->name))
			slot = FROZEN_MAX; /* one per name */
	if (slot < FROZEN_MAX)
		table[slot] = fm;
	pthread_mutex_unlock(&table_lock);
	return slot < FROZEN_MAX ? 0 : -EBUSY;
}

void frozen_mem_end(struct monitor *mon)
{
	struct frozen_mem *fm = mon->frozen_mem;

	if (!fm)
		return;
	mon->frozen_mem = NULL;
	pthread_mutex_lock(&table_lock);
	for (unsigned i = 0; i < FROZEN_MAX; i++)
		if (table[i] == fm)
			table[i] = NULL;
	pthread_mutex_unlock(&table_lock);
	pthread_rwlock_wrlock(&fm->lock); /* a reader's hold ends first */
	fm->gone = 1;
	pthread_rwlock_unlock(&fm->lock);
	for (unsigned k = 0; k < fm->n; k++)
		pd_detach(mon->env->pd, fm->ds[k].at);
	unref(fm);
}

struct frozen_mem *frozen_mem_claim(const char *name)
{
	struct frozen_mem *fm = NULL;

	pthread_mutex_lock(&table_lock);
	for (unsigned i = 0; i < FROZEN_MAX && !fm; i++)
		if (table[i] && !strcmp(table[i]->name, name)) {
			fm = table[i];
			__atomic_add_fetch(&fm->refs, 1, __ATOMIC_ACQ_REL);
		}
	pthread_mutex_unlock(&table_lock);
	return fm;
}

void frozen_mem_put(struct frozen_mem *fm)
{
	if (fm)
		unref(fm);
}

int frozen_mem_hold(struct frozen_mem *fm)
{
	pthread_rwlock_rdlock(&fm->lock);
	if (!fm->gone)
		return 0;
	pthread_rwlock_unlock(&fm->lock);
	return -1;
}

void frozen_mem_release(struct frozen_mem *fm)
{
	pthread_rwlock_unlock(&fm->lock);
}

const struct frozen_region *frozen_mem_find(const struct frozen_mem *fm, uint64_t addr,
					    uint64_t *ds_off)
{
	for (unsigned i = 0; i < fm->nregions; i++) {
		const struct frozen_region *r = &fm->region[i];
		uint64_t size;
		if (addr < r->at || addr - r->at >= r->size ||
		    !frozen_mem_at(fm, r->ds_id, &size) ||
		    r->off + (addr - r->at) >= size)
			continue;
		*ds_off = r->off + (addr - r->at);
		return r;
	}
	return NULL;
}

void frozen_mem_addrs(const struct frozen_mem *fm, uint64_t *cap_map, uint64_t *report)
{
	*cap_map = fm->cap_map_addr;
	*report = fm->report_addr;
}

const uint8_t *frozen_mem_at(const struct frozen_mem *fm, uint64_t id, uint64_t *size)
{
	for (unsigned k = 0; k < fm->n; k++)
		if (fm->ds[k].id == id) {
			*size = fm->ds[k].size;
			return (const uint8_t *)(uintptr_t)fm->ds[k].at;
		}
	return NULL;
}
