/* An image read from a pipe as it arrives (image_pipe_begin, then
 * image_pipe_finish, image/read_pipe.c: a migration's round 1 built
 * while it comes) gives the records and, written into the caller's
 * zeroed memory, exactly the memory a whole read of the same file gives,
 * and image_file_hash's hash of it; the same image with its live chunks
 * too, and the same image read from a file while it is written (a byte
 * on a pipe each time it grew; a file that stops growing early is
 * refused).  A stream that ends in the records, in the memory or before the
 * stats, one with a byte more, one with a damaged memory section, and a
 * dataspace the caller has no memory for are refused in one line. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "image/internal.h"
#include "test_image_model.h"

static char path[64];
static uint8_t *file;
static size_t file_len;

struct feeder {
	int fd;
	const uint8_t *buf;
	size_t len;
	pthread_t t;
};

/* Writes the bytes into the pipe in odd pieces, then closes it (the
 * reader may stop early: EPIPE then). */
static void *feed(void *arg)
{
	struct feeder *f = arg;
	size_t at = 0;

	while (at < f->len) {
		size_t n = f->len - at < 777 ? f->len - at : 777;
		ssize_t k = write(f->fd, f->buf + at, n);
		if (k <= 0)
			break;
		at += (size_t)k;
	}
	close(f->fd);
	return NULL;
}

/* A pipe whose other end gets buf; the read end. */
static int start_feed(struct feeder *f, const uint8_t *buf, size_t len)
{
	int p[2];

	assert_int_equal(pipe(p), 0);
	f->fd = p[1];
	f->buf = buf;
	f->len = len;
	assert_int_equal(pthread_create(&f->t, NULL, feed, f), 0);
	return p[0];
}

static int setup(void **state)
{
	struct t_model t;
	char err[256] = "";
	struct stat st;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	strcpy(path, "/tmp/test_image_pipe_XXXXXX");
	if ((fd = mkstemp(path)) < 0)
		return -1;
	t_model_init(&t);
	if (image_write_fd(fd, &t.m, NULL, err, sizeof err) || fstat(fd, &st))
		return -1;
	file_len = (size_t)st.st_size;
	file = malloc(file_len);
	if (!file || pread(fd, file, file_len, 0) != (ssize_t)file_len)
		return -1;
	close(fd);
	t_model_free(&t);
	return 0;
}

static int teardown(void **state)
{
	unlink(path);
	free(file);
	return 0;
}

struct dests {
	const struct image_model *m;
	uint8_t *mem[T_RAM_DS + 3];
	int none; /* give no memory for any dataspace */
};

static void *dest_of(void *arg, uint64_t ds_id, uint64_t size)
{
	struct dests *d = arg;

	for (uint32_t i = 0; i < d->m->ndataspaces && !d->none; i++)
		if (d->m->dataspaces[i].id == ds_id && d->m->dataspaces[i].size == size) {
			if (!d->mem[i])
				d->mem[i] = calloc(1, size);
			return d->mem[i];
		}
	return NULL;
}

/* Read buf through a pipe: 0 with *out, or the failing step's -errno
 * with err. */
static int read_piped(const uint8_t *buf, size_t len, struct dests *d,
		      struct image_model **out, char *err, size_t size)
{
	struct feeder f;
	struct image_pipe *p;
	int fd = start_feed(&f, buf, len), rc;

	*out = NULL;
	rc = image_pipe_begin(fd, -1, "piped", &p, out, err, size);
	if (rc == 0) {
		d->m = *out;
		assert_int_equal((*out)->nmemory, 0); /* the records alone */
		rc = image_pipe_finish(p, dest_of, d, err, size);
		image_pipe_end(p, rc != 0);
		if (rc)
			*out = NULL;
	}
	close(fd);
	pthread_join(f.t, NULL);
	return rc;
}

static void free_dests(struct dests *d)
{
	for (unsigned i = 0; i < T_RAM_DS + 3; i++) {
		free(d->mem[i]);
		d->mem[i] = NULL;
	}
}

static void matches_whole_read(void **state)
{
	struct image_model *whole = NULL, *m;
	struct dests d = {0};
	uint8_t hash[IMAGE_HASH_SIZE];
	char err[256] = "";

	assert_int_equal(image_read(path, &whole, err, sizeof err), 0);
	assert_int_equal(read_piped(file, file_len, &d, &m, err, sizeof err), 0);
	assert_int_equal(m->image_id, whole->image_id);
	assert_int_equal(m->nthreads, whole->nthreads);
	assert_int_equal(m->ncaps, whole->ncaps);
	assert_int_equal(m->nregions, whole->nregions);
	assert_memory_equal(&m->component, &whole->component, sizeof m->component);
	assert_int_equal(m->nmemory, whole->nmemory);
	for (uint32_t k = 0; k < m->nmemory; k++) {
		assert_int_equal(m->memory[k].ds_id, whole->memory[k].ds_id);
		assert_true(m->memory[k].borrowed);
		assert_int_equal(m->memory[k].pages, whole->memory[k].pages);
		assert_memory_equal(m->memory[k].data, whole->memory[k].data,
				    whole->memory[k].size);
	}
	assert_int_equal(image_file_hash(path, hash, err, sizeof err), 0);
	assert_memory_equal(m->file_hash, hash, sizeof hash);
	image_model_free(m); /* leaves the borrowed memory */
	free_dests(&d);
	image_model_free(whole);
}

static void refused(const uint8_t *buf, size_t len, struct dests *d, const char *what)
{
	struct image_model *m;
	char err[256] = "";

	assert_int_not_equal(read_piped(buf, len, d, &m, err, sizeof err), 0);
	assert_null(m);
	if (!strstr(err, what))
		fprintf(stderr, "expected '%s' in: %s\n", what, err);
	assert_non_null(strstr(err, what));
	assert_null(strchr(err, '\n'));
	assert_non_null(strstr(err, "piped"));
	free_dests(d);
}

static void short_long_damaged_refused(void **state)
{
	uint8_t *more = malloc(file_len + 1), *bad = malloc(file_len);
	struct dests d = {0};
	size_t mem_at = 0;

	assert_non_null(more);
	assert_non_null(bad);
	refused(file, 100, &d, "the stream ended in the header");
	refused(file, sizeof(struct image_header) + 30, &d, "ended in a section");
	refused(file, file_len - 200, &d, "ended in");
	refused(file, file_len - sizeof(struct image_stats), &d, "ended in");
	memcpy(more, file, file_len);
	more[file_len] = 7;
	refused(more, file_len + 1, &d, "trailing bytes");
	/* a byte of the first memory section's pages flipped */
	for (size_t off = sizeof(struct image_header); off < file_len && !mem_at;) {
		struct image_section s;
		memcpy(&s, file + off, sizeof s);
		if (s.type == IMAGE_SEC_memory)
			mem_at = off + sizeof s + sizeof(struct image_mem_chunk) + 10;
		off += sizeof s + s.length;
	}
	assert_true(mem_at > 0);
	memcpy(bad, file, file_len);
	bad[mem_at] ^= 0x40;
	refused(bad, file_len, &d, "checksum mismatch");
	d.none = 1;
	refused(file, file_len, &d, "no memory for dataspace");
	free(more);
	free(bad);
}

/* The image of a live write (a migration's round 1) reads the same. */
static void live_image(void **state)
{
	struct t_model t;
	struct image_model *whole = NULL, *m;
	struct dests d = {0};
	char err[256] = "";
	struct stat st;
	uint8_t *buf;
	int fd;

	t_model_init(&t);
	t.m.live = 1;
	assert_int_equal(image_write(path, &t.m, NULL, err, sizeof err), 0);
	assert_int_equal(image_read(path, &whole, err, sizeof err), 0);
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_non_null(buf = malloc((size_t)st.st_size));
	assert_int_equal(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	assert_int_equal(read_piped(buf, (size_t)st.st_size, &d, &m, err, sizeof err), 0);
	for (uint32_t k = 0; k < m->nmemory; k++)
		assert_memory_equal(m->memory[k].data, whole->memory[k].data,
				    whole->memory[k].size);
	image_model_free(m);
	free_dests(&d);
	image_model_free(whole);
	free(buf);
	t_model_free(&t);
}

struct grower {
	int fd, tell; /* the file, the pipe that says it grew */
	size_t len;   /* of file's bytes */
	pthread_t t;
};

static void *grow(void *arg)
{
	struct grower *g = arg;

	for (size_t at = 0; at < g->len;) {
		size_t n = g->len - at < 5000 ? g->len - at : 5000;
		assert_int_equal(write(g->fd, file + at, n), (ssize_t)n);
		at += n;
		if (write(g->tell, "+", 1) != 1)
			break;
		usleep(100);
	}
	close(g->tell);
	return NULL;
}

/* The file written len bytes at a time while it is read. */
static int read_growing(size_t len, struct dests *d, struct image_model **out, char *err,
			size_t size)
{
	char grown[64];
	struct grower g = {.len = len};
	struct image_pipe *p;
	int tell[2], fd, rc;

	strcpy(grown, "/tmp/test_image_pipe_grown_XXXXXX");
	assert_true((g.fd = mkstemp(grown)) >= 0);
	assert_true((fd = open(grown, O_RDONLY)) >= 0);
	assert_int_equal(pipe(tell), 0);
	g.tell = tell[1];
	assert_int_equal(pthread_create(&g.t, NULL, grow, &g), 0);
	rc = image_pipe_begin(fd, tell[0], "grown", &p, out, err, size);
	if (rc == 0) {
		d->m = *out;
		rc = image_pipe_finish(p, dest_of, d, err, size);
		image_pipe_end(p, rc != 0);
		if (rc)
			*out = NULL;
	}
	pthread_join(g.t, NULL);
	close(tell[0]);
	close(fd);
	close(g.fd);
	unlink(grown);
	return rc;
}

static void growing_file(void **state)
{
	struct image_model *whole = NULL, *m;
	struct dests d = {0};
	uint8_t hash[IMAGE_HASH_SIZE];
	char err[256] = "";

	assert_int_equal(image_read(path, &whole, err, sizeof err), 0);
	assert_int_equal(read_growing(file_len, &d, &m, err, sizeof err), 0);
	assert_int_equal(m->nmemory, whole->nmemory);
	for (uint32_t k = 0; k < m->nmemory; k++)
		assert_memory_equal(m->memory[k].data, whole->memory[k].data,
				    whole->memory[k].size);
	assert_int_equal(image_file_hash(path, hash, err, sizeof err), 0);
	assert_memory_equal(m->file_hash, hash, sizeof hash);
	image_model_free(m);
	free_dests(&d);
	assert_int_not_equal(read_growing(file_len - 300, &d, &m, err, sizeof err), 0);
	assert_null(m);
	assert_non_null(strstr(err, "grown"));
	assert_non_null(strstr(err, "ended in"));
	free_dests(&d);
	image_model_free(whole);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(matches_whole_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(short_long_damaged_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(live_image, setup, teardown),
	    cmocka_unit_test_setup_teardown(growing_file, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
