/*
 * Chains of incremental images: where a parent file is, the hash that
 * proves it is the one its child was taken against, and the merge of a
 * chain into one full model (the newest image's records, each page from
 * the newest image that carries it).  Parents are read one at a time,
 * newest first, so a chain costs the newest model plus one parent.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "image/internal.h"

int image_file_hash(const char *path, uint8_t hash[IMAGE_HASH_SIZE], char *err,
		    size_t errlen)
{
	XXH3_state_t *st = XXH3_createState();
	size_t bsize = 1u << 20;
	uint8_t *buf = malloc(bsize);
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
	ssize_t n;

	if (!st || !buf) {
		rc = -ENOMEM;
	} else if (fd < 0) {
		rc = -errno;
	} else {
		XXH3_128bits_reset(st);
		while ((n = read(fd, buf, bsize)) > 0)
			XXH3_128bits_update(st, buf, (size_t)n);
		if (n < 0)
			rc = -errno;
		XXH128_canonical_t c;
		XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
		memcpy(hash, c.digest, IMAGE_HASH_SIZE);
	}
	if (rc && err && errlen)
		snprintf(err, errlen, "image %s: %s", path, strerror(-rc));
	if (fd >= 0)
		close(fd);
	free(buf);
	XXH3_freeState(st);
	return rc;
}

/* child's directory with a trailing '/', into dir ("" for the cwd) */
static void dir_of(const char *child, char *dir, size_t n)
{
	const char *slash = strrchr(child, '/');
	int len = slash ? (int)(slash - child + 1) : 0;

	snprintf(dir, n, "%.*s", len, child);
}

/* Next to the child first: a chain copied or received elsewhere (a
 * migration's rounds) uses its own files even where the writer's are. */
int image_parent_find(const char *child, const struct image_parent *p, char *out,
		      size_t n)
{
	char dir[IMAGE_PARENT_PATH + 1024], alt[2 * sizeof(dir)];
	const char *base = strrchr(p->path, '/');

	dir_of(child, dir, sizeof(dir));
	snprintf(out, n, "%s%s", dir, base ? base + 1 : p->path);
	if (!access(out, F_OK))
		return 0;
	if (p->path[0] == '/')
		snprintf(alt, sizeof(alt), "%s", p->path);
	else
		snprintf(alt, sizeof(alt), "%s%s", dir, p->path);
	if (!access(alt, F_OK)) {
		snprintf(out, n, "%s", alt);
		return 0;
	}
	return -ENOENT;
}

static void hash_hex(const uint8_t *h, char *s)
{
	for (unsigned i = 0; i < IMAGE_HASH_SIZE; i++)
		sprintf(s + 2 * i, "%02x", h[i]);
}

/* Open the parent of the image `child` (read as c), checked: not seen
 * before in this chain (ids), found, of the id and hash c names.  0 and
 * *out, or -errno with err. */
static int parent_read(const char *child, const struct image_model *c,
		       const uint64_t *ids, unsigned nids, char *path, size_t pathlen,
		       struct image_model **out, char *err, size_t errlen)
{
	uint8_t hash[IMAGE_HASH_SIZE];
	char want[2 * IMAGE_HASH_SIZE + 1], have[sizeof(want)];
	int rc;

	*out = NULL;
	for (unsigned i = 0; i < nids; i++)
		if (ids[i] == c->parent_id) {
			snprintf(err, errlen,
				 "image %s: the chain of parents loops (image id %llu "
				 "again)",
				 child, (unsigned long long)c->parent_id);
			return -ELOOP;
		}
	if (nids >= IMAGE_CHAIN_MAX) {
		snprintf(err, errlen, "image %s: more than %u images in the chain", child,
			 IMAGE_CHAIN_MAX);
		return -ELOOP;
	}
	if (image_parent_find(child, &c->parent, path, pathlen)) {
		snprintf(err, errlen, "image %s: its parent %s is missing", child, path);
		return -ENOENT;
	}
	if ((rc = image_file_hash(path, hash, err, errlen)))
		return rc;
	if (memcmp(hash, c->parent.hash, sizeof(hash))) {
		hash_hex(c->parent.hash, want);
		hash_hex(hash, have);
		snprintf(err, errlen,
			 "image %s: parent %s has xxh3-128 %s, the child names %s: not "
			 "the image it was taken against",
			 child, path, have, want);
		return -EINVAL;
	}
	if ((rc = image_read(path, out, err, errlen)))
		return rc;
	if ((*out)->image_id != c->parent_id) {
		snprintf(err, errlen, "image %s: parent %s is image %llu, not %llu",
			 child, path, (unsigned long long)(*out)->image_id,
			 (unsigned long long)c->parent_id);
		image_model_free(*out);
		*out = NULL;
		return -EINVAL;
	}
	return 0;
}

static const struct image_dataspace *ds_of(const struct image_model *m, uint64_t id)
{
	for (uint32_t i = 0; i < m->ndataspaces; i++)
		if (m->dataspaces[i].id == id)
			return &m->dataspaces[i];
	return NULL;
}

static bool bit(const uint8_t *map, uint64_t p)
{
	return !map || ((map[p / 8] >> (p % 8)) & 1);
}

/* m's memory entry of dataspace d, made (nothing present) if it has none */
static struct image_memory *entry_of(struct image_model *m,
				     const struct image_dataspace *d)
{
	for (uint32_t k = 0; k < m->nmemory; k++)
		if (m->memory[k].ds_id == d->id)
			return &m->memory[k];
	if (!m->memory &&
	    !(m->memory = calloc((size_t)m->ndataspaces + 1, sizeof(*m->memory))))
		return NULL;
	if (m->nmemory >= m->ndataspaces)
		return NULL;
	struct image_memory *e = &m->memory[m->nmemory];
	void *p = mmap(NULL, d->size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	e->present = calloc(d->size / IMAGE_PAGE_SIZE / 8 + 8, 1);
	if (!e->present) {
		munmap(p, d->size);
		return NULL;
	}
	e->ds_id = d->id;
	e->size = d->size;
	e->data = p;
	m->nmemory++;
	return e;
}

static bool zero_page(const uint8_t *p)
{
	for (unsigned i = 0; i < IMAGE_PAGE_SIZE; i++)
		if (p[i])
			return false;
	return true;
}

static int set_bit(uint8_t **map, uint64_t size, uint64_t p, bool on)
{
	if (!*map && on && !(*map = calloc(size / IMAGE_PAGE_SIZE / 8 + 8, 1)))
		return -ENOMEM;
	if (on)
		(*map)[p / 8] |= (uint8_t)(1u << (p % 8));
	else if (*map)
		(*map)[p / 8] &= (uint8_t) ~(1u << (p % 8));
	return 0;
}

static void xor_page(uint8_t *to, const uint8_t *src)
{
	uint64_t *o = (uint64_t *)to;
	const uint64_t *d = (const uint64_t *)src;

	for (unsigned i = 0; i < IMAGE_PAGE_SIZE / 8; i++)
		o[i] ^= d[i];
}

/* The pages of parent p that m does not have yet, for m's dataspaces;
 * a page m has as a difference (e->xor) gets p's page XORed in, and is
 * whole once p's page is (else it is a difference to the grandparent's
 * now, IMAGE_MEM_XOR). */
static int merge(struct image_model *m, const struct image_model *p)
{
	for (uint32_t k = 0; k < p->nmemory; k++) {
		const struct image_memory *pe = &p->memory[k];
		const struct image_dataspace *d = ds_of(m, pe->ds_id);
		struct image_memory *e;

		if (!d || d->kind == IMAGE_DS_MANAGED || d->kind == IMAGE_DS_MEMBER ||
		    d->size != pe->size)
			continue; /* gone since, or another one now */
		if (!(e = entry_of(m, d)))
			return -ENOMEM;
		for (uint64_t pg = 0; pg < e->size / IMAGE_PAGE_SIZE; pg++) {
			const uint8_t *src = pe->data + pg * IMAGE_PAGE_SIZE;
			bool pdelta = pe->xor &&bit(pe->xor, pg);
			if (!bit(pe->present, pg))
				continue;
			if (bit(e->present, pg) && !(e->xor &&bit(e->xor, pg)))
				continue;
			if (bit(e->present, pg)) {
				xor_page(e->data + pg * IMAGE_PAGE_SIZE, src);
			} else {
				if (!zero_page(src))
					memcpy(e->data + pg * IMAGE_PAGE_SIZE, src,
					       IMAGE_PAGE_SIZE);
				e->present[pg / 8] |= (uint8_t)(1u << (pg % 8));
			}
			if (set_bit(&e->xor, e->size, pg, pdelta))
				return -ENOMEM;
		}
	}
	return 0;
}

/* Every page of m's memory is there: m becomes a full model. */
static int complete(const char *path, struct image_model *m, char *err, size_t errlen)
{
	for (uint32_t k = 0; k < m->nmemory; k++) {
		struct image_memory *e = &m->memory[k];
		for (uint64_t pg = 0; pg < e->size / IMAGE_PAGE_SIZE; pg++)
			if (!bit(e->present, pg) || (e->xor &&bit(e->xor, pg))) {
				snprintf(err, errlen,
					 "image %s: dataspace %llu page %llu is in no "
					 "image of its chain%s",
					 path, (unsigned long long)e->ds_id,
					 (unsigned long long)pg,
					 bit(e->present, pg)
					     ? " (only differences to it are)"
					     : "");
				return -EINVAL;
			}
	}
	for (uint32_t k = 0; k < m->nmemory; k++) {
		free(m->memory[k].present);
		free(m->memory[k].xor);
		m->memory[k].present = m->memory[k].xor = NULL;
		m->memory[k].delta_pages = 0;
	}
	m->flags &= ~(uint32_t)IMAGE_F_INCREMENTAL;
	m->parent_id = 0;
	memset(&m->parent, 0, sizeof(m->parent));
	return 0;
}

int image_read_chain(const char *path, struct image_model **out, char *err, size_t errlen)
{
	return image_read_chain_flags(path, 0, out, err, errlen);
}

int image_read_chain_flags(const char *path, unsigned flags, struct image_model **out,
			   char *err, size_t errlen)
{
	uint64_t ids[IMAGE_CHAIN_MAX];
	char child[IMAGE_PARENT_PATH + 2048], ppath[sizeof(child)];
	struct image_model *m, *cur, *p = NULL;
	unsigned nids = 0;
	int rc;

	if ((rc = image_read_flags(path, flags, &m, err, errlen)))
		return rc;
	if (!(m->flags & IMAGE_F_INCREMENTAL)) { /* a full image: as read */
		*out = m;
		return 0;
	}
	/* a chain is merged in memory: its pages are read, not streamed */
	if ((flags & IMAGE_READ_STREAM) &&
	    (image_model_free(m), rc = image_read(path, &m, err, errlen)))
		return rc;
	snprintf(child, sizeof(child), "%s", path);
	cur = m;
	while (cur->flags & IMAGE_F_INCREMENTAL) {
		ids[nids++] = cur->image_id;
		rc = parent_read(child, cur, ids, nids, ppath, sizeof(ppath), &p, err,
				 errlen);
		if (!rc && (rc = merge(m, p)) == -ENOMEM)
			snprintf(err, errlen, "image %s: out of memory", ppath);
		if (cur != m)
			image_model_free(cur);
		cur = p;
		p = NULL;
		if (rc)
			goto fail;
		snprintf(child, sizeof(child), "%s", ppath);
	}
	if (cur != m)
		image_model_free(cur);
	cur = NULL;
	if ((rc = complete(path, m, err, errlen)) ||
	    (rc = image_model_check(m, err, errlen)))
		goto fail;
	*out = m;
	return 0;
fail:
	if (cur && cur != m)
		image_model_free(cur);
	image_model_free(m);
	*out = NULL;
	return rc;
}
