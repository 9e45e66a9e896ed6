/*
 * forge: rewrite a capsule image with one deliberate defect, for the
 * restore-refusal tests (tests/cr/bad_images.sh).
 *
 *   forge IN OUT DEFECT
 *
 * DEFECT is one of the names in forge() and post() below.  The file is
 * read with image_read (so IN must be valid) and written with
 * image_write, whose own check lets through only what the format allows:
 * the defects of forge() are the ones a monitor must catch, not the
 * format.  The defects of post() are made in the written file (fields the
 * writer would refuse, zstd frames), with the checksums made right again,
 * so that the reader's own checks are what refuses them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <xxhash.h>
#include <zstd.h>

#include <capsule/checkpoint_abi.h>
#include "image/internal.h"

#define MIB (1ULL << 20)

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

static int forge_named(struct image_model *m, const char *in, const char *defect);

/* Defects post() makes in the file alone. */
static int post_only(const char *defect)
{
	static const char *const names[] = {"incremental-orphan", "parent-loop",
					    "region-overflow", "ds-overflow",
					    "zstd-frame"};

	for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(defect, names[i]))
			return 1;
	return 0;
}

/* A new RAM dataspace of size bytes (zero, mapped lazily), its id. */
static uint64_t add_ds(struct image_model *m, uint64_t size, uint8_t **data)
{
	uint64_t id = 0x7a000000;
	struct image_memory *e;
	void *p;

	m->dataspaces =
	    realloc(m->dataspaces, (m->ndataspaces + 1) * sizeof *m->dataspaces);
	m->memory = realloc(m->memory, (m->nmemory + 1) * sizeof *m->memory);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!m->dataspaces || !m->memory || p == MAP_FAILED)
		return 0;
	m->dataspaces[m->ndataspaces++] =
	    (struct image_dataspace){.id = id, .size = size, .kind = IMAGE_DS_RAM};
	e = &m->memory[m->nmemory++];
	*e = (struct image_memory){.ds_id = id, .size = size, .data = p};
	if (data)
		*data = p;
	return id;
}

/* n regions of size bytes of dataspace id, back to back at addr. */
static int add_regions(struct image_model *m, uint64_t id, unsigned n, uint64_t size,
		       uint64_t addr)
{
	m->regions = realloc(m->regions, (m->nregions + n) * sizeof *m->regions);
	if (!m->regions)
		return -1;
	for (unsigned i = 0; i < n; i++)
		m->regions[m->nregions++] =
		    (struct image_region){.rm_kind = IMAGE_RM_ADDRESS_SPACE,
					  .perms = MEM_R | MEM_W,
					  .addr = addr + i * size,
					  .size = size,
					  .ds_id = id};
	return 0;
}

/* The bytes at target address a (len of them) in the image's memory. */
static void *guest(struct image_model *m, uint64_t a, uint64_t len)
{
	for (uint32_t i = 0; i < m->nregions; i++) {
		const struct image_region *g = &m->regions[i];
		if (g->rm_kind != IMAGE_RM_ADDRESS_SPACE || a < g->addr ||
		    a + len > g->addr + g->size)
			continue;
		for (uint32_t k = 0; k < m->nmemory; k++)
			if (m->memory[k].ds_id == g->ds_id && m->memory[k].data)
				return m->memory[k].data + g->offset + (a - g->addr);
	}
	return NULL;
}

/* Defects in the target's memory: links of its trees that loop. */
static int forge_memory(struct image_model *m, const char *defect)
{
	struct cr_report *rep = guest(m, m->component.cr_report_addr, sizeof *rep);
	struct cr_entrypoint *ep = rep ? guest(m, rep->entrypoints, sizeof *ep) : NULL;
	struct cr_object *o;

	if (!ep)
		return -1;
	if (!strcmp(defect, "ep-loop")) { /* its entrypoint list is a ring */
		ep->next = rep->entrypoints;
		return 0;
	}
	if (!strcmp(defect, "pool-loop")) { /* a pool object is its own child */
		if (!ep->pool || !(o = guest(m, ep->pool, sizeof *o)))
			return -1;
		o->left = ep->pool;
		return 0;
	}
	return -1;
}

/* 0 if the defect was made. */
static int forge(struct image_model *m, const char *in, const char *defect)
{
	uint64_t id;
	uint8_t *p;

	if (!strcmp(defect, "alias") || !strcmp(defect, "alias-fits")) {
		/* 8 regions of 256 MiB, all of one dataspace: 2 GiB if each were
		 * copied; "alias" claims 4 GiB of RAM quota, "alias-fits" just
		 * enough for the dataspace once */
		if (!(id = add_ds(m, 256 * MIB, NULL)))
			return -1;
		m->component.ram_quota = !strcmp(defect, "alias")
					     ? 4096 * MIB
					     : m->component.ram_quota + 256 * MIB;
		return add_regions(m, id, 8, 256 * MIB, 0x4000000000ULL);
	}
	if (!strcmp(defect, "huge-sparse")) { /* 1 GiB, a page every 2 MiB */
		if (!(id = add_ds(m, 1024 * MIB, &p)))
			return -1;
		for (uint64_t off = 0; off < 1024 * MIB; off += 2 * MIB)
			p[off] = 1;
		return add_regions(m, id, 1, 1024 * MIB, 0x4000000000ULL);
	}
	if (!strcmp(defect, "bomb")) { /* 1 GiB: its pages filled by post() */
		if (!(id = add_ds(m, 1024 * MIB, NULL)))
			return -1;
		return add_regions(m, id, 1, 1024 * MIB, 0x4000000000ULL);
	}
	if (!strcmp(defect, "many-sparse")) {
		/* an incremental image of 240 dataspaces of 16 GiB, one page of
		 * each present: a small file whose bitmaps span 4 TiB */
		m->flags |= IMAGE_F_INCREMENTAL;
		m->parent_id = m->image_id ^ 0x5a5a;
		m->parent = (struct image_parent){.id = m->parent_id, .depth = 1};
		snprintf(m->parent.path, sizeof m->parent.path, "absent-parent.img");
		m->parent.hash[0] = 1; /* any: the parent is never found */
		for (unsigned i = 0; i < 240; i++) {
			struct image_memory *e;
			if (!(id = add_ds(m, 16384 * MIB, &p)))
				return -1;
			m->dataspaces[m->ndataspaces - 1].id = id + i;
			e = &m->memory[m->nmemory - 1];
			e->ds_id = id + i;
			if (!(e->present = calloc(16384 * MIB / IMAGE_PAGE_SIZE / 8, 1)))
				return -1;
			e->present[i] = 1; /* page 8 * i */
			p[8ULL * i * IMAGE_PAGE_SIZE] = (uint8_t)i + 1;
		}
		return 0;
	}
	if (!strcmp(defect, "ep-loop") || !strcmp(defect, "pool-loop"))
		return forge_memory(m, defect);
	return forge_named(m, in, defect);
}

/* ---- defects made in the written file ------------------------------- */

struct file {
	uint8_t *p;
	size_t n;
};

static int load(const char *path, struct file *f)
{
	FILE *fp = fopen(path, "rb");
	long n;

	if (!fp || fseek(fp, 0, SEEK_END) || (n = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) || !(f->p = malloc((size_t)n)) ||
	    fread(f->p, 1, (size_t)n, fp) != (size_t)n) {
		if (fp)
			fclose(fp);
		return -1;
	}
	f->n = (size_t)n;
	return fclose(fp);
}

static int store(const char *path, const struct file *f)
{
	FILE *fp = fopen(path, "wb");
	int rc = !fp || fwrite(f->p, 1, f->n, fp) != f->n;

	if (fp)
		rc |= fclose(fp) != 0;
	return rc ? -1 : 0;
}

static void header_sum(struct file *f)
{
	struct image_header *h = (struct image_header *)f->p;

	h->checksum = XXH3_64bits(h, offsetof(struct image_header, checksum));
}

/* The zstd frame of raw bytes of 0x01 (kept for the next chunk of the
 * same size). */
static const uint8_t *ones_frame(size_t raw, size_t *len)
{
	static uint8_t *frame;
	static size_t frame_raw, frame_len;
	uint8_t *src;

	if (frame && frame_raw == raw) {
		*len = frame_len;
		return frame;
	}
	free(frame);
	frame = malloc(ZSTD_compressBound(raw));
	if (!frame || !(src = malloc(raw)))
		return NULL;
	memset(src, 1, raw);
	frame_len = ZSTD_compress(frame, ZSTD_compressBound(raw), src, raw, 3);
	free(src);
	if (ZSTD_isError(frame_len))
		return NULL;
	frame_raw = raw;
	*len = frame_len;
	return frame;
}

/* A memory chunk whose pages all hold data: the zstd frame of its pages
 * of 0x01 (mult times as many bytes for "zstd-frame") instead of its
 * payload, appended at out.  Its length, 0 on failure. */
static size_t bomb_chunk(const uint8_t *sec, uint8_t *out, unsigned mult)
{
	struct image_section h;
	struct image_mem_chunk c;
	const uint8_t *frame;
	size_t n;

	memcpy(&h, sec, sizeof h);
	memcpy(&c, sec + sizeof h, sizeof c);
	c.nonzero = c.present;
	c.raw_len = (uint32_t)__builtin_popcountll(c.nonzero) * IMAGE_PAGE_SIZE;
	c.flags = 0;
	if (!(frame = ones_frame((size_t)c.raw_len * mult, &n)))
		return 0;
	c.data_len = (uint32_t)n;
	h.length = sizeof c + n;
	memcpy(out + sizeof h, &c, sizeof c);
	memcpy(out + sizeof h + sizeof c, frame, n);
	h.checksum = image_section_checksum(&h, out + sizeof h);
	memcpy(out, &h, sizeof h);
	return sizeof h + h.length;
}

/* Every section of f again; the memory chunks of dataspace ds (or the
 * first chunk with data, ds 0) become bombs. */
static int rewrite_memory(struct file *f, uint64_t ds, unsigned mult)
{
	uint32_t count = ((struct image_header *)f->p)->section_count;
	size_t off = sizeof(struct image_header), at = off, done = 0;
	size_t room =
	    ZSTD_compressBound((size_t)IMAGE_CHUNK_PAGES * IMAGE_PAGE_SIZE * mult);
	size_t cap = f->n + 4 * room;
	uint8_t *out = malloc(cap);

	if (!out)
		return -1;
	memcpy(out, f->p, off);
	for (uint32_t i = 0; i < count; i++) {
		struct image_section h;
		struct image_mem_chunk c;
		size_t n = 0;

		memcpy(&h, f->p + off, sizeof h);
		memcpy(&c, f->p + off + sizeof h, sizeof c);
		if (cap - at < sizeof h + h.length + room + 64) {
			uint8_t *q = realloc(out, cap = 2 * cap + sizeof h + h.length);
			if (!q) {
				free(out);
				return -1;
			}
			out = q;
		}
		if (h.type == IMAGE_SEC_memory &&
		    (ds ? c.ds_id == ds : !done && c.nonzero && c.raw_len))
			n = bomb_chunk(f->p + off, out + at, mult);
		if (n)
			done++;
		else
			memcpy(out + at, f->p + off, n = sizeof h + h.length);
		at += n;
		off += sizeof h + h.length;
	}
	free(f->p);
	f->p = out;
	f->n = at;
	return done ? 0 : -1;
}

static struct image_section *section_of(struct file *f, uint32_t type)
{
	uint32_t count = ((struct image_header *)f->p)->section_count;
	size_t off = sizeof(struct image_header);

	for (uint32_t i = 0; i < count; i++) {
		struct image_section *h = (struct image_section *)(f->p + off);
		if (h->type == type)
			return h;
		off += sizeof *h + h->length;
	}
	return NULL;
}

static void section_sum(struct image_section *h)
{
	h->checksum = image_section_checksum(h, (uint8_t *)(h + 1));
}

/* 0 if made, 1 if the defect is not one of these. */
static int post(const char *path, const char *defect)
{
	struct image_header *h;
	struct image_section *s;
	struct file f;
	int rc = 0;

	if (strcmp(defect, "incremental-orphan") && strcmp(defect, "parent-loop") &&
	    strcmp(defect, "region-overflow") && strcmp(defect, "ds-overflow") &&
	    strcmp(defect, "bomb") && strcmp(defect, "zstd-frame"))
		return 1;
	if (load(path, &f))
		return -1;
	h = (struct image_header *)f.p;
	if (!strcmp(defect, "incremental-orphan")) { /* incremental, no parent */
		h->flags |= IMAGE_F_INCREMENTAL;
		h->parent_id = 0;
		header_sum(&f);
	} else if (!strcmp(defect, "parent-loop")) { /* its own parent */
		h->flags |= IMAGE_F_INCREMENTAL;
		h->parent_id = h->image_id;
		header_sum(&f);
	} else if (!strcmp(defect, "region-overflow")) { /* offset + size wraps */
		if (!(s = section_of(&f, IMAGE_SEC_region)))
			rc = -1;
		else {
			((struct image_region *)(s + 1))->offset =
			    -(uint64_t)IMAGE_PAGE_SIZE;
			section_sum(s);
		}
	} else if (!strcmp(defect, "ds-overflow")) { /* a size near 2^64 */
		if (!(s = section_of(&f, IMAGE_SEC_dataspace)))
			rc = -1;
		else {
			((struct image_dataspace *)(s + 1))->size =
			    -(uint64_t)IMAGE_PAGE_SIZE;
			section_sum(s);
		}
	} else if (!strcmp(defect, "bomb")) { /* 1 GiB from a few KB */
		rc = rewrite_memory(&f, 0x7a000000, 1);
	} else { /* zstd-frame: a frame 16 times larger than its chunk */
		rc = rewrite_memory(&f, 0, 16);
	}
	if (!rc)
		rc = store(path, &f);
	free(f.p);
	return rc;
}

static int forge_named(struct image_model *m, const char *in, const char *defect)
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
	return post_only(defect) ? 0 : -1;
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
	} else if (post(argv[2], argv[3]) < 0) {
		fprintf(stderr, "forge: cannot make defect '%s' in the file\n", argv[3]);
		rc = 1;
	}
	image_model_free(m);
	return rc;
}
