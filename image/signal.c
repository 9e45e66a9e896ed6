/*
 * The signal and timer subsystems: the signal contexts of the component's
 * PD with the signals queued for them at the checkpoint, and the state of
 * each Timer session (the context it signals, its period, a pending
 * one-shot, its clock).  Validation ties them to the rest of the image:
 * every signal-context cap has the record of its context (same badge,
 * imprint and session), every record is named by a cap, a timer signals
 * a context of the image and every Timer session has its timer record.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image/internal.h"

/* --- signal ------------------------------------------------------------ */

int image_signal_checkpoint(struct image_writer *w, const struct image_model *m)
{
	return image_put_records(w, IMAGE_SEC_signal, m->signals, m->nsignals,
				 sizeof(*m->signals));
}

int image_signal_restore(struct image_reader *r, struct image_model *m,
			 const void *payload, uint64_t len)
{
	return image_get_records(r, payload, len, sizeof(*m->signals),
				 (void **)&m->signals, &m->nsignals);
}

void image_signal_undo(struct image_model *m)
{
	free(m->signals);
	m->signals = NULL;
	m->nsignals = 0;
}

uint64_t image_signal_sections(const struct image_model *m)
{
	return 1;
}

static const struct image_session *session_of(const struct image_model *m, uint64_t id)
{
	for (uint32_t i = 0; i < m->nsessions; i++)
		if (m->sessions[i].id == id)
			return &m->sessions[i];
	return NULL;
}

static int one_signal(struct image_reader *r, const struct image_model *m,
		      const struct image_signal *s)
{
	unsigned long long b = s->badge;

	if (!s->badge || s->badge == ~0ULL)
		return image_reader_fail(r, "signal %#llx: invalid badge", b);
	if (!s->imprint)
		return image_reader_fail(r, "signal %#llx: imprint 0", b);
	if (s->pending > UINT32_MAX)
		return image_reader_fail(r, "signal %#llx: pending %llu is beyond 2^32-1",
					 b, (unsigned long long)s->pending);
	if (s->flags || s->reserved)
		return image_reader_fail(r, "signal %#llx: unknown flags 0x%x/0x%x", b,
					 s->flags, s->reserved);
	if (!session_of(m, s->pd_session))
		return image_reader_fail(r, "signal %#llx: pd_session %llu not in image",
					 b, (unsigned long long)s->pd_session);
	return 0;
}

/* Each signal-context cap matches its record; each record has a cap. */
static int signal_caps(struct image_reader *r, const struct image_model *m,
		       const struct image_ids *badges, uint8_t *named)
{
	for (uint32_t i = 0; i < m->ncaps; i++) {
		const struct image_cap *c = &m->caps[i];
		if (c->class != IMAGE_CAP_SIGNAL_CONTEXT)
			continue;
		int64_t k = image_ids_find(badges, c->badge);
		if (k < 0)
			return image_reader_fail(
			    r, "cap 0x%llx: signal context %#llx has no signal record",
			    (unsigned long long)c->kcap, (unsigned long long)c->badge);
		const struct image_signal *s = &m->signals[k];
		if (s->imprint != c->arg || s->pd_session != c->obj)
			return image_reader_fail(
			    r,
			    "signal %#llx: imprint %#llx, pd_session %llu differ from "
			    "cap 0x%llx's",
			    (unsigned long long)s->badge, (unsigned long long)s->imprint,
			    (unsigned long long)s->pd_session,
			    (unsigned long long)c->kcap);
		named[k] = 1;
	}
	for (uint32_t k = 0; k < m->nsignals; k++)
		if (!named[k])
			return image_reader_fail(r, "signal %#llx: no cap names it",
						 (unsigned long long)m->signals[k].badge);
	return 0;
}

int image_signal_check(struct image_reader *r, const struct image_model *m)
{
	struct image_ids badges = {0}, imprints = {0};
	uint8_t *named = calloc((size_t)m->nsignals + 1, 1);
	uint64_t dup;
	int rc = named ? 0 : -ENOMEM;

	for (uint32_t i = 0; !rc && i < m->nsignals; i++)
		rc = one_signal(r, m, &m->signals[i]);
	if (rc)
		goto out;
	rc = image_ids_build(&badges, m->signals, m->nsignals, sizeof(*m->signals),
			     offsetof(struct image_signal, badge), &dup);
	if (rc == -EEXIST) {
		rc = image_reader_fail(r, "signal %#llx appears twice",
				       (unsigned long long)dup);
		goto out;
	}
	if (!rc)
		rc = image_ids_build(&imprints, m->signals, m->nsignals,
				     sizeof(*m->signals),
				     offsetof(struct image_signal, imprint), &dup);
	if (rc == -EEXIST)
		rc = image_reader_fail(r, "signal imprint %#llx appears twice",
				       (unsigned long long)dup);
	if (!rc)
		rc = signal_caps(r, m, &badges, named);
out:
	image_ids_free(&badges);
	image_ids_free(&imprints);
	free(named);
	return rc;
}

/* --- timer ------------------------------------------------------------- */

int image_timer_checkpoint(struct image_writer *w, const struct image_model *m)
{
	return image_put_records(w, IMAGE_SEC_timer, m->timers, m->ntimers,
				 sizeof(*m->timers));
}

int image_timer_restore(struct image_reader *r, struct image_model *m,
			const void *payload, uint64_t len)
{
	return image_get_records(r, payload, len, sizeof(*m->timers), (void **)&m->timers,
				 &m->ntimers);
}

void image_timer_undo(struct image_model *m)
{
	free(m->timers);
	m->timers = NULL;
	m->ntimers = 0;
}

uint64_t image_timer_sections(const struct image_model *m)
{
	return 1;
}

static int one_timer(struct image_reader *r, const struct image_model *m,
		     const struct image_timer *t)
{
	unsigned long long id = t->session;
	const struct image_session *s = session_of(m, t->session);
	bool sigh = !t->sigh;

	if (!s || s->type != IMAGE_SESSION_TIMER)
		return image_reader_fail(r,
					 "timer %llu: session %llu is no Timer session "
					 "of the image",
					 id, id);
	if (t->flags || t->reserved)
		return image_reader_fail(r, "timer %llu: unknown flags 0x%x/0x%x", id,
					 t->flags, t->reserved);
	for (uint32_t i = 0; !sigh && i < m->nsignals; i++)
		sigh = m->signals[i].badge == t->sigh;
	if (!sigh)
		return image_reader_fail(
		    r, "timer %llu: sigh %#llx is no signal of the image", id,
		    (unsigned long long)t->sigh);
	return 0;
}

int image_timer_check(struct image_reader *r, const struct image_model *m)
{
	struct image_ids ids;
	uint64_t dup;
	int rc;

	for (uint32_t i = 0; i < m->ntimers; i++)
		if ((rc = one_timer(r, m, &m->timers[i])))
			return rc;
	rc = image_ids_build(&ids, m->timers, m->ntimers, sizeof(*m->timers),
			     offsetof(struct image_timer, session), &dup);
	if (rc == -EEXIST)
		rc = image_reader_fail(r, "timer %llu appears twice",
				       (unsigned long long)dup);
	for (uint32_t i = 0; !rc && i < m->nsessions; i++)
		if (m->sessions[i].type == IMAGE_SESSION_TIMER &&
		    image_ids_find(&ids, m->sessions[i].id) < 0)
			rc =
			    image_reader_fail(r, "Timer session %llu has no timer record",
					      (unsigned long long)m->sessions[i].id);
	image_ids_free(&ids);
	return rc;
}
