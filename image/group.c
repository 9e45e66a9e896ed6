/*
 * The group image file (image/group.h): writing it (the header and the
 * table, then each member's image with image_write_fd, then the header
 * and table again with the offsets), reading it (each member's image by
 * image_read_mem on its bytes) and freeing it.  The table's checks
 * against the images are image/group_check.c.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "image/group.h"

static int fail(char *err, size_t n, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t n, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && n) {
		va_start(ap, fmt);
		vsnprintf(err, n, fmt, ap);
		va_end(ap);
	}
	return rc;
}

int image_is_group(const char *path)
{
	uint64_t magic = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	if (read(fd, &magic, sizeof magic) != (ssize_t)sizeof magic)
		magic = 0;
	close(fd);
	return magic == IMAGE_GROUP_MAGIC;
}

static size_t table_bytes(const struct image_group_header *h)
{
	return (size_t)h->nmembers * sizeof(struct image_group_member) +
	       (size_t)h->nrefs * sizeof(struct image_member_ref);
}

static uint64_t table_checksum(const struct image_group *g)
{
	XXH3_state_t *s = XXH3_createState();
	uint64_t sum;

	if (!s)
		return 0;
	XXH3_64bits_reset(s);
	XXH3_64bits_update(s, g->member, g->h.nmembers * sizeof *g->member);
	XXH3_64bits_update(s, g->ref, g->h.nrefs * sizeof *g->ref);
	sum = XXH3_64bits_digest(s);
	XXH3_freeState(s);
	return sum;
}

/* The header and the table at offset 0 of fd. */
static int put_table(int fd, struct image_group *g)
{
	size_t n = table_bytes(&g->h);
	uint8_t *buf = malloc(sizeof g->h + n);
	ssize_t w;

	if (!buf)
		return -ENOMEM;
	g->h.table_checksum = table_checksum(g);
	g->h.checksum = XXH3_64bits(&g->h, offsetof(struct image_group_header, checksum));
	memcpy(buf, &g->h, sizeof g->h);
	memcpy(buf + sizeof g->h, g->member, g->h.nmembers * sizeof *g->member);
	memcpy(buf + sizeof g->h + g->h.nmembers * sizeof *g->member, g->ref,
	       g->h.nrefs * sizeof *g->ref);
	w = pwrite(fd, buf, sizeof g->h + n, 0);
	free(buf);
	return w == (ssize_t)(sizeof g->h + n) ? 0 : w < 0 ? -errno : -EIO;
}

/* The header's fixed fields. */
static void header_init(struct image_group *g)
{
	struct timespec ts;

	g->h.magic = IMAGE_GROUP_MAGIC;
	g->h.version = IMAGE_GROUP_VERSION;
	g->h.header_size = sizeof g->h;
	while (!g->h.group_id)
		if (getrandom(&g->h.group_id, sizeof g->h.group_id, 0) !=
		    sizeof g->h.group_id)
			g->h.group_id = (uint64_t)time(NULL);
	clock_gettime(CLOCK_REALTIME, &ts);
	g->h.created_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	g->h.node[sizeof g->h.node - 1] = g->h.name[sizeof g->h.name - 1] = 0;
}

/* Each member's image after the table; then the table with their places. */
static int write_members(int fd, struct image_group *g, const char *path, char *err,
			 size_t errlen)
{
	off_t at = (off_t)(sizeof g->h + table_bytes(&g->h));
	int rc;

	if (lseek(fd, at, SEEK_SET) != at)
		return fail(err, errlen, -errno, "group image %s: %s", path,
			    strerror(errno));
	for (uint32_t k = 0; k < g->h.nmembers; k++) {
		struct image_group_member *m = &g->member[k];
		off_t end;

		if (!g->image[k]) { /* ended: no image */
			m->offset = m->length = m->image_id = 0;
			m->flags |= IMAGE_GROUP_MEMBER_ENDED;
			continue;
		}
		m->flags = 0;
		m->exit_code = 0;
		if (strlen(g->image[k]->component.binary) >= sizeof m->binary)
			return fail(
			    err, errlen, -ENAMETOOLONG,
			    "group image %s: member '%s': binary name '%s' longer "
			    "than %zu",
			    path, m->name, g->image[k]->component.binary,
			    sizeof m->binary - 1);
		if ((rc = image_write_fd(fd, g->image[k], NULL, err, errlen)))
			return rc;
		if ((end = lseek(fd, 0, SEEK_CUR)) < 0)
			return fail(err, errlen, -errno, "group image %s: %s", path,
				    strerror(errno));
		m->offset = (uint64_t)at;
		m->length = (uint64_t)(end - at);
		m->image_id = g->image[k]->image_id;
		snprintf(m->binary, sizeof m->binary, "%.39s", /* (checked above) */
			 g->image[k]->component.binary);
		at = end;
	}
	if ((rc = put_table(fd, g)))
		return fail(err, errlen, rc, "group image %s: %s", path, strerror(-rc));
	return 0;
}

int image_group_write(const char *path, struct image_group *g, char *err, size_t errlen)
{
	char tmp[4200];
	int fd, rc;

	if (!g->h.nmembers || g->h.nmembers > IMAGE_GROUP_MAX ||
	    g->h.nrefs > IMAGE_GROUP_REFS)
		return fail(err, errlen, -E2BIG, "group image %s: %u members, %u refs",
			    path, g->h.nmembers, g->h.nrefs);
	for (uint32_t k = 0; k < g->h.nmembers && !g->image[k]; k++)
		if (k + 1 == g->h.nmembers)
			return fail(err, errlen, -EINVAL,
				    "group image %s: every member has ended", path);
	/* each member's image gets an id of its own (the table names it) */
	for (uint32_t k = 0; k < g->h.nmembers; k++)
		while (g->image[k] && !g->image[k]->image_id)
			if (getrandom(&g->image[k]->image_id, 8, 0) != 8)
				g->image[k]->image_id = (uint64_t)time(NULL) + k;
	header_init(g);
	if ((rc = image_group_check(path, g, err, errlen)))
		return rc;
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return fail(err, errlen, -ENAMETOOLONG, "group image %s: name too long",
			    path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail(err, errlen, -errno, "group image %s: %s", tmp,
			    strerror(errno));
	rc = write_members(fd, g, path, err, errlen);
	if (!rc && fsync(fd) < 0 && errno != EINVAL)
		rc =
		    fail(err, errlen, -errno, "group image %s: %s", tmp, strerror(errno));
	if (close(fd) < 0 && !rc)
		rc =
		    fail(err, errlen, -errno, "group image %s: %s", tmp, strerror(errno));
	if (!rc && rename(tmp, path) < 0)
		rc = fail(err, errlen, -errno, "group image %s: %s", path,
			  strerror(errno));
	if (rc)
		unlink(tmp);
	return rc;
}

/* A NUL-terminated string within size bytes, of printable characters
 * only (names appear in one-line messages and in inspect's output). */
static int printable(const char *s, size_t size)
{
	size_t len = strnlen(s, size);

	if (len == size)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!isprint((unsigned char)s[i]))
			return 0;
	return 1;
}

/* The header and table of the file's bytes p (size) into g. */
static int read_table(const char *path, const uint8_t *p, size_t size,
		      struct image_group *g, char *err, size_t n)
{
	struct image_group_header *h = &g->h;
	size_t tb;

	if (size < sizeof *h)
		return fail(err, n, -EINVAL, "group image %s: truncated header", path);
	memcpy(h, p, sizeof *h);
	if (h->magic != IMAGE_GROUP_MAGIC)
		return fail(err, n, -EINVAL,
			    "group image %s: not a group image (bad magic)", path);
	if (h->version < 1 || h->version > IMAGE_GROUP_VERSION ||
	    h->header_size != sizeof *h)
		return fail(err, n, -EINVAL,
			    "group image %s: version %u, header size %u (this reader "
			    "knows %u, %zu)",
			    path, h->version, h->header_size, IMAGE_GROUP_VERSION,
			    sizeof *h);
	if (h->checksum != XXH3_64bits(h, offsetof(struct image_group_header, checksum)))
		return fail(err, n, -EINVAL, "group image %s: header checksum mismatch",
			    path);
	if (!h->nmembers || h->nmembers > IMAGE_GROUP_MAX ||
	    h->nrefs > IMAGE_GROUP_REFS || !h->group_id ||
	    !printable(h->node, sizeof h->node) || !printable(h->name, sizeof h->name))
		return fail(err, n, -EINVAL,
			    "group image %s: header: %u members, %u refs, id %llu, "
			    "unterminated name or node",
			    path, h->nmembers, h->nrefs, (unsigned long long)h->group_id);
	tb = table_bytes(h);
	if (size - sizeof *h < tb)
		return fail(err, n, -EINVAL, "group image %s: truncated table", path);
	g->member = malloc(h->nmembers * sizeof *g->member);
	g->ref = malloc(h->nrefs * sizeof *g->ref + 1);
	g->image = calloc(h->nmembers, sizeof *g->image);
	if (!g->member || !g->ref || !g->image)
		return fail(err, n, -ENOMEM, "group image %s: out of memory", path);
	memcpy(g->member, p + sizeof *h, h->nmembers * sizeof *g->member);
	memcpy(g->ref, p + sizeof *h + h->nmembers * sizeof *g->member,
	       h->nrefs * sizeof *g->ref);
	if (table_checksum(g) != h->table_checksum)
		return fail(err, n, -EINVAL, "group image %s: table checksum mismatch",
			    path);
	return 0;
}

/* An ended member's record (flags say so; version 1 has none): no
 * image, and some member ran. */
static int ended_ok(const char *path, const struct image_group *g, uint32_t k, char *err,
		    size_t n)
{
	const struct image_group_member *m = &g->member[k];
	uint32_t live = 0;

	if (m->flags & ~IMAGE_GROUP_MEMBER_ENDED || (g->h.version < 2 && m->flags))
		return fail(err, n, -EINVAL, "group image %s: member '%s': flags 0x%x",
			    path, m->name, m->flags);
	if (!m->flags)
		return 0;
	for (uint32_t j = 0; j < g->h.nmembers; j++)
		live += !(g->member[j].flags & IMAGE_GROUP_MEMBER_ENDED);
	if (m->offset || m->length || m->image_id || !live)
		return fail(err, n, -EINVAL,
			    "group image %s: member '%s' ended: an image at %llu, %llu "
			    "bytes, or no member ran",
			    path, m->name, (unsigned long long)m->offset,
			    (unsigned long long)m->length);
	return 0;
}

/* Member k's record: name unique, its image where the previous one ends
 * (the last one's end is the file's). */
static int member_ok(const char *path, const struct image_group *g, uint32_t k,
		     uint64_t at, size_t size, char *err, size_t n)
{
	const struct image_group_member *m = &g->member[k];
	int rc;

	if (!printable(m->name, sizeof m->name) || !m->name[0] ||
	    !printable(m->binary, sizeof m->binary))
		return fail(err, n, -EINVAL, "group image %s: member %u: bad name", path,
			    k);
	for (uint32_t j = 0; j < k; j++)
		if (!strcmp(g->member[j].name, m->name))
			return fail(err, n, -EINVAL,
				    "group image %s: member '%s' appears twice", path,
				    m->name);
	if ((rc = ended_ok(path, g, k, err, n)))
		return rc;
	if (m->flags) /* ended */
		return k + 1 == g->h.nmembers && at != size
			   ? fail(err, n, -EINVAL,
				  "group image %s: %zu bytes after the last image", path,
				  (size_t)(size - at))
			   : 0;
	if (m->offset != at || m->length > size - at ||
	    (k + 1 == g->h.nmembers && at + m->length != size))
		return fail(err, n, -EINVAL,
			    "group image %s: member '%s': image at %llu, %llu bytes, "
			    "in a file of %zu (expected at %llu)",
			    path, m->name, (unsigned long long)m->offset,
			    (unsigned long long)m->length, size, (unsigned long long)at);
	return 0;
}

static int read_members(const char *path, const uint8_t *p, size_t size,
			struct image_group *g, char *err, size_t n)
{
	uint64_t at = sizeof g->h + table_bytes(&g->h);
	char name[4300];
	int rc;

	for (uint32_t k = 0; k < g->h.nmembers; k++) {
		const struct image_group_member *m = &g->member[k];

		if ((rc = member_ok(path, g, k, at, size, err, n)))
			return rc;
		if (m->flags & IMAGE_GROUP_MEMBER_ENDED)
			continue;
		snprintf(name, sizeof name, "%s (member '%s')", path, m->name);
		if ((rc = image_read_mem(name, p + at, m->length, &g->image[k], err, n)))
			return rc;
		if (g->image[k]->image_id != m->image_id)
			return fail(err, n, -EINVAL,
				    "group image %s: member '%s': image id %llu, the "
				    "table names %llu",
				    path, m->name,
				    (unsigned long long)g->image[k]->image_id,
				    (unsigned long long)m->image_id);
		at += m->length;
	}
	return image_group_check(path, g, err, n);
}

int image_group_read(const char *path, struct image_group **out, char *err, size_t n)
{
	struct image_group *g = calloc(1, sizeof *g);
	struct stat st;
	void *p = MAP_FAILED;
	int fd, rc;

	*out = NULL;
	if (!g)
		return fail(err, n, -ENOMEM, "group image %s: out of memory", path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !st.st_size) {
		rc = fd < 0 ? -errno : -EINVAL;
		fail(err, n, rc, "group image %s: %s", path,
		     fd < 0 ? strerror(errno) : "not a nonempty regular file");
		goto out;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	if (p == MAP_FAILED) {
		rc = fail(err, n, -errno, "group image %s: %s", path, strerror(errno));
		goto out;
	}
	if (!(rc = read_table(path, p, (size_t)st.st_size, g, err, n)))
		rc = read_members(path, p, (size_t)st.st_size, g, err, n);
out:
	if (p != MAP_FAILED)
		munmap(p, (size_t)st.st_size);
	if (fd >= 0)
		close(fd);
	if (rc)
		image_group_free(g);
	else
		*out = g;
	return rc;
}

void image_group_free(struct image_group *g)
{
	if (!g)
		return;
	for (uint32_t k = 0; g->image && k < g->h.nmembers; k++)
		if (g->image[k])
			image_model_free(g->image[k]);
	free(g->image);
	free(g->member);
	free(g->ref);
	free(g);
}
