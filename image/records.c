/*
 * The record subsystems: component, session, thread, dataspace, region,
 * stats.  Each writes its array as one section, reads it back by copy and
 * validates it in _check (which the writer runs on its model as well, so
 * only valid images are ever written).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image/internal.h"

/* one record exactly (component, stats) */
static int restore_one(struct image_reader *r, const void *payload, uint64_t len,
		       void *dst, size_t size)
{
	if (len != size)
		return image_reader_fail(r, "length %llu, expected one %zu-byte record",
					 (unsigned long long)len, size);
	memcpy(dst, payload, size);
	return 0;
}

static uint64_t one_section(const struct image_model *m)
{
	return 1;
}

/* --- component --------------------------------------------------------- */

int image_component_checkpoint(struct image_writer *w, const struct image_model *m)
{
	return image_put_records(w, IMAGE_SEC_component, &m->component, 1,
				 sizeof(m->component));
}

int image_component_restore(struct image_reader *r, struct image_model *m,
			    const void *payload, uint64_t len)
{
	return restore_one(r, payload, len, &m->component, sizeof(m->component));
}

void image_component_undo(struct image_model *m)
{
	memset(&m->component, 0, sizeof(m->component));
}

int image_component_check(struct image_reader *r, const struct image_model *m)
{
	const struct image_component *c = &m->component;
	if (!image_str_ok(c->label, sizeof(c->label)) || !c->label[0])
		return image_reader_fail(r, "component label empty or unterminated");
	if (!image_str_ok(c->binary, sizeof(c->binary)))
		return image_reader_fail(r, "component binary name unterminated");
	if (c->ram_used > c->ram_quota || c->cap_used > c->cap_quota)
		return image_reader_fail(r, "component uses more than its quota");
	if (c->cap_map_entries > CAP_SLOTS)
		return image_reader_fail(r, "cap map of %llu entries (at most %u)",
					 (unsigned long long)c->cap_map_entries,
					 CAP_SLOTS);
	if (c->build_id_len > IMAGE_BUILD_ID_SIZE)
		return image_reader_fail(r, "component build_id_len %u (at most %u)",
					 c->build_id_len, IMAGE_BUILD_ID_SIZE);
	for (uint32_t i = c->build_id_len; i < IMAGE_BUILD_ID_SIZE; i++)
		if (c->build_id[i])
			return image_reader_fail(
			    r, "component build_id: byte %u beyond build_id_len %u", i,
			    c->build_id_len);
	if (c->reserved)
		return image_reader_fail(r, "component reserved field 0x%x", c->reserved);
	return 0;
}

uint64_t image_component_sections(const struct image_model *m)
{
	return one_section(m);
}

/* --- session ----------------------------------------------------------- */

int image_session_checkpoint(struct image_writer *w, const struct image_model *m)
{
	return image_put_records(w, IMAGE_SEC_session, m->sessions, m->nsessions,
				 sizeof(*m->sessions));
}

int image_session_restore(struct image_reader *r, struct image_model *m,
			  const void *payload, uint64_t len)
{
	return image_get_records(r, payload, len, sizeof(*m->sessions),
				 (void **)&m->sessions, &m->nsessions);
}

void image_session_undo(struct image_model *m)
{
	free(m->sessions);
	m->sessions = NULL;
	m->nsessions = 0;
}

int image_session_check(struct image_reader *r, const struct image_model *m)
{
	struct image_ids ids;
	uint64_t dup;
	for (uint32_t i = 0; i < m->nsessions; i++) {
		const struct image_session *s = &m->sessions[i];
		if (!s->id)
			return image_reader_fail(r, "session %u: id 0", i);
		if (!s->type || s->type >= IMAGE_SESSION_MAX_)
			return image_reader_fail(r, "session %llu: unknown type %u",
						 (unsigned long long)s->id, s->type);
		if (s->flags &
			~(uint32_t)(IMAGE_SESSION_F_OUTSIDE | IMAGE_SESSION_F_MEMBER) ||
		    s->flags == (IMAGE_SESSION_F_OUTSIDE | IMAGE_SESSION_F_MEMBER))
			return image_reader_fail(r, "session %llu: unknown flags 0x%x",
						 (unsigned long long)s->id, s->flags);
		if (s->type == IMAGE_SESSION_OTHER &&
		    !(s->flags & (IMAGE_SESSION_F_OUTSIDE | IMAGE_SESSION_F_MEMBER)))
			return image_reader_fail(
			    r,
			    "session %llu: other service neither outside nor at a member",
			    (unsigned long long)s->id);
		if (!image_str_ok(s->service, sizeof(s->service)) ||
		    !image_str_ok(s->label, sizeof(s->label)) ||
		    !image_str_ok(s->args, sizeof(s->args)))
			return image_reader_fail(r, "session %llu: unterminated string",
						 (unsigned long long)s->id);
	}
	int rc = image_ids_build(&ids, m->sessions, m->nsessions, sizeof(*m->sessions),
				 offsetof(struct image_session, id), &dup);
	image_ids_free(&ids);
	if (rc == -EEXIST)
		return image_reader_fail(r, "session %llu appears twice",
					 (unsigned long long)dup);
	return rc;
}

uint64_t image_session_sections(const struct image_model *m)
{
	return one_section(m);
}

/* --- thread ------------------------------------------------------------ */

int image_thread_checkpoint(struct image_writer *w, const struct image_model *m)
{
	return image_put_records(w, IMAGE_SEC_thread, m->threads, m->nthreads,
				 sizeof(*m->threads));
}

int image_thread_restore(struct image_reader *r, struct image_model *m,
			 const void *payload, uint64_t len)
{
	return image_get_records(r, payload, len, sizeof(*m->threads),
				 (void **)&m->threads, &m->nthreads);
}

void image_thread_undo(struct image_model *m)
{
	free(m->threads);
	m->threads = NULL;
	m->nthreads = 0;
}

static const struct image_session *find_session(const struct image_model *m, uint64_t id)
{
	for (uint32_t i = 0; i < m->nsessions; i++)
		if (m->sessions[i].id == id)
			return &m->sessions[i];
	return NULL;
}

int image_thread_check(struct image_reader *r, const struct image_model *m)
{
	uint8_t seen[THREAD_AREA_THREADS] = {0};
	for (uint32_t i = 0; i < m->nthreads; i++) {
		const struct image_thread *t = &m->threads[i];
		if (t->nr >= THREAD_AREA_THREADS)
			return image_reader_fail(
			    r, "thread %u: number beyond the thread area (%u)", t->nr,
			    THREAD_AREA_THREADS);
		if (seen[t->nr]++)
			return image_reader_fail(r, "thread %u appears twice", t->nr);
		if (t->state > TS_DEAD)
			return image_reader_fail(r, "thread %u: unknown state %u", t->nr,
						 t->state);
		if (!image_str_ok(t->name, sizeof(t->name)))
			return image_reader_fail(r, "thread %u: unterminated name",
						 t->nr);
		const struct image_session *s;
		if (t->cpu_session && (!(s = find_session(m, t->cpu_session)) ||
				       s->type != IMAGE_SESSION_CPU))
			return image_reader_fail(
			    r, "thread %u: CPU session %llu not in image", t->nr,
			    (unsigned long long)t->cpu_session);
	}
	return 0;
}

uint64_t image_thread_sections(const struct image_model *m)
{
	return one_section(m);
}

/* --- dataspace --------------------------------------------------------- */

int image_dataspace_checkpoint(struct image_writer *w, const struct image_model *m)
{
	return image_put_records(w, IMAGE_SEC_dataspace, m->dataspaces, m->ndataspaces,
				 sizeof(*m->dataspaces));
}

int image_dataspace_restore(struct image_reader *r, struct image_model *m,
			    const void *payload, uint64_t len)
{
	return image_get_records(r, payload, len, sizeof(*m->dataspaces),
				 (void **)&m->dataspaces, &m->ndataspaces);
}

void image_dataspace_undo(struct image_model *m)
{
	free(m->dataspaces);
	m->dataspaces = NULL;
	m->ndataspaces = 0;
}

int image_dataspace_check(struct image_reader *r, const struct image_model *m)
{
	struct image_ids ids;
	uint64_t dup;
	for (uint32_t i = 0; i < m->ndataspaces; i++) {
		const struct image_dataspace *d = &m->dataspaces[i];
		unsigned long long id = d->id;
		if (!d->id)
			return image_reader_fail(r, "dataspace %u: id 0", i);
		if (!d->size || d->size % IMAGE_PAGE_SIZE || d->size > GUEST_RM_SIZE)
			return image_reader_fail(
			    r, "dataspace %llu: field size: bad size %llu", id,
			    (unsigned long long)d->size);
		if (!d->kind || d->kind >= IMAGE_DS_MAX_)
			return image_reader_fail(r, "dataspace %llu: unknown kind %u", id,
						 d->kind);
		if (d->flags)
			return image_reader_fail(r, "dataspace %llu: unknown flags 0x%x",
						 id, d->flags);
		if (d->kind == IMAGE_DS_MEMBER)
			for (size_t k = 0; k < sizeof d->member.zero; k++)
				if (d->member.zero[k])
					return image_reader_fail(
					    r, "dataspace %llu: reserved bytes set", id);
		if (d->kind != IMAGE_DS_MANAGED && d->kind != IMAGE_DS_MEMBER &&
		    (!image_str_ok(d->rom, sizeof(d->rom)) ||
		     (d->kind == IMAGE_DS_ROM && !d->rom[0])))
			return image_reader_fail(r, "dataspace %llu: bad ROM name", id);
		if (d->kind == IMAGE_DS_MANAGED && !d->managed.rm_session &&
		    d->managed.pd_map != IMAGE_RM_ADDRESS_SPACE &&
		    d->managed.pd_map != IMAGE_RM_STACK_AREA)
			return image_reader_fail(
			    r, "dataspace %llu: a managed dataspace of no RM session",
			    id);
		if (d->kind == IMAGE_DS_MANAGED && d->managed.pd_map &&
		    (d->managed.rm_session || d->managed.fault_kcap))
			return image_reader_fail(r,
						 "dataspace %llu: the PD's %s map with "
						 "an RM session or a fault handler",
						 id,
						 image_rm_kind_name(d->managed.pd_map));
	}
	int rc =
	    image_ids_build(&ids, m->dataspaces, m->ndataspaces, sizeof(*m->dataspaces),
			    offsetof(struct image_dataspace, id), &dup);
	image_ids_free(&ids);
	if (rc == -EEXIST)
		return image_reader_fail(r, "dataspace %llu appears twice",
					 (unsigned long long)dup);
	return rc;
}

uint64_t image_dataspace_sections(const struct image_model *m)
{
	return one_section(m);
}

/* --- stats ------------------------------------------------------------- */

int image_stats_checkpoint(struct image_writer *w, const struct image_model *m)
{
	image_writer_finish_stats(w);
	return image_put_records(w, IMAGE_SEC_stats, &w->stats, 1, sizeof(w->stats));
}

int image_stats_restore(struct image_reader *r, struct image_model *m,
			const void *payload, uint64_t len)
{
	return restore_one(r, payload, len, &m->stats, sizeof(m->stats));
}

void image_stats_undo(struct image_model *m)
{
	memset(&m->stats, 0, sizeof(m->stats));
}

int image_stats_check(struct image_reader *r, const struct image_model *m)
{
	const struct image_stats *s = &m->stats;
	if (s->zero_pages > s->pages_written || s->pages_written > s->pages_scanned)
		return image_reader_fail(r, "inconsistent page counts");
	return 0;
}

uint64_t image_stats_sections(const struct image_model *m)
{
	return one_section(m);
}
