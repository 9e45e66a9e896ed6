/*
 * The cap subsystem: every live (kcap, badge) pair of the cap map with
 * its class (docs/design.md, "The monitor").  Validation enforces the kcap
 * rules -- below FIXED_USER_BASE only the task, the parent and the thread
 * area slots of threads in the image -- and that every cap names an
 * object (session, dataspace, thread) the image contains.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image/group.h"
#include "image/internal.h"

#define BADGE_INVALID (~0ULL) /* base/capability.h's CAP_ID_INVALID */

int image_cap_checkpoint(struct image_writer *w, const struct image_model *m)
{
	return image_put_records(w, IMAGE_SEC_cap, m->caps, m->ncaps, sizeof(*m->caps));
}

int image_cap_restore(struct image_reader *r, struct image_model *m, const void *payload,
		      uint64_t len)
{
	return image_get_records(r, payload, len, sizeof(*m->caps), (void **)&m->caps,
				 &m->ncaps);
}

void image_cap_undo(struct image_model *m)
{
	free(m->caps);
	m->caps = NULL;
	m->ncaps = 0;
}

uint64_t image_cap_sections(const struct image_model *m)
{
	return 1;
}

struct cap_ctx {
	struct image_ids sessions, ds;
	uint8_t thread[THREAD_AREA_THREADS];
};

/* the selector rules below FIXED_USER_BASE */
static int fixed_ok(struct image_reader *r, const struct image_model *m,
		    const struct cap_ctx *x, const struct image_cap *c)
{
	unsigned long long k = c->kcap;
	uint64_t idx = KCAP_INDEX(c->kcap);
	if (idx >= FIXED_USER_BASE)
		return c->class == IMAGE_CAP_FIXED
			   ? image_reader_fail(r, "cap 0x%llx: fixed class above 0x%x", k,
					       FIXED_USER_BASE)
			   : 0;
	if (idx == FIXED_TASK && c->class == IMAGE_CAP_FIXED)
		return 0;
	if (idx == FIXED_PARENT && c->class == IMAGE_CAP_SESSION) {
		int64_t i = image_ids_find(&x->sessions, c->obj);
		if (i >= 0 && m->sessions[i].type != IMAGE_SESSION_PARENT)
			return image_reader_fail(
			    r, "cap 0x%llx: parent cap names a %s session", k,
			    image_session_type_name(m->sessions[i].type));
		if (c->badge != m->component.parent_badge)
			return image_reader_fail(
			    r,
			    "cap 0x%llx: badge %#llx is not the parent "
			    "badge %#llx",
			    k, (unsigned long long)c->badge,
			    (unsigned long long)m->component.parent_badge);
		return 0;
	}
	uint64_t end =
	    FIXED_THREAD_AREA + (uint64_t)THREAD_AREA_THREADS * THREAD_AREA_SLOTS;
	if (idx >= FIXED_THREAD_AREA && idx < end && c->class == IMAGE_CAP_FIXED) {
		uint64_t nr = (idx - FIXED_THREAD_AREA) / THREAD_AREA_SLOTS;
		uint64_t slot = (idx - FIXED_THREAD_AREA) % THREAD_AREA_SLOTS;
		if (slot > THREAD_SLOT_IRQ)
			return image_reader_fail(
			    r, "cap 0x%llx: unused thread-area slot %llu", k,
			    (unsigned long long)slot);
		if (!x->thread[nr])
			return image_reader_fail(r,
						 "cap 0x%llx: thread %llu not in image",
						 k, (unsigned long long)nr);
		if (c->obj != nr)
			return image_reader_fail(
			    r, "cap 0x%llx: slot of thread %llu names %llu", k,
			    (unsigned long long)nr, (unsigned long long)c->obj);
		return 0;
	}
	return image_reader_fail(r, "cap 0x%llx (%s) below 0x%x is not a fixed selector",
				 k, image_cap_class_name(c->class), FIXED_USER_BASE);
}

static int need_session(struct image_reader *r, const struct image_model *m,
			const struct cap_ctx *x, const struct image_cap *c, int type,
			bool outside)
{
	int64_t i = image_ids_find(&x->sessions, c->obj);
	const struct image_session *s = i >= 0 ? &m->sessions[i] : NULL;
	if (!s)
		return image_reader_fail(r, "cap 0x%llx (%s): session %llu not in image",
					 (unsigned long long)c->kcap,
					 image_cap_class_name(c->class),
					 (unsigned long long)c->obj);
	if ((type && s->type != (uint32_t)type) ||
	    !(s->flags & IMAGE_SESSION_F_OUTSIDE) != !outside)
		return image_reader_fail(
		    r, "cap 0x%llx (%s): session %llu is %s %s session",
		    (unsigned long long)c->kcap, image_cap_class_name(c->class),
		    (unsigned long long)c->obj,
		    s->flags & IMAGE_SESSION_F_OUTSIDE ? "an outside" : "a local",
		    image_session_type_name(s->type));
	return 0;
}

static int need_thread(struct image_reader *r, const struct cap_ctx *x,
		       const struct image_cap *c, uint64_t nr)
{
	if (nr < THREAD_AREA_THREADS && x->thread[nr])
		return 0;
	return image_reader_fail(r, "cap 0x%llx (%s): thread %llu not in image",
				 (unsigned long long)c->kcap,
				 image_cap_class_name(c->class), (unsigned long long)nr);
}

/* the object a cap of its class names is in the image */
static int object_ok(struct image_reader *r, const struct image_model *m,
		     const struct cap_ctx *x, const struct image_cap *c)
{
	unsigned long long k = c->kcap;
	int rc;
	switch (c->class) {
	case IMAGE_CAP_FIXED:
		return 0; /* fixed_ok */
	case IMAGE_CAP_SESSION:
		return need_session(r, m, x, c, 0, false);
	case IMAGE_CAP_OUTSIDE:
		return need_session(r, m, x, c, 0, true);
	case IMAGE_CAP_DATASPACE:
		if (image_ids_find(&x->ds, c->obj) < 0 ||
		    m->dataspaces[image_ids_find(&x->ds, c->obj)].kind == IMAGE_DS_MEMBER)
			return image_reader_fail(
			    r,
			    "cap 0x%llx (dataspace): dataspace %llu not "
			    "in image",
			    k, (unsigned long long)c->obj);
		return 0;
	case IMAGE_CAP_REGION_MAP: {
		if (!c->arg || c->arg >= IMAGE_RM_MAX_)
			return image_reader_fail(
			    r, "cap 0x%llx: unknown region map kind %llu", k,
			    (unsigned long long)c->arg);
		if (c->arg != IMAGE_RM_MANAGED)
			return 0;
		int64_t i = image_ids_find(&x->ds, c->obj);
		if (i < 0 || m->dataspaces[i].kind != IMAGE_DS_MANAGED ||
		    m->dataspaces[i].managed.pd_map)
			return image_reader_fail(
			    r,
			    "cap 0x%llx (region map): managed region map "
			    "%llu not in image",
			    k, (unsigned long long)c->obj);
		return 0;
	}
	case IMAGE_CAP_THREAD:
		return need_thread(r, x, c, c->obj);
	case IMAGE_CAP_RPC_GATE:
	case IMAGE_CAP_SEMAPHORE_IRQ:
		rc = need_session(r, m, x, c, IMAGE_SESSION_PD, false);
		return rc < 0 ? rc : need_thread(r, x, c, c->arg);
	case IMAGE_CAP_SIGNAL_SOURCE:
	case IMAGE_CAP_SIGNAL_CONTEXT:
		return need_session(r, m, x, c, IMAGE_SESSION_PD, false);
	case IMAGE_CAP_MEMBER: /* resolved by image_group_check */
		if (c->obj >= IMAGE_GROUP_MAX || !c->arg || c->arg == BADGE_INVALID)
			return image_reader_fail(
			    r, "cap 0x%llx (member object): member %llu, object 0x%llx",
			    k, (unsigned long long)c->obj, (unsigned long long)c->arg);
		return 0;
	case IMAGE_CAP_DEAD:
		if (!c->arg || c->arg >= IMAGE_DEAD_MAX_)
			return image_reader_fail(r,
						 "cap 0x%llx: unknown dead reason %llu",
						 k, (unsigned long long)c->arg);
		return 0;
	}
	return image_reader_fail(r, "cap 0x%llx: unknown class %u", k, c->class);
}

static int one_cap(struct image_reader *r, const struct image_model *m,
		   const struct cap_ctx *x, const struct image_cap *c, uint8_t *used)
{
	unsigned long long k = c->kcap;
	if (!c->kcap || c->kcap % KCAP(1) || KCAP_INDEX(c->kcap) >= CAP_SLOTS)
		return image_reader_fail(r, "cap 0x%llx: not a kcap", k);
	if (used[KCAP_INDEX(c->kcap)]++)
		return image_reader_fail(r, "cap 0x%llx appears twice", k);
	if (!c->class || c->class >= IMAGE_CAP_MAX_)
		return image_reader_fail(r, "cap 0x%llx: unknown class %u", k, c->class);
	if (c->rights & ~(uint32_t)RIGHTS_ALL)
		return image_reader_fail(r, "cap 0x%llx: unknown rights 0x%x", k,
					 c->rights);
	if (!image_str_ok(c->note, sizeof(c->note)))
		return image_reader_fail(r, "cap 0x%llx: unterminated note", k);
	if (c->class != IMAGE_CAP_DEAD && (!c->badge || c->badge == BADGE_INVALID))
		return image_reader_fail(r, "cap 0x%llx (%s): invalid badge %#llx", k,
					 image_cap_class_name(c->class),
					 (unsigned long long)c->badge);
	int rc = fixed_ok(r, m, x, c);
	return rc < 0 ? rc : object_ok(r, m, x, c);
}

/* A managed dataspace names its RM session and the context cap of its
 * fault handler (if any) in the image. */
static int managed_ok(struct image_reader *r, const struct image_model *m,
		      const struct cap_ctx *x, const struct image_dataspace *d)
{
	unsigned long long id = d->id;
	unsigned maps = 0;
	int64_t s;

	if (d->kind != IMAGE_DS_MANAGED)
		return 0;
	for (size_t i = 0; i < sizeof d->managed.zero; i++)
		if (d->managed.zero[i])
			return image_reader_fail(
			    r, "managed dataspace %llu: reserved bytes set", id);
	for (uint32_t i = 0; i < m->ncaps; i++)
		maps += m->caps[i].class == IMAGE_CAP_REGION_MAP &&
			m->caps[i].arg == IMAGE_RM_MANAGED && m->caps[i].obj == d->id;
	if (maps > 1)
		return image_reader_fail(
		    r, "managed dataspace %llu: named by %u region maps", id, maps);
	if (d->managed.pd_map) { /* the PD's own map: one dataspace each */
		for (uint32_t i = 0; i < m->ndataspaces; i++)
			if (&m->dataspaces[i] != d &&
			    m->dataspaces[i].kind == IMAGE_DS_MANAGED &&
			    m->dataspaces[i].managed.pd_map == d->managed.pd_map)
				return image_reader_fail(
				    r, "managed dataspace %llu: a second of the PD's %s",
				    id, image_rm_kind_name(d->managed.pd_map));
		return 0;
	}
	s = image_ids_find(&x->sessions, d->managed.rm_session);
	if (s < 0 || m->sessions[s].type != IMAGE_SESSION_RM)
		return image_reader_fail(
		    r, "managed dataspace %llu: RM session %llu not in image", id,
		    (unsigned long long)d->managed.rm_session);
	if (!d->managed.fault_kcap)
		return 0;
	for (uint32_t i = 0; i < m->ncaps; i++)
		if (m->caps[i].kcap == d->managed.fault_kcap)
			return m->caps[i].class == IMAGE_CAP_SIGNAL_CONTEXT
				   ? 0
				   : image_reader_fail(
					 r,
					 "managed dataspace %llu: fault handler kcap "
					 "0x%llx is no signal context",
					 id, (unsigned long long)d->managed.fault_kcap);
	return image_reader_fail(
	    r, "managed dataspace %llu: fault handler kcap 0x%llx not in image", id,
	    (unsigned long long)d->managed.fault_kcap);
}

/* live badges are unique: the cap map holds each badge once */
static int badges_unique(struct image_reader *r, const struct image_model *m)
{
	struct image_ids ids;
	uint64_t dup, *live = malloc(((size_t)m->ncaps + 1) * sizeof(*live));
	uint32_t n = 0;
	if (!live)
		return -ENOMEM;
	for (uint32_t i = 0; i < m->ncaps; i++)
		if (m->caps[i].class != IMAGE_CAP_DEAD)
			live[n++] = m->caps[i].badge;
	int rc = image_ids_build(&ids, live, n, sizeof(*live), 0, &dup);
	image_ids_free(&ids);
	free(live);
	if (rc == -EEXIST)
		return image_reader_fail(r, "badge %#llx held at two kcaps",
					 (unsigned long long)dup);
	return rc;
}

int image_cap_check(struct image_reader *r, const struct image_model *m)
{
	struct cap_ctx x = {0};
	uint8_t *used = calloc(CAP_SLOTS, 1);
	uint64_t dup;
	int rc = -ENOMEM;
	if (!used)
		goto out;
	/* duplicate ids were refused by the session and dataspace checks */
	rc = image_ids_build(&x.sessions, m->sessions, m->nsessions, sizeof(*m->sessions),
			     offsetof(struct image_session, id), &dup);
	if (rc < 0)
		goto out;
	rc = image_ids_build(&x.ds, m->dataspaces, m->ndataspaces, sizeof(*m->dataspaces),
			     offsetof(struct image_dataspace, id), &dup);
	if (rc < 0)
		goto out;
	for (uint32_t i = 0; i < m->nthreads; i++)
		if (m->threads[i].nr < THREAD_AREA_THREADS)
			x.thread[m->threads[i].nr] = 1;
	for (uint32_t i = 0; i < m->ncaps && rc == 0; i++)
		rc = one_cap(r, m, &x, &m->caps[i], used);
	if (rc == 0)
		rc = badges_unique(r, m);
	for (uint32_t i = 0; i < m->ndataspaces && rc == 0; i++)
		rc = managed_ok(r, m, &x, &m->dataspaces[i]);
out:
	image_ids_free(&x.sessions);
	image_ids_free(&x.ds);
	free(used);
	return rc;
}
