/* A streamed read (IMAGE_READ_STREAM) keeps memory in the file:
 * image_memory_fill writes each dataspace's bytes, exactly as a whole read
 * has them, into a zeroed destination (single runs, scattered pages, raw
 * and compressed chunks), counts pages from the bitmaps, and refuses a
 * chunk that does not decompress, naming the section and the page.
 * An image written with `live` (memory read in place while it may
 * change: each chunk copied once first) holds the same memory, and
 * IMAGE_READ_HASH gives image_file_hash's hash of the file.  A
 * dataspace of 4 MiB mostly with data, at a 2 MiB boundary (filled
 * through huge pages, the file dropped some MiB at a time), is filled
 * exactly too. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <sys/mman.h>

#include "image/internal.h"
#include "test_image_model.h"

static char path[64];

static int setup(void **state)
{
	strcpy(path, "/tmp/test_image_stream_XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	unlink(path);
	return 0;
}

static struct image_model *read_as(unsigned flags)
{
	char err[256] = "";
	struct image_model *m = NULL;
	int rc = image_read_flags(path, flags, &m, err, sizeof err);
	if (rc)
		fprintf(stderr, "%s\n", err);
	assert_int_equal(rc, 0);
	return m;
}

static void fill_matches_whole_read(void **state)
{
	struct t_model t;
	char err[256] = "";
	t_model_init(&t);
	/* a second pattern in ds 0: a run of pages, then every third page */
	for (uint64_t p = 0; p < t.mem[0].size / IMAGE_PAGE_SIZE; p++)
		if (p < 3 || p % 3 == 0)
			t_fill(t.mem[0].data + p * IMAGE_PAGE_SIZE, IMAGE_PAGE_SIZE);
		else
			memset(t.mem[0].data + p * IMAGE_PAGE_SIZE, 0, IMAGE_PAGE_SIZE);
	assert_int_equal(image_write(path, &t.m, NULL, err, sizeof err), 0);
	struct image_model *whole = read_as(0), *s = read_as(IMAGE_READ_STREAM);
	assert_non_null(s->stream);
	assert_int_equal(s->nmemory, whole->nmemory);
	for (uint32_t k = 0; k < s->nmemory; k++) {
		const struct image_memory *e = &s->memory[k];
		uint64_t written, nz = 0;
		assert_null(e->data);
		assert_int_equal(e->pages, e->size / IMAGE_PAGE_SIZE);
		uint8_t *dst = mmap(NULL, e->size, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		assert_true(dst != MAP_FAILED);
		assert_int_equal(image_memory_fill(s, e->ds_id, dst, e->size, &written,
						   err, sizeof err),
				 0);
		assert_memory_equal(dst, whole->memory[k].data, e->size);
		for (uint64_t p = 0; p < e->size / IMAGE_PAGE_SIZE; p++)
			for (unsigned i = 0; i < IMAGE_PAGE_SIZE; i++)
				if (dst[p * IMAGE_PAGE_SIZE + i]) {
					nz++;
					break;
				}
		assert_int_equal(e->nonzero_pages, nz);
		assert_int_equal(written, nz * IMAGE_PAGE_SIZE);
		munmap(dst, e->size);
	}
	image_model_free(whole);
	image_model_free(s);
	t_model_free(&t);
}

static void live_write_and_read_hash(void **state)
{
	struct t_model t;
	char err[256] = "";
	uint8_t hash[IMAGE_HASH_SIZE];
	t_model_init(&t);
	assert_int_equal(image_write(path, &t.m, NULL, err, sizeof err), 0);
	struct image_model *plain = read_as(0);
	t.m.live = 1;
	assert_int_equal(image_write(path, &t.m, NULL, err, sizeof err), 0);
	struct image_model *live = read_as(IMAGE_READ_HASH);
	assert_int_equal(live->nmemory, plain->nmemory);
	for (uint32_t k = 0; k < live->nmemory; k++) {
		assert_int_equal(live->memory[k].size, plain->memory[k].size);
		assert_memory_equal(live->memory[k].data, plain->memory[k].data,
				    plain->memory[k].size);
	}
	assert_int_equal(image_file_hash(path, hash, err, sizeof err), 0);
	assert_memory_equal(live->file_hash, hash, sizeof hash);
	image_model_free(plain);
	image_model_free(live);
	t_model_free(&t);
}

/* A live write of noise (zstd does not shrink it: most chunks go raw
 * without a try, page by page straight into their section), with zero
 * pages here and there, a chunk of zeros and one that compresses: it
 * reads as the memory it was written from, zero pages counted as such. */
static void live_noise_reads_the_same(void **state)
{
	const uint64_t chunk = (uint64_t)IMAGE_CHUNK_PAGES * IMAGE_PAGE_SIZE,
		       size = 48 * chunk;
	struct image_stats st;
	struct t_model t;
	char err[256] = "";
	uint64_t zero = 0;
	t_model_init(&t);
	t.d[2].size = t.mem[2].size = size;
	assert_non_null(t.mem[2].data = realloc(t.mem[2].data, size));
	t_fill(t.mem[2].data, size);
	for (uint64_t p = 3; p < size / IMAGE_PAGE_SIZE; p += 17)
		memset(t.mem[2].data + p * IMAGE_PAGE_SIZE, 0, IMAGE_PAGE_SIZE);
	memset(t.mem[2].data + 20 * chunk, 0, chunk);
	for (uint64_t i = 0; i < chunk; i++)
		t.mem[2].data[30 * chunk + i] = (uint8_t) "capsule"[i % 7];
	for (uint64_t p = 0; p < size / IMAGE_PAGE_SIZE; p++) {
		const uint8_t *pg = t.mem[2].data + p * IMAGE_PAGE_SIZE;
		zero += pg[0] == 0 && !memcmp(pg, pg + 1, IMAGE_PAGE_SIZE - 1);
	}
	t.m.live = 1;
	assert_int_equal(image_write(path, &t.m, &st, err, sizeof err), 0);
	struct image_model *live = read_as(IMAGE_READ_HASH);
	assert_int_equal(live->memory[2].size, size);
	assert_memory_equal(live->memory[2].data, t.mem[2].data, size);
	for (uint32_t k = 0; k < live->nmemory; k++)
		if (k != 2)
			assert_memory_equal(live->memory[k].data, t.mem[k].data,
					    t.mem[k].size);
	assert_true(st.zero_pages >= zero);
	assert_true(st.bytes_compressed < st.bytes_raw); /* the text shrank */
	image_model_free(live);
	t_model_free(&t);
}

static void huge_fill_matches_whole_read(void **state)
{
	const uint64_t size = 4ULL << 20, huge = 2ULL << 20;
	struct t_model t;
	char err[256] = "";
	uint64_t written;
	t_model_init(&t);
	t.d[2].size = t.mem[2].size = size;
	assert_non_null(t.mem[2].data = realloc(t.mem[2].data, size));
	t_fill(t.mem[2].data, size);
	memset(t.mem[2].data + 5 * IMAGE_PAGE_SIZE, 0, 3 * IMAGE_PAGE_SIZE);
	assert_int_equal(image_write(path, &t.m, NULL, err, sizeof err), 0);
	struct image_model *whole = read_as(0), *s = read_as(IMAGE_READ_STREAM);
	uint8_t *map = mmap(NULL, size + huge, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(map != MAP_FAILED);
	uint8_t *dst = map + (huge - (uintptr_t)map % huge) % huge;
	assert_int_equal(s->memory[2].size, size);
	assert_int_equal(image_memory_fill(s, s->memory[2].ds_id, dst, size, &written,
					   err, sizeof err),
			 0);
	assert_memory_equal(dst, whole->memory[2].data, size);
	assert_int_equal(written, size - 3 * IMAGE_PAGE_SIZE);
	munmap(map, size + huge);
	image_model_free(whole);
	image_model_free(s);
	t_model_free(&t);
}

/* A compressed chunk whose frame is damaged past the reader's checks
 * (header intact, section checksum recomputed) fails at the fill. */
static void bad_frame_fails_at_fill(void **state)
{
	struct t_model t;
	char err[256] = "";
	t_model_init(&t);
	assert_int_equal(image_write(path, &t.m, NULL, err, sizeof err), 0);
	struct image_model *s = read_as(IMAGE_READ_STREAM);
	const struct image_memory *e = NULL;
	for (uint32_t k = 0; k < s->nmemory && !e; k++)
		for (uint32_t c = 0; c < s->memory[k].nchunks && !e; c++)
			if (!(s->memory[k].chunk[c].flags & IMAGE_MEM_RAW))
				e = &s->memory[k];
	assert_non_null(e);
	const struct image_chunk_ref *c = &e->chunk[0];
	for (uint32_t i = 0; i < e->nchunks; i++)
		if (!(e->chunk[i].flags & IMAGE_MEM_RAW)) {
			c = &e->chunk[i];
			break;
		}
	/* the model's mapping is private: damage the frame in it past its
	 * magic and descriptor (what the reader looked at is gone by now) */
	uint8_t *frame = (uint8_t *)s->stream->base + c->data_off;
	uintptr_t lo = (uintptr_t)frame & ~4095ul;
	assert_int_equal(mprotect((void *)lo, (uintptr_t)frame + c->data_len - lo,
				  PROT_READ | PROT_WRITE),
			 0);
	memset(frame + 6, 0xff, c->data_len - 6);
	uint8_t *dst = mmap(NULL, e->size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t written;
	assert_int_equal(
	    image_memory_fill(s, e->ds_id, dst, e->size, &written, err, sizeof err),
	    -EINVAL);
	assert_non_null(strstr(err, "(memory) at offset"));
	assert_non_null(strstr(err, "zstd"));
	munmap(dst, e->size);
	image_model_free(s);
	t_model_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(fill_matches_whole_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(bad_frame_fails_at_fill, setup, teardown),
	    cmocka_unit_test_setup_teardown(live_write_and_read_hash, setup, teardown),
	    cmocka_unit_test_setup_teardown(live_noise_reads_the_same, setup, teardown),
	    cmocka_unit_test_setup_teardown(huge_fill_matches_whole_read, setup,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
