/* Incremental images applied to memory (image/delta.c), as a migration's
 * destination builds its paused copy round by round: the full image
 * written into zeroed memory (streamed, as the monitor's round 1 does),
 * then each child's pages over it, gives exactly the memory of the chain
 * restore (image_read_chain), pages a child set back to zeros included;
 * another size is refused; image_memory_whole tells a full image from a
 * delta. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/stat.h>

#include "test_image_model.h"

#define IMAGE_DIR_TEMPLATE "/tmp/test_image_delta_XXXXXX"
#include "image_dir.h"

/* bits[i]: pages p of RAM dataspace i with p % k == first, written v */
static void rewrite(struct t_model *t, uint8_t **bits, unsigned k, unsigned first,
		    uint8_t v)
{
	for (unsigned i = 0; i < T_RAM_DS; i++) {
		uint64_t pages = t->mem[i].size / IMAGE_PAGE_SIZE;
		if (!bits[i])
			bits[i] = calloc(pages / 8 + 8, 1);
		for (uint64_t p = first; p < pages; p += k) {
			bits[i][p / 8] |= 1 << (p % 8);
			memset(t->mem[i].data + p * IMAGE_PAGE_SIZE, v, IMAGE_PAGE_SIZE);
		}
	}
}

static void child_of(struct t_model *t, const char *parent, uint64_t pid, uint64_t id,
		     uint32_t depth, uint8_t **bits)
{
	char p[128], err[256];
	at(p, parent);
	t->m.flags = IMAGE_F_INCREMENTAL;
	t->m.image_id = id;
	t->m.parent_id = pid;
	t->m.parent = (struct image_parent){.id = pid, .depth = depth};
	snprintf(t->m.parent.path, sizeof(t->m.parent.path), "%s", parent);
	assert_int_equal(image_file_hash(p, t->m.parent.hash, err, sizeof(err)), 0);
	for (unsigned i = 0; i < T_RAM_DS; i++)
		t->mem[i].present = bits[i];
}

static void read_ok(const char *name, unsigned flags, struct image_model **o)
{
	char p[128], err[512] = "";
	at(p, name);
	int rc = image_read_flags(p, flags, o, err, sizeof(err));
	if (rc)
		fprintf(stderr, "%s\n", err);
	assert_int_equal(rc, 0);
}

/* base <- d1 (every 3rd page 0x11) <- d2 (every 5th 0x22, and every 6th,
 * pages d1 wrote, back to zeros): base streamed into zeroed buffers,
 * then d1's and d2's pages applied, equals the chain's memory. */
static void applied_equal_the_chain(unsigned flags)
{
	struct t_model t;
	uint8_t *b1[T_RAM_DS] = {0}, *b2[T_RAM_DS] = {0}, *mem[T_RAM_DS];
	struct image_model *im, *chain;
	uint64_t n, pages[3] = {0};
	char p[128], err[512] = "";

	t_model_init(&t);
	t.m.image_id = 100;
	write_ok("base.img", &t.m);
	rewrite(&t, b1, 3, 0, 0x11);
	child_of(&t, "base.img", 100, 101, 1, b1);
	write_ok("d1.img", &t.m);
	rewrite(&t, b2, 5, 1, 0x22);
	rewrite(&t, b2, 6, 0, 0);
	child_of(&t, "d1.img", 101, 102, 2, b2);
	write_ok("d2.img", &t.m);

	read_ok("base.img", IMAGE_READ_STREAM, &im);
	for (unsigned i = 0; i < T_RAM_DS; i++) {
		mem[i] = calloc(1, t.mem[i].size);
		assert_int_equal(image_memory_fill(im, t.mem[i].ds_id, mem[i],
						   t.mem[i].size, &n, err, sizeof(err)),
				 0);
	}
	image_model_free(im);
	const char *round[] = {"d1.img", "d2.img"};
	for (unsigned r = 0; r < 2; r++) {
		read_ok(round[r], flags, &im);
		for (unsigned i = 0; i < T_RAM_DS; i++) {
			assert_false(image_memory_whole(im, t.mem[i].ds_id));
			assert_int_equal(image_memory_apply(im, t.mem[i].ds_id, mem[i],
							    t.mem[i].size, &n, err,
							    sizeof(err)),
					 0);
			pages[r] += n;
		}
		image_model_free(im);
	}
	/* every 3rd page, then every 5th and every 6th of each dataspace */
	uint64_t want1 = 0, want2 = 0;
	for (unsigned i = 0; i < T_RAM_DS; i++)
		for (uint64_t pg = 0; pg < t.mem[i].size / IMAGE_PAGE_SIZE; pg++) {
			want1 += pg % 3 == 0;
			want2 += pg % 5 == 1 || pg % 6 == 0;
		}
	assert_int_equal(pages[0], want1);
	assert_int_equal(pages[1], want2);

	at(p, "d2.img");
	int rc = image_read_chain(p, &chain, err, sizeof(err));
	if (rc)
		fprintf(stderr, "%s\n", err);
	assert_int_equal(rc, 0);
	for (unsigned i = 0; i < T_RAM_DS; i++) {
		unsigned k = 0;
		while (chain->memory[k].ds_id != t.mem[i].ds_id)
			k++;
		assert_memory_equal(mem[i], chain->memory[k].data, t.mem[i].size);
		assert_memory_equal(mem[i], t.mem[i].data, t.mem[i].size);
		/* a page d2 set back to zeros is zeros, not d1's 0x11 */
		assert_int_equal(mem[i][6 * IMAGE_PAGE_SIZE + 9], 0);
		free(mem[i]);
	}
	image_model_free(chain);
	/* a full image carries every page of each dataspace */
	read_ok("base.img", flags, &im);
	for (unsigned i = 0; i < T_RAM_DS; i++)
		assert_true(image_memory_whole(im, t.mem[i].ds_id));
	image_model_free(im);
	for (unsigned i = 0; i < T_RAM_DS; i++) {
		t.mem[i].present = NULL;
		free(b1[i]);
		free(b2[i]);
	}
	t_model_free(&t);
}

/* The rounds read whole (a copy of each dataspace) */
static void rounds_applied_equal_the_chain(void **state)
{
	applied_equal_the_chain(0);
}

/* The rounds streamed: their pages written from the file's chunks, the
 * zero pages they carry zeroed (a migration's destination) */
static void streamed_rounds_applied_equal_the_chain(void **state)
{
	applied_equal_the_chain(IMAGE_READ_STREAM);
}

/* Memory of another size than the image's dataspace is refused, naming
 * it; a dataspace the image has no pages of is left alone. */
static void other_size_refused(void **state)
{
	struct t_model t;
	struct image_model *im;
	uint8_t *buf;
	uint64_t n = 7;
	char err[512] = "";

	t_model_init(&t);
	t.m.image_id = 100;
	write_ok("base.img", &t.m);
	read_ok("base.img", 0, &im);
	buf = calloc(1, 2 * t.mem[0].size);
	assert_int_equal(image_memory_apply(im, t.mem[0].ds_id, buf, 2 * t.mem[0].size,
					    &n, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "dataspace"));
	assert_int_equal(n, 0);
	memset(buf, 0x5a, IMAGE_PAGE_SIZE);
	assert_int_equal(
	    image_memory_apply(im, 4242, buf, t.mem[0].size, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_int_equal(buf[0], 0x5a);
	assert_false(image_memory_whole(im, 4242));
	free(buf);
	image_model_free(im);
	t_model_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(streamed_rounds_applied_equal_the_chain,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(rounds_applied_equal_the_chain, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(other_size_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
