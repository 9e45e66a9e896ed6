/*
 * forge: rewrite a capsule image with one deliberate defect, for the
 * restore-refusal tests (tests/cr/bad_images.sh).
 *
 *   forge IN OUT DEFECT
 *
 * DEFECT is one of the names in `defects` below.  The file is read with
 * image_read (so IN must be valid) and written with image_write, whose
 * own check lets through only what the format allows: the defects here
 * are the ones a monitor must catch, not the format.
 */
#include <stdio.h>
#include <string.h>

#include "image/image.h"

static struct image_cap *cap_of(struct image_model *m, uint32_t class)
{
	for (uint32_t i = 0; i < m->ncaps; i++)
		if (m->caps[i].class == class)
			return &m->caps[i];
	return NULL;
}

static struct image_session *session_of(struct image_model *m, uint32_t type)
{
	for (uint32_t i = 0; i < m->nsessions; i++)
		if (m->sessions[i].type == type)
			return &m->sessions[i];
	return NULL;
}

/* 0 if the defect was made. */
static int forge(struct image_model *m, const char *in, const char *defect)
{
	struct image_cap *c;
	struct image_session *s, *pd = session_of(m, IMAGE_SESSION_PD);

	if (!strcmp(defect, "gate-badge")) { /* a gate with a session's badge */
		c = cap_of(m, IMAGE_CAP_RPC_GATE);
		if (!c || !pd)
			return -1;
		c->badge = pd->id;
		return 0;
	}
	if (!strcmp(defect, "low-kcap")) { /* a gate below FIXED_USER_BASE */
		c = cap_of(m, IMAGE_CAP_RPC_GATE);
		if (!c)
			return -1;
		c->kcap = KCAP(FIXED_USER_BASE - 1);
		return 0;
	}
	if (!strcmp(defect, "ds-badge")) { /* a badge no object of it had */
		c = cap_of(m, IMAGE_CAP_DATASPACE);
		if (!c)
			return -1;
		c->badge = 0x7777777;
		return 0;
	}
	if (!strcmp(defect, "context-owner")) { /* a context of a LOG session */
		c = cap_of(m, IMAGE_CAP_SIGNAL_CONTEXT);
		s = session_of(m, IMAGE_SESSION_LOG);
		if (!c || !s)
			return -1;
		for (uint32_t i = 0; i < m->ncaps; i++) /* and its other caps */
			if (m->caps[i].class == IMAGE_CAP_SIGNAL_CONTEXT &&
			    m->caps[i].badge == c->badge)
				m->caps[i].obj = s->id;
		for (uint32_t i = 0; i < m->nsignals; i++) /* and its record */
			if (m->signals[i].badge == c->badge)
				m->signals[i].pd_session = s->id;
		return 0;
	}
	if (!strcmp(defect, "rm-session")) { /* its LOG session retyped as RM */
		s = session_of(m, IMAGE_SESSION_LOG);
		if (!s)
			return -1;
		s->type = IMAGE_SESSION_RM;
		return 0;
	}
	if (!strcmp(defect, "cap-map")) { /* the cap map is not where it says */
		m->component.cap_map_addr += 0x1000;
		return 0;
	}
	if (!strcmp(defect, "utcb")) { /* a thread whose UTCB core cannot give */
		if (m->nthreads < 2)
			return -1;
		m->threads[1].utcb_addr += 0x100000;
		return 0;
	}
	if (!strcmp(defect, "incremental") || !strcmp(defect, "parent-hash")) {
		/* pages since a parent that is not there, or one whose file is
		 * not the one named (the good image, but its hash altered) */
		int absent = !strcmp(defect, "incremental");
		m->flags |= IMAGE_F_INCREMENTAL;
		m->parent_id = absent ? m->image_id ^ 0x5a5a : m->image_id;
		m->image_id ^= 0xa5a5;
		m->parent = (struct image_parent){.id = m->parent_id, .depth = 1};
		snprintf(m->parent.path, sizeof m->parent.path, "%s",
			 absent ? "absent-parent.img" : "good.img");
		if (image_file_hash(in, m->parent.hash, NULL, 0))
			return -1;
		m->parent.hash[0] ^= absent ? 0 : 1;
		return 0;
	}
	if (!strcmp(defect, "binary")) { /* a binary this node does not have */
		snprintf(m->component.binary, sizeof m->component.binary, "no_such_rom");
		return 0;
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct image_model *m = NULL;
	char err[300] = "";
	int rc = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: forge IN OUT DEFECT\n");
		return 2;
	}
	if (image_read(argv[1], &m, err, sizeof err)) {
		fprintf(stderr, "forge: %s\n", err);
		return 1;
	}
	if (forge(m, argv[1], argv[3])) {
		fprintf(stderr, "forge: cannot make defect '%s' here\n", argv[3]);
		rc = 1;
	} else if (image_write(argv[2], m, NULL, err, sizeof err)) {
		fprintf(stderr, "forge: the format itself refuses '%s': %s\n", argv[3],
			err);
		rc = 3;
	}
	image_model_free(m);
	return rc;
}
