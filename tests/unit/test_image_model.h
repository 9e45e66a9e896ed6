/*
 * Shared by the image tests: a valid image model with random contents in
 * every record field, and helpers to find and re-checksum sections of an
 * image held in memory (for forging).
 */
#ifndef TEST_IMAGE_MODEL_H
#define TEST_IMAGE_MODEL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "image/image.h"

#define T_UNUSED __attribute__((unused))

#define T_THREADS 4
#define T_RAM_DS  3
#define T_PAGES	  (3 * IMAGE_CHUNK_PAGES + 5) /* 3 full chunks and a short one */

static uint64_t t_rng = 0x9e3779b97f4a7c15ull;
static T_UNUSED uint64_t t_rand(void)
{
	t_rng ^= t_rng << 13;
	t_rng ^= t_rng >> 7;
	t_rng ^= t_rng << 17;
	return t_rng;
}
static T_UNUSED void t_fill(void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		((uint8_t *)p)[i] = (uint8_t)t_rand();
}
/* random printable text, NUL-terminated somewhere in the field */
static T_UNUSED void t_str(char *s, size_t size)
{
	size_t len = t_rand() % size;
	for (size_t i = 0; i < size; i++)
		s[i] = i < len ? (char)('!' + t_rand() % 90) : 0;
	if (len > 2) /* something a JSON emitter must escape */
		s[len / 2] = (t_rand() & 1) ? '"' : '\\';
}

/* Page i of a RAM dataspace: zero, random or compressible by i. */
static T_UNUSED void t_page(uint8_t *p, uint64_t i)
{
	switch (i % 4) {
	case 0:
		memset(p, 0, IMAGE_PAGE_SIZE);
		break;
	case 1:
		t_fill(p, IMAGE_PAGE_SIZE);
		break;
	default:
		for (unsigned k = 0; k < IMAGE_PAGE_SIZE; k++)
			p[k] = (uint8_t)("capsule"[k % 7] + i);
	}
}

struct t_model {
	struct image_model m;
	struct image_session s[8];
	struct image_thread t[T_THREADS];
	struct image_dataspace d[T_RAM_DS + 3]; /* one spare, for a test to add */
	struct image_region g[6];
	struct image_cap c[64];
	struct image_memory mem[T_RAM_DS];
	struct image_signal sig[2];
	struct image_timer tim[1];
};

static T_UNUSED void t_cap(struct t_model *t, uint64_t kcap, uint32_t class, uint64_t obj,
			   uint64_t arg)
{
	struct image_cap *c = &t->c[t->m.ncaps++];
	t_fill(c, sizeof(*c));
	c->kcap = kcap;
	c->badge = (t_rand() >> 8) + 1;
	c->class = class;
	c->rights = (uint32_t)(t_rand() & RIGHTS_ALL);
	c->obj = obj;
	c->arg = arg;
	t_str(c->note, sizeof(c->note));
}

/* A valid model using every record type and every cap class. */
static T_UNUSED void t_model_init(struct t_model *t)
{
	struct image_model *m = &t->m;
	memset(t, 0, sizeof(*t));
	t_str(m->node, sizeof(m->node));
	t_fill(&m->component, sizeof(m->component));
	t_str(m->component.label, sizeof(m->component.label));
	m->component.label[0] = 'c';
	t_str(m->component.binary, sizeof(m->component.binary));
	m->component.ram_used = m->component.ram_quota / 2;
	m->component.cap_used = m->component.cap_quota / 3;
	m->component.cap_map_entries = CAP_SLOTS;
	m->component.parent_badge = 0x1234 + (t_rand() & 0xff0);
	m->component.build_id_len = 20;
	memset(m->component.build_id + 20, 0, IMAGE_BUILD_ID_SIZE - 20);
	m->component.reserved = 0;
	m->stats.paused_ns = t_rand() >> 20;

	static const uint32_t types[8] = {IMAGE_SESSION_PD,	IMAGE_SESSION_CPU,
					  IMAGE_SESSION_RM,	IMAGE_SESSION_ROM,
					  IMAGE_SESSION_LOG,	IMAGE_SESSION_TIMER,
					  IMAGE_SESSION_PARENT, IMAGE_SESSION_OTHER};
	for (unsigned i = 0; i < 8; i++) {
		struct image_session *s = &t->s[i];
		t_fill(s, sizeof(*s));
		s->id = i + 1;
		s->type = types[i];
		s->flags = types[i] == IMAGE_SESSION_OTHER ? IMAGE_SESSION_F_OUTSIDE : 0;
		t_str(s->service, sizeof(s->service));
		t_str(s->label, sizeof(s->label));
		t_str(s->args, sizeof(s->args));
	}
	m->sessions = t->s;
	m->nsessions = 8;

	for (unsigned i = 0; i < T_THREADS; i++) {
		struct image_thread *th = &t->t[i];
		t_fill(th, sizeof(*th));
		th->nr = i * 3; /* not dense */
		th->state = (uint32_t)(t_rand() % (TS_DEAD + 1));
		th->cpu_session = i & 1 ? 2 : 0;
		t_str(th->name, sizeof(th->name));
	}
	m->threads = t->t;
	m->nthreads = T_THREADS;

	for (unsigned i = 0; i < T_RAM_DS + 2; i++) {
		struct image_dataspace *d = &t->d[i];
		memset(d, 0, sizeof(*d));
		d->id = 100 + i * 7;
		d->size = (uint64_t)(T_PAGES + i) * IMAGE_PAGE_SIZE;
		d->kind = i < T_RAM_DS	  ? IMAGE_DS_RAM
			  : i == T_RAM_DS ? IMAGE_DS_ROM
					  : IMAGE_DS_MANAGED;
		if (d->kind == IMAGE_DS_ROM)
			strcpy(d->rom, "hello.elf");
	}
	m->dataspaces = t->d;
	m->ndataspaces = T_RAM_DS + 2;
	uint64_t managed = t->d[T_RAM_DS + 1].id;

	struct image_region g[6] = {
	    {IMAGE_RM_ADDRESS_SPACE, MEM_R | MEM_X, 0, 0x400000, 0x4000, t->d[3].id, 0},
	    {IMAGE_RM_ADDRESS_SPACE, MEM_R | MEM_W, 0, 0x404000, 0x8000, t->d[0].id,
	     0x1000},
	    {IMAGE_RM_ADDRESS_SPACE, MEM_R | MEM_W, 0, GUEST_RM_BASE, 0x10000, managed,
	     0},
	    {IMAGE_RM_STACK_AREA, MEM_R | MEM_W, 0, 0x0, 0x4000, t->d[1].id, 0},
	    {IMAGE_RM_STACK_AREA, MEM_R | MEM_W, 0, 0x100000, 0x4000, t->d[1].id, 0x4000},
	    {IMAGE_RM_MANAGED, MEM_R, managed, 0x2000, 0x3000, t->d[2].id, 0x2000},
	};
	memcpy(t->g, g, sizeof(g));
	m->regions = t->g;
	m->nregions = 6;

	m->caps = t->c;
	t_cap(t, KCAP(FIXED_TASK), IMAGE_CAP_FIXED, 0, 0);
	t_cap(t, KCAP(FIXED_PARENT), IMAGE_CAP_SESSION, 7, 0);
	t->c[1].badge = m->component.parent_badge;
	for (unsigned i = 0; i < T_THREADS; i++)
		for (unsigned s = 0; s <= THREAD_SLOT_IRQ; s++)
			t_cap(t, KCAP_THREAD(t->t[i].nr, s), IMAGE_CAP_FIXED, t->t[i].nr,
			      0);
	uint64_t k = FIXED_USER_BASE;
	for (unsigned i = 1; i <= 7; i++)
		t_cap(t, KCAP(k++), IMAGE_CAP_SESSION, i, 0);
	t_cap(t, KCAP(k++), IMAGE_CAP_OUTSIDE, 8, 0);
	t_cap(t, KCAP(k++), IMAGE_CAP_DATASPACE, t->d[0].id, 0);
	t_cap(t, KCAP(k++), IMAGE_CAP_DATASPACE, t->d[3].id, 0);
	t_cap(t, KCAP(k++), IMAGE_CAP_REGION_MAP, 0, IMAGE_RM_ADDRESS_SPACE);
	t_cap(t, KCAP(k++), IMAGE_CAP_REGION_MAP, managed, IMAGE_RM_MANAGED);
	t_cap(t, KCAP(k++), IMAGE_CAP_THREAD, t->t[1].nr, 0);
	t_cap(t, KCAP(k++), IMAGE_CAP_RPC_GATE, 1, t->t[0].nr);
	t_cap(t, KCAP(k++), IMAGE_CAP_RPC_GATE, 1, t->t[2].nr);
	t_cap(t, KCAP(k++), IMAGE_CAP_SIGNAL_SOURCE, 1, 0);
	t_cap(t, KCAP(k++), IMAGE_CAP_SIGNAL_CONTEXT, 1, t_rand());
	t_cap(t, KCAP(k++), IMAGE_CAP_SIGNAL_CONTEXT, 1, t_rand());
	t_cap(t, KCAP(k++), IMAGE_CAP_SEMAPHORE_IRQ, 1, t->t[3].nr);
	t_cap(t, KCAP(k++ + 100), IMAGE_CAP_DEAD, 0, IMAGE_DEAD_CONSTRUCTOR);
	t->c[m->ncaps - 1].badge = ~0ull;
	t_cap(t, KCAP(CAP_SLOTS - 1), IMAGE_CAP_DEAD, 0, IMAGE_DEAD_REVOKED);
	/* the managed map: made at the RM session (id 3), the context as its
	 * fault handler */
	t->d[T_RAM_DS + 1].managed.rm_session = 3;
	for (unsigned i = 0; i < m->ncaps; i++)
		if (t->c[i].class == IMAGE_CAP_SIGNAL_CONTEXT)
			t->d[T_RAM_DS + 1].managed.fault_kcap = t->c[i].kcap;

	/* the contexts' records (one with signals queued), the Timer
	 * session's (id 6) signalling the first */
	for (unsigned i = 0; i < m->ncaps; i++)
		if (t->c[i].class == IMAGE_CAP_SIGNAL_CONTEXT) {
			uint64_t pending = m->nsignals ? 0 : 1 + (t_rand() & 0xffff);
			t->sig[m->nsignals++] = (struct image_signal){
			    t->c[i].badge, t->c[i].obj, t->c[i].arg, pending, 0, 0};
		}
	m->signals = t->sig;
	t->tim[0] = (struct image_timer){
	    6, t->sig[0].badge, t_rand() >> 40, t_rand() >> 40, t_rand() >> 20, 0, 0};
	m->timers = t->tim;
	m->ntimers = 1;

	for (unsigned i = 0; i < T_RAM_DS; i++) {
		struct image_memory *e = &t->mem[i];
		e->ds_id = t->d[i].id;
		e->size = t->d[i].size;
		e->data = malloc(e->size);
		for (uint64_t p = 0; p < e->size / IMAGE_PAGE_SIZE; p++)
			t_page(e->data + p * IMAGE_PAGE_SIZE, p + i);
	}
	m->memory = t->mem;
	m->nmemory = T_RAM_DS;
}

static T_UNUSED void t_model_free(struct t_model *t)
{
	for (unsigned i = 0; i < T_RAM_DS; i++)
		free(t->mem[i].data);
}

/* Write m into memory (through a temp file); *len its size. */
static T_UNUSED uint8_t *t_write(const struct image_model *m, size_t *len)
{
	char path[] = "/tmp/test_image_XXXXXX", err[256];
	int fd = mkstemp(path);
	if (fd < 0)
		return NULL;
	unlink(path);
	if (image_write_fd(fd, m, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "write: %s\n", err);
		close(fd);
		return NULL;
	}
	off_t n = lseek(fd, 0, SEEK_END);
	uint8_t *buf = malloc((size_t)n);
	if (pread(fd, buf, (size_t)n, 0) != n) {
		free(buf);
		buf = NULL;
	}
	close(fd);
	*len = (size_t)n;
	return buf;
}

/* Offset of section idx's header, or 0 if there is none. */
static T_UNUSED size_t t_section(const uint8_t *buf, size_t len, unsigned idx)
{
	size_t off = sizeof(struct image_header);
	for (unsigned i = 0; off + sizeof(struct image_section) <= len; i++) {
		struct image_section h;
		memcpy(&h, buf + off, sizeof(h));
		if (i == idx)
			return off;
		off += sizeof(h) + h.length;
	}
	return 0;
}

/* Offset of the first section of this type, or 0. */
static T_UNUSED size_t t_section_of(const uint8_t *buf, size_t len, uint32_t type)
{
	for (unsigned i = 0;; i++) {
		size_t off = t_section(buf, len, i);
		if (!off)
			return 0;
		struct image_section h;
		memcpy(&h, buf + off, sizeof(h));
		if (h.type == type)
			return off;
	}
}

/* Recompute the checksum of the section at off (after forging it). */
static T_UNUSED void t_reseal(uint8_t *buf, size_t off)
{
	struct image_section h;
	memcpy(&h, buf + off, sizeof(h));
	XXH3_state_t *st = XXH3_createState();
	XXH3_64bits_reset(st);
	XXH3_64bits_update(st, &h, offsetof(struct image_section, checksum));
	XXH3_64bits_update(st, buf + off + sizeof(h), h.length);
	h.checksum = XXH3_64bits_digest(st);
	XXH3_freeState(st);
	memcpy(buf + off, &h, sizeof(h));
}

/* Recompute the header checksum (after forging the header). */
static T_UNUSED void t_reseal_header(uint8_t *buf)
{
	struct image_header h;
	memcpy(&h, buf, sizeof(h));
	h.checksum = XXH3_64bits(&h, offsetof(struct image_header, checksum));
	memcpy(buf, &h, sizeof(h));
}

#endif
