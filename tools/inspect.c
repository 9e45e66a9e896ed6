/*
 * `capsule inspect IMAGE [--json]`: the image is read and validated by
 * image_read() and printed through a small emitter that renders either
 * readable text (one line per record) or JSON.  The JSON emitter is
 * hand-written (a few lines; strings escaped, non-ASCII bytes as \u00XX so
 * the output is valid UTF-8 whatever the image holds).
 *
 * Numbers (docs/inspect.schema.json, INSPECT_SCHEMA): identifiers of the
 * image, badges, kcaps, addresses and register words are hex strings
 * ("0x.."); sizes, counts, times and the small record numbers that link
 * one record to another (session, dataspace and thread numbers: a cap's
 * obj, a region's ds) are integers; created_ns, a time above 2^53 that
 * JSON tools would round, is a string of decimal digits.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "image/group.h"
#include "image/image.h"
#include "tools/inspect.h"

/* Emitter.  first[d]: nothing printed yet at depth d (JSON commas);
 * in_item: inside an array element (text: one line). */
struct out {
	FILE *f;
	bool json;
	int depth;
	bool first[8];
	bool in_item;
	/* --section NAME: only that top-level member (and "schema") goes to
	 * real, the others to sink; seen: the names met, for an error */
	const char *section;
	FILE *real, *sink;
	bool matched;
	char seen[256];
};

/* At the top level, member k goes to the output or (another section's)
 * to the sink. */
static void route(struct out *o, const char *k)
{
	size_t n;

	if (!o->section || o->depth || !k)
		return;
	n = strlen(o->seen);
	if (strcmp(k, "schema") && !strstr(o->seen, k))
		snprintf(o->seen + n, sizeof o->seen - n, "%s%s", n ? ", " : "", k);
	if (!strcmp(k, o->section))
		o->matched = true;
	o->f = !strcmp(k, o->section) || !strcmp(k, "schema") ? o->real : o->sink;
}

static void put_str(struct out *o, const char *s, size_t size)
{
	fputc('"', o->f);
	for (size_t i = 0; i < size && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(o->f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(o->f, "\\u%04x", c);
		else
			fputc(c, o->f);
	}
	fputc('"', o->f);
}

/* start a member: comma/indent (JSON) or separator (text) */
static void key(struct out *o, const char *k)
{
	route(o, k);
	if (o->json) {
		fprintf(o->f, "%s\n%*s", o->first[o->depth] ? "" : ",", 2 * o->depth, "");
		o->first[o->depth] = false;
		if (k)
			fprintf(o->f, "\"%s\": ", k);
	} else if (o->in_item) {
		fprintf(o->f, " %s=", k);
	} else {
		fprintf(o->f, "%*s%s: ", 2 * o->depth, "", k);
	}
}

static void end_field(struct out *o)
{
	if (!o->json && !o->in_item)
		fputc('\n', o->f);
}

static void e_u64(struct out *o, const char *k, uint64_t v)
{
	key(o, k);
	fprintf(o->f, "%llu", (unsigned long long)v);
	end_field(o);
}

/* An integer JSON tools would round (above 2^53): a string of digits. */
static void e_dec_str(struct out *o, const char *k, uint64_t v)
{
	key(o, k);
	fprintf(o->f, o->json ? "\"%llu\"" : "%llu", (unsigned long long)v);
	end_field(o);
}

/* hex in text, a JSON number would lose bits above 2^53: a "0x.." string */
static void e_hex(struct out *o, const char *k, uint64_t v)
{
	key(o, k);
	fprintf(o->f, o->json ? "\"%#llx\"" : "%#llx", (unsigned long long)v);
	end_field(o);
}

static void e_str(struct out *o, const char *k, const char *s, size_t size)
{
	key(o, k);
	put_str(o, s, size);
	end_field(o);
}

static void e_name(struct out *o, const char *k, const char *s)
{
	e_str(o, k, s, strlen(s));
}

/* bytes as one hex string (a digest) */
static void e_bytes(struct out *o, const char *k, const uint8_t *b, size_t n)
{
	char buf[2 * 64 + 1] = "";
	for (size_t i = 0; i < n && i < 64; i++)
		snprintf(buf + 2 * i, 3, "%02x", b[i]);
	e_name(o, k, buf);
}

static void e_words(struct out *o, const char *k, const uint64_t *w, size_t n)
{
	key(o, k);
	fputc(o->json ? '[' : ' ', o->f);
	for (size_t i = 0; i < n; i++)
		fprintf(o->f, o->json ? "%s\"%#llx\"" : "%s%#llx",
			i ? (o->json ? ", " : " ") : "", (unsigned long long)w[i]);
	if (o->json)
		fputc(']', o->f);
	end_field(o);
}

static void open_(struct out *o, const char *k, char bracket, uint32_t n)
{
	route(o, k);
	if (o->json) {
		key(o, k);
		fputc(bracket, o->f);
	} else if (k) {
		fprintf(o->f, "%*s%s", 2 * o->depth, "", k);
		fprintf(o->f, bracket == '[' ? " (%u):\n" : ":\n", n);
	}
	o->first[++o->depth] = true;
}

static void close_(struct out *o, char bracket)
{
	o->depth--;
	if (o->json)
		fprintf(o->f, "\n%*s%c", 2 * o->depth, "", bracket);
}

static void item_begin(struct out *o)
{
	if (o->json) {
		key(o, NULL);
		fputc('{', o->f);
		o->first[++o->depth] = true;
	} else {
		fprintf(o->f, "%*s-", 2 * o->depth, "");
		o->in_item = true;
	}
}

static void item_end(struct out *o)
{
	if (o->json) {
		close_(o, '}');
	} else {
		fputc('\n', o->f);
		o->in_item = false;
	}
}

static const char *perms(uint32_t p, char *buf)
{
	buf[0] = p & MEM_R ? 'r' : '-';
	buf[1] = p & MEM_W ? 'w' : '-';
	buf[2] = p & MEM_X ? 'x' : '-';
	buf[3] = 0;
	return buf;
}

static void print_header(struct out *o, const char *path, const struct image_model *m)
{
	open_(o, "image", '{', 0);
	e_name(o, "file", path);
	e_u64(o, "version", IMAGE_VERSION);
	e_name(o, "kind",
	       m->flags & IMAGE_F_INCREMENTAL
		   ? "incremental"
		   : (m->flags & IMAGE_F_PARTIAL ? "postcopy-skeleton" : "full"));
	e_hex(o, "id", m->image_id);
	e_hex(o, "parent", m->parent_id);
	e_dec_str(o, "created_ns", m->created_ns);
	e_str(o, "node", m->node, sizeof(m->node));
	close_(o, '}');
	if (m->flags & IMAGE_F_INCREMENTAL) { /* which file it builds on */
		open_(o, "parent", '{', 0);
		e_hex(o, "id", m->parent.id);
		e_bytes(o, "xxh3_128", m->parent.hash, sizeof(m->parent.hash));
		e_u64(o, "depth", m->parent.depth);
		e_str(o, "path", m->parent.path, sizeof(m->parent.path));
		close_(o, '}');
	}

	const struct image_component *c = &m->component;
	open_(o, "component", '{', 0);
	e_str(o, "label", c->label, sizeof(c->label));
	e_str(o, "binary", c->binary, sizeof(c->binary));
	e_u64(o, "ram_quota", c->ram_quota);
	e_u64(o, "ram_used", c->ram_used);
	e_u64(o, "cap_quota", c->cap_quota);
	e_u64(o, "cap_used", c->cap_used);
	e_hex(o, "cap_map", c->cap_map_addr);
	e_u64(o, "cap_map_entries", c->cap_map_entries);
	e_hex(o, "parent_badge", c->parent_badge);
	e_hex(o, "startup_info", c->startup_info);
	e_bytes(o, "binary_xxh3_128", c->binary_hash, sizeof(c->binary_hash));
	e_bytes(o, "build_id", c->build_id,
		c->build_id_len <= sizeof(c->build_id) ? c->build_id_len : 0);
	close_(o, '}');
}

/* The registers by name (JSON): general, rip, rflags, fs/gs base and
 * mxcsr as hex words, xmm0..15 as [low, high] words, the x87 control
 * words and its eight 80-bit data registers as hex byte strings. */
static void print_regs(struct out *o, const struct cpu_regs *r)
{
	static const char *const gpr[] = {"rax", "rbx", "rcx",	  "rdx",     "rsi",
					  "rdi", "rbp", "rsp",	  "r8",	     "r9",
					  "r10", "r11", "r12",	  "r13",     "r14",
					  "r15", "rip", "rflags", "fs_base", "gs_base"};
	const uint64_t *w = &r->rax;
	char name[8];

	open_(o, "regs", '{', 0);
	for (unsigned i = 0; i < sizeof gpr / sizeof gpr[0]; i++)
		e_hex(o, gpr[i], w[i]);
	e_hex(o, "mxcsr", r->mxcsr);
	for (unsigned i = 0; i < 16; i++) {
		snprintf(name, sizeof name, "xmm%u", i);
		e_words(o, name, r->xmm[i], 2);
	}
	e_hex(o, "fpcw", r->fpcw);
	e_hex(o, "fpsw", r->fpsw);
	e_hex(o, "fptag", r->fptag);
	for (unsigned i = 0; i < 8; i++) {
		snprintf(name, sizeof name, "st%u", i);
		e_bytes(o, name, r->fpr[i], sizeof r->fpr[i]);
	}
	close_(o, '}');
}

static void print_threads(struct out *o, const struct image_model *m)
{
	open_(o, "threads", '[', m->nthreads);
	for (uint32_t i = 0; i < m->nthreads; i++) {
		const struct image_thread *t = &m->threads[i];
		item_begin(o);
		e_u64(o, "nr", t->nr);
		e_str(o, "name", t->name, sizeof(t->name));
		e_name(o, "state", image_thread_state_name(t->state));
		e_u64(o, "cpu_session", t->cpu_session);
		e_hex(o, "utcb", t->utcb_addr);
		e_hex(o, "rip", t->regs.rip);
		e_hex(o, "rsp", t->regs.rsp);
		/* x87 control, status (TOP) and tag words; its data registers
		 * are in the JSON "regs" words */
		e_hex(o, "fpcw", t->regs.fpcw);
		e_hex(o, "fpsw", t->regs.fpsw);
		e_hex(o, "fptag", t->regs.fptag);
		e_hex(o, "thread_kcap", t->utcb.tcr[TCR_THREAD_KCAP]);
		if (o->json) {
			struct cpu_regs regs; /* aligned copies of the packed fields */
			struct utcb u;
			memcpy(&regs,
			       (const char *)t + offsetof(struct image_thread, regs),
			       sizeof(regs));
			memcpy(&u, (const char *)t + offsetof(struct image_thread, utcb),
			       sizeof(u));
			print_regs(o, &regs);
			e_words(o, "mr", u.mr, UTCB_MRS);
			e_words(o, "br", u.br, UTCB_BRS);
			e_words(o, "tcr", u.tcr, UTCB_TCRS);
		}
		item_end(o);
	}
	close_(o, ']');
}

static void print_objects(struct out *o, const struct image_model *m)
{
	char pb[4];
	open_(o, "sessions", '[', m->nsessions);
	for (uint32_t i = 0; i < m->nsessions; i++) {
		const struct image_session *s = &m->sessions[i];
		item_begin(o);
		e_u64(o, "id", s->id);
		e_name(o, "type", image_session_type_name(s->type));
		e_name(o, "route",
		       s->flags & IMAGE_SESSION_F_OUTSIDE ? "outside" : "monitor");
		e_str(o, "service", s->service, sizeof(s->service));
		e_str(o, "label", s->label, sizeof(s->label));
		e_str(o, "args", s->args, sizeof(s->args));
		e_u64(o, "ram_quota", s->ram_quota);
		item_end(o);
	}
	close_(o, ']');
	print_threads(o, m);
	open_(o, "dataspaces", '[', m->ndataspaces);
	for (uint32_t i = 0; i < m->ndataspaces; i++) {
		const struct image_dataspace *d = &m->dataspaces[i];
		item_begin(o);
		e_u64(o, "id", d->id);
		e_name(o, "kind", image_ds_kind_name(d->kind));
		e_u64(o, "size", d->size);
		if (d->kind == IMAGE_DS_MANAGED) {
			e_u64(o, "rm_session", d->managed.rm_session);
			e_hex(o, "fault_kcap", d->managed.fault_kcap);
			if (d->managed.pd_map)
				e_name(o, "pd_map",
				       image_rm_kind_name(d->managed.pd_map));
		} else if (d->kind == IMAGE_DS_MEMBER) {
			e_u64(o, "owner", d->member.owner);
		} else {
			e_str(o, "rom", d->rom, sizeof(d->rom));
		}
		item_end(o);
	}
	close_(o, ']');
	open_(o, "regions", '[', m->nregions);
	for (uint32_t i = 0; i < m->nregions; i++) {
		const struct image_region *g = &m->regions[i];
		item_begin(o);
		e_name(o, "region_map", image_rm_kind_name(g->rm_kind));
		e_u64(o, "rm_ds", g->rm_ds);
		e_hex(o, "addr", g->addr);
		e_u64(o, "size", g->size);
		e_name(o, "perms", perms(g->perms, pb));
		e_u64(o, "ds", g->ds_id);
		e_hex(o, "offset", g->offset);
		item_end(o);
	}
	close_(o, ']');
}

/* What a cap's obj numbers, by its class (image/image.h). */
static const char *obj_is(uint32_t class)
{
	switch (class) {
	case IMAGE_CAP_FIXED:
	case IMAGE_CAP_THREAD:
		return "thread";
	case IMAGE_CAP_SESSION:
	case IMAGE_CAP_OUTSIDE:
		return "session";
	case IMAGE_CAP_DATASPACE:
		return "dataspace";
	case IMAGE_CAP_REGION_MAP:
		return "managed_dataspace";
	case IMAGE_CAP_RPC_GATE:
	case IMAGE_CAP_SIGNAL_SOURCE:
	case IMAGE_CAP_SIGNAL_CONTEXT:
	case IMAGE_CAP_SEMAPHORE_IRQ:
		return "pd_session";
	case IMAGE_CAP_MEMBER:
		return "member";
	}
	return "none";
}

static void print_caps(struct out *o, const struct image_model *m)
{
	char pb[4] = "---"; /* three letters and the NUL */
	if (!o->json)	    /* the legend of obj= (JSON: each cap's obj_is) */
		fprintf(
		    o->f,
		    "# obj= is a thread nr (class fixed, thread), a session id "
		    "(session, outside), a dataspace id (dataspace; region_map: its "
		    "managed dataspace), the PD session id (rpc_gate, signal_*, "
		    "semaphore_irq) or a group member's index (member object); obj_is= "
		    "says which\n");
	open_(o, "caps", '[', m->ncaps);
	for (uint32_t i = 0; i < m->ncaps; i++) {
		const struct image_cap *c = &m->caps[i];
		item_begin(o);
		e_hex(o, "kcap", c->kcap);
		e_hex(o, "badge", c->badge);
		e_name(o, "class", image_cap_class_name(c->class));
		pb[0] = c->rights & RIGHT_R ? 'r' : '-';
		pb[1] = c->rights & RIGHT_W ? 'w' : '-';
		pb[2] = c->rights & RIGHT_S ? 's' : '-';
		e_name(o, "rights", pb);
		e_u64(o, "obj", c->obj);
		e_name(o, "obj_is", obj_is(c->class));
		if (c->class == IMAGE_CAP_DEAD)
			e_name(o, "reason", image_dead_reason_name((uint32_t)c->arg));
		else
			e_hex(o, "arg", c->arg);
		e_str(o, "note", c->note, sizeof(c->note));
		item_end(o);
	}
	close_(o, ']');
}

static void print_signals_timers(struct out *o, const struct image_model *m)
{
	open_(o, "signals", '[', m->nsignals);
	for (uint32_t i = 0; i < m->nsignals; i++) {
		const struct image_signal *s = &m->signals[i];
		item_begin(o);
		e_hex(o, "badge", s->badge);
		e_u64(o, "pd_session", s->pd_session);
		e_hex(o, "imprint", s->imprint);
		e_u64(o, "pending", s->pending);
		item_end(o);
	}
	close_(o, ']');
	open_(o, "timers", '[', m->ntimers);
	for (uint32_t i = 0; i < m->ntimers; i++) {
		const struct image_timer *t = &m->timers[i];
		item_begin(o);
		e_u64(o, "session", t->session);
		e_hex(o, "sigh", t->sigh);
		e_u64(o, "period_us", t->period);
		e_u64(o, "oneshot_us", t->oneshot);
		e_u64(o, "elapsed_us", t->elapsed);
		item_end(o);
	}
	close_(o, ']');
}

/* The reader counted each dataspace's pages from the chunks' bitmaps:
 * printing them costs nothing per page, so inspect's time follows the
 * image's size, not its dataspaces'. */
static void print_memory(struct out *o, const struct image_model *m, uint64_t file_bytes)
{
	open_(o, "memory", '[', m->nmemory);
	for (uint32_t k = 0; k < m->nmemory; k++) {
		const struct image_memory *e = &m->memory[k];
		uint64_t present = e->pages, zero = e->pages - e->nonzero_pages;
		item_begin(o);
		e_u64(o, "ds", e->ds_id);
		e_u64(o, "size", e->size);
		e_u64(o, "pages", present);
		e_u64(o, "zero_pages", zero);
		/* an incremental image's pages as their differences to the
		 * parent chain's (IMAGE_MEM_XOR); its zero_pages are then
		 * the unchanged ones */
		if (e->delta_pages)
			e_u64(o, "delta_pages", e->delta_pages);
		item_end(o);
	}
	close_(o, ']');
	const struct image_stats *s = &m->stats;
	open_(o, "stats", '{', 0);
	e_u64(o, "paused_ns", s->paused_ns);
	e_u64(o, "write_ns", s->write_ns);
	e_u64(o, "pages_scanned", s->pages_scanned);
	e_u64(o, "pages_written", s->pages_written);
	e_u64(o, "zero_pages", s->zero_pages);
	e_u64(o, "bytes_raw", s->bytes_raw);
	e_u64(o, "bytes_compressed", s->bytes_compressed);
	/* the file's size; the writer's count ends before the stats section */
	e_u64(o, "image_bytes", file_bytes ? file_bytes : s->image_bytes);
	e_u64(o, "bytes_before_stats", s->image_bytes);
	close_(o, '}');
}

int inspect_image(const char *path, int json, FILE *out, char *err, size_t errlen)
{
	return inspect_section(path, json, NULL, out, err, errlen);
}

int inspect_model(const char *path, const struct image_model *m, uint64_t file_bytes,
		  int json, const char *section, FILE *out, char *err, size_t errlen)
{
	struct out o = {.f = out, .json = json != 0, .section = section, .real = out};
	if (section && !(o.sink = fopen("/dev/null", "w"))) {
		snprintf(err, errlen, "inspect: /dev/null: %s", strerror(errno));
		return -EIO;
	}
	if (o.json)
		fputc('{', out);
	o.first[0] = true;
	e_u64(&o, "schema", INSPECT_SCHEMA);
	print_header(&o, path, m);
	print_objects(&o, m);
	print_caps(&o, m);
	print_signals_timers(&o, m);
	print_memory(&o, m, file_bytes);
	if (o.json)
		fputs("\n}\n", out);
	if (o.sink)
		fclose(o.sink);
	if (section && !o.matched) {
		snprintf(err, errlen, "%s: no section '%s' (it has: %s)", path, section,
			 o.seen);
		return -EINVAL;
	}
	return 0;
}

int inspect_section(const char *path, int json, const char *section, FILE *out, char *err,
		    size_t errlen)
{
	struct image_model *m;
	struct stat sb;
	int rc;

	if (image_is_group(path))
		return inspect_group(path, json, section, out, err, errlen);
	if ((rc = image_read_flags(path, IMAGE_READ_STREAM, &m, err, errlen)) < 0)
		return rc;
	rc = inspect_model(path, m, stat(path, &sb) ? 0 : (uint64_t)sb.st_size, json,
			   section, out, err, errlen);
	image_model_free(m);
	if (rc)
		return rc;
	if (fflush(out) == EOF || ferror(out)) {
		snprintf(err, errlen, "inspect: write error: %s", strerror(errno));
		return -EIO;
	}
	return 0;
}

int inspect_main(int argc, char **argv)
{
	const char *path = NULL, *section = NULL, *page = NULL;
	int json = 0;
	char err[512];
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "--caps"))
			section = "caps";
		else if (!strcmp(argv[i], "--section") && i + 1 < argc)
			section = argv[++i];
		else if (!strcmp(argv[i], "--page") && i + 1 < argc)
			page = argv[++i];
		else if (argv[i][0] != '-' && !path)
			path = argv[i];
		else
			path = NULL, argc = -1;
	}
	if (!path || argc < 0) {
		fprintf(stderr, "usage: capsule inspect IMAGE [--json]\n");
		return 2;
	}
	if (page)
		return inspect_page(path, page);
	if (inspect_section(path, json, section, stdout, err, sizeof(err)) < 0) {
		fprintf(stderr, "capsule inspect: %s\n", err);
		return 1;
	}
	return 0;
}
