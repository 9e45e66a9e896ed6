/* Writing memory from a packed copy (image_memory.packed, a migration's
 * final image written straight from the pause's copy): the image reads
 * back with the same pages, zero pages elided alike, as the one written
 * from the pages at their places; data is not read for them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_image_model.h"

static int is_present(const uint8_t *bits, uint64_t p)
{
	return (bits[p / 8] >> (p % 8)) & 1;
}

static struct image_model *read_back(const struct image_model *m)
{
	struct image_model *o = NULL;
	char err[512] = "";
	size_t len = 0;
	uint8_t *buf = t_write(m, &len);

	assert_non_null(buf);
	if (image_read_mem("packed", buf, len, &o, err, sizeof(err)))
		fprintf(stderr, "%s\n", err);
	free(buf);
	assert_non_null(o);
	return o;
}

static void packed_writes_as_placed(void **state)
{
	struct t_model t;
	uint8_t *bits[T_RAM_DS], *want[T_RAM_DS];
	struct image_model *a, *b;

	t_model_init(&t);
	t.m.flags = IMAGE_F_PARTIAL;
	for (unsigned i = 0; i < T_RAM_DS; i++) { /* runs, gaps, zero pages */
		struct image_memory *e = &t.mem[i];
		uint64_t n = e->size / IMAGE_PAGE_SIZE;
		bits[i] = calloc(n / 8 + 8, 1);
		for (uint64_t p = 0; p < n; p++)
			if ((p * 7 + i) % 5 < 3 || (p >= 64 && p < 128))
				bits[i][p / 8] |= (uint8_t)(1u << (p % 8));
		e->present = bits[i];
	}
	a = read_back(&t.m);
	for (unsigned i = 0; i < T_RAM_DS; i++) {
		struct image_memory *e = &t.mem[i];
		uint8_t *to;
		want[i] = e->data;
		e->packed = to = malloc(e->size);
		for (uint64_t p = 0; p < e->size / IMAGE_PAGE_SIZE; p++)
			if (is_present(bits[i], p)) {
				memcpy(to, want[i] + p * IMAGE_PAGE_SIZE,
				       IMAGE_PAGE_SIZE);
				to += IMAGE_PAGE_SIZE;
			}
		e->data = malloc(e->size); /* not read: other bytes */
		memset(e->data, 0xa5, e->size);
	}
	b = read_back(&t.m);
	assert_int_equal(a->nmemory, T_RAM_DS);
	assert_int_equal(b->nmemory, T_RAM_DS);
	for (unsigned k = 0; k < T_RAM_DS; k++) {
		const struct image_memory *x = &a->memory[k], *y = &b->memory[k];
		unsigned i = 0;
		while (t.mem[i].ds_id != x->ds_id)
			i++;
		assert_int_equal(x->ds_id, y->ds_id);
		assert_int_equal(x->pages, y->pages);
		assert_int_equal(x->nonzero_pages, y->nonzero_pages);
		for (uint64_t p = 0; p < x->size / IMAGE_PAGE_SIZE; p++) {
			assert_int_equal(is_present(x->present, p),
					 is_present(bits[i], p));
			assert_int_equal(is_present(y->present, p),
					 is_present(bits[i], p));
			if (is_present(bits[i], p))
				assert_memory_equal(y->data + p * IMAGE_PAGE_SIZE,
						    want[i] + p * IMAGE_PAGE_SIZE,
						    IMAGE_PAGE_SIZE);
		}
	}
	image_model_free(a);
	image_model_free(b);
	for (unsigned i = 0; i < T_RAM_DS; i++) {
		free(t.mem[i].packed);
		free(want[i]);
		free(bits[i]);
		t.mem[i].present = NULL;
	}
	t_model_free(&t);
}

/* no_compress (a migration's final image): the pages are stored raw,
 * the image is larger than the compressed one and reads back the same. */
static void raw_reads_as_compressed(void **state)
{
	struct t_model t;
	struct image_model *a, *b;
	size_t lz = 0, lr = 0;
	uint8_t *z, *r;

	t_model_init(&t);
	z = t_write(&t.m, &lz);
	t.m.no_compress = 1;
	r = t_write(&t.m, &lr);
	assert_true(z && r && lr > lz);
	free(z);
	free(r);
	a = read_back(&t.m);
	t.m.no_compress = 0;
	b = read_back(&t.m);
	assert_int_equal(a->nmemory, b->nmemory);
	for (unsigned k = 0; k < a->nmemory; k++) {
		assert_int_equal(a->memory[k].size, b->memory[k].size);
		assert_memory_equal(a->memory[k].data, b->memory[k].data,
				    a->memory[k].size);
	}
	image_model_free(a);
	image_model_free(b);
	t_model_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(packed_writes_as_placed),
	    cmocka_unit_test(raw_reads_as_compressed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
