/*
 * `capsule inspect --dot IMAGE`: the capability graph of an image as
 * Graphviz DOT.  Each cap is a node "kcap K" with its badge and rights;
 * an edge leads to the object it names (by class: a session, dataspace,
 * region map, thread, the PD session behind an RPC gate, signal source
 * or context, semaphore); every session has an edge to its server (the
 * monitor, which serves it as a proxy, or a server outside the monitor,
 * named by its service).  `--svg FILE` renders it with Graphviz's dot
 * when that is installed.  With a second image AFTER (a checkpoint of
 * the same component after it was restored), each kcap shows its old
 * badge and the new one the restore gave the object at that kcap.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/image.h"
#include "tools/inspect_dot.h"

/* s (at most size bytes, maybe unterminated) in a DOT string. */
static void dot_str(FILE *f, const char *s, size_t size)
{
	for (size_t i = 0; i < size && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			fputc(c, f);
	}
}

static const struct image_session *dot_session(const struct image_model *m, uint64_t id)
{
	for (uint32_t i = 0; i < m->nsessions; i++)
		if (m->sessions[i].id == id)
			return &m->sessions[i];
	return NULL;
}

/* The node a cap of class c names, into buf (a DOT id). */
static const char *dot_target(const struct image_cap *c, char *buf, size_t size)
{
	switch (c->class) {
	case IMAGE_CAP_SESSION:
	case IMAGE_CAP_OUTSIDE:
		snprintf(buf, size, "session%" PRIu64, c->obj);
		return buf;
	case IMAGE_CAP_DATASPACE:
		snprintf(buf, size, "ds%" PRIu64, c->obj);
		return buf;
	case IMAGE_CAP_REGION_MAP:
		snprintf(buf, size, "rm%" PRIu64 "_%" PRIu64, c->arg, c->obj);
		return buf;
	case IMAGE_CAP_THREAD:
		snprintf(buf, size, "thread%" PRIu64, c->obj);
		return buf;
	case IMAGE_CAP_RPC_GATE:
	case IMAGE_CAP_SIGNAL_SOURCE:
	case IMAGE_CAP_SIGNAL_CONTEXT:
	case IMAGE_CAP_SEMAPHORE_IRQ:
		snprintf(buf, size, "session%" PRIu64, c->obj);
		return buf;
	}
	return NULL;
}

static void dot_objects(FILE *f, const struct image_model *m)
{
	for (uint32_t i = 0; i < m->nsessions; i++) {
		const struct image_session *s = &m->sessions[i];
		int outside = s->flags & IMAGE_SESSION_F_OUTSIDE;
		fprintf(f,
			"  session%" PRIu64 " [shape=ellipse, label=\"session %" PRIu64
			"\\n%s ",
			s->id, s->id, image_session_type_name(s->type));
		dot_str(f, s->label, sizeof s->label);
		fprintf(f, "\"];\n  session%" PRIu64 " -> \"server %s ", s->id,
			outside ? "outside" : "monitor");
		dot_str(f, s->service, sizeof s->service);
		fprintf(f, "\" [style=dashed, label=\"served by\"];\n");
		fprintf(f, "  \"server %s ", outside ? "outside" : "monitor");
		dot_str(f, s->service, sizeof s->service);
		fprintf(f, "\" [shape=house, label=\"");
		dot_str(f, s->service, sizeof s->service);
		fprintf(f, "\\n%s\"];\n",
			outside ? "server outside the monitor" : "the monitor (proxy)");
	}
	for (uint32_t i = 0; i < m->ndataspaces; i++) {
		const struct image_dataspace *d = &m->dataspaces[i];
		fprintf(f,
			"  ds%" PRIu64 " [shape=folder, label=\"dataspace %" PRIu64
			"\\n%s, %" PRIu64 " KiB\"];\n",
			d->id, d->id, image_ds_kind_name(d->kind), d->size >> 10);
	}
	for (uint32_t i = 0; i < m->nthreads; i++) {
		const struct image_thread *t = &m->threads[i];
		fprintf(f, "  thread%u [shape=octagon, label=\"thread %u\\n", t->nr,
			t->nr);
		dot_str(f, t->name, sizeof t->name);
		fprintf(f, "\"];\n");
	}
}

/* The badge at kcap in after, into buf: "new 0x..", or "gone". */
static const char *dot_new_badge(const struct image_model *after, uint64_t kcap,
				 char *buf, size_t size)
{
	for (uint32_t i = 0; i < after->ncaps; i++)
		if (after->caps[i].kcap == kcap) {
			snprintf(buf, size, "new %#" PRIx64, after->caps[i].badge);
			return buf;
		}
	return "gone after the restore";
}

void inspect_dot(const struct image_model *m, const struct image_model *after, FILE *f)
{
	char to[64], nb[64];

	fprintf(f, "digraph capsule {\n  rankdir=LR;\n  label=\"");
	dot_str(f, m->component.label, sizeof m->component.label);
	fprintf(f, ": %u caps\";\n  node [fontsize=10];\n", m->ncaps);
	dot_objects(f, m);
	for (uint32_t i = 0; i < m->ncaps; i++) {
		const struct image_cap *c = &m->caps[i];
		const char *t = dot_target(c, to, sizeof to);
		fprintf(f,
			"  kcap%" PRIx64 " [shape=box, label=\"kcap %#" PRIx64
			"\\nbadge %#" PRIx64 "%s%s\\n%s\"];\n",
			c->kcap, c->kcap, c->badge, after ? " -> " : "",
			after ? dot_new_badge(after, c->kcap, nb, sizeof nb) : "",
			image_cap_class_name(c->class));
		if (c->class == IMAGE_CAP_REGION_MAP)
			fprintf(f, "  %s [shape=component, label=\"region map\\n%s\"];\n",
				t, image_rm_kind_name((uint32_t)c->arg));
		if (t)
			fprintf(f, "  kcap%" PRIx64 " -> %s;\n", c->kcap, t);
		if (c->class == IMAGE_CAP_SESSION || c->class == IMAGE_CAP_OUTSIDE) {
			if (!dot_session(m, c->obj))
				fprintf(f, "  %s [shape=ellipse, style=dotted];\n", t);
		}
	}
	fprintf(f, "}\n");
}

/* true if an executable dot is on PATH. */
static int dot_installed(void)
{
	const char *path = getenv("PATH");
	char dir[4096], file[4200];

	while (path && *path) {
		size_t n = strcspn(path, ":");
		snprintf(dir, sizeof dir, "%.*s", (int)n, path);
		snprintf(file, sizeof file, "%s/dot", n ? dir : ".");
		if (!access(file, X_OK))
			return 1;
		path += n + (path[n] == ':');
	}
	return 0;
}

int inspect_dot_main(const char *path, const char *after_path, const char *svg)
{
	struct image_model *m, *after = NULL;
	char err[512], cmd[4200];
	FILE *f = stdout;
	int rc;

	if (svg && strpbrk(svg, "'\n")) {
		fprintf(stderr, "capsule inspect: --svg %s: a name with a quote\n", svg);
		return 2;
	}
	if (svg && !dot_installed()) {
		fprintf(
		    stderr,
		    "capsule inspect: --svg %s: Graphviz's dot is not installed (Debian: "
		    "apt-get install graphviz; --dot prints the graph)\n",
		    svg);
		return 1;
	}
	if (image_read(path, &m, err, sizeof err) < 0) {
		fprintf(stderr, "capsule inspect: %s\n", err);
		return 1;
	}
	if (after_path && image_read(after_path, &after, err, sizeof err) < 0) {
		fprintf(stderr, "capsule inspect: %s\n", err);
		image_model_free(m);
		return 1;
	}
	if (after && strncmp(m->component.label, after->component.label,
			     sizeof m->component.label)) {
		fprintf(
		    stderr,
		    "capsule inspect: %s: of component '%.64s', not '%.64s' as %s (the "
		    "second image is a checkpoint of the first one's component after "
		    "its restore)\n",
		    after_path, after->component.label, m->component.label, path);
		image_model_free(after);
		image_model_free(m);
		return 1;
	}
	if (svg) {
		snprintf(cmd, sizeof cmd, "exec dot -Tsvg -o '%s'", svg);
		f = popen(cmd, "w");
	}
	if (!f) {
		fprintf(stderr, "capsule inspect: --svg %s: cannot run dot\n", svg);
		image_model_free(m);
		if (after)
			image_model_free(after);
		return 1;
	}
	inspect_dot(m, after, f);
	image_model_free(m);
	if (after)
		image_model_free(after);
	if (!svg)
		return fflush(stdout) ? 1 : 0;
	rc = pclose(f);
	if (rc) {
		fprintf(stderr,
			"capsule inspect: --svg %s: Graphviz's dot failed (exit status "
			"%d)\n",
			svg, rc);
		return 1;
	}
	return 0;
}
