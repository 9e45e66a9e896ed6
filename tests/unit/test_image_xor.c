/* Pages as their differences to the parent's (IMAGE_MEM_XOR, image/
 * xor_runs.c), as a migration's final image carries the pages the round
 * before carried: written with image_model.delta_base, the child read
 * streamed or whole and applied over the parent's memory, and the chain
 * merged by image_read_chain, all give the child's memory exactly —
 * pages with a word changed, rewritten whole, set back to zeros,
 * unchanged, and pages without a base (stored whole) in the same chunk;
 * a chunk whose runs leave the page, a difference in a full image and a
 * streamed restore of differences without their parent are refused;
 * each page's base is asked for once per image written;
 * a page's runs give it back whichever of its words differ. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/stat.h>

#include "test_image_model.h"
#include "image/internal.h"

#define IMAGE_DIR_TEMPLATE "/tmp/test_image_xor_XXXXXX"
#include "image_dir.h"

static uint8_t *parent_mem[T_RAM_DS]; /* the memory d1.img carries */
static unsigned asked;		      /* base_of's calls */

static void read_ok(const char *name, unsigned flags, struct image_model **o)
{
	char p[128], err[512] = "";
	at(p, name);
	int rc = image_read_flags(p, flags, o, err, sizeof(err));
	if (rc)
		fprintf(stderr, "%s\n", err);
	assert_int_equal(rc, 0);
}

/* The parent's page for the even pages of each dataspace (a round that
 * carried those): the odd ones have no base and are stored whole. */
static const uint8_t *base_of(void *arg, uint64_t ds, uint64_t page)
{
	const struct t_model *t = arg;
	asked++;
	for (unsigned i = 0; i < T_RAM_DS; i++)
		if (t->mem[i].ds_id == ds && page % 2 == 0)
			return parent_mem[i] + page * IMAGE_PAGE_SIZE;
	return NULL;
}

static void incremental(struct t_model *t, const char *parent, uint64_t pid, uint64_t id,
			uint8_t **bits)
{
	char p[128], err[256];
	at(p, parent);
	t->m.flags = IMAGE_F_INCREMENTAL;
	t->m.image_id = id;
	t->m.parent_id = pid;
	t->m.parent = (struct image_parent){.id = pid, .depth = 1};
	snprintf(t->m.parent.path, sizeof(t->m.parent.path), "%s", parent);
	assert_int_equal(image_file_hash(p, t->m.parent.hash, err, sizeof(err)), 0);
	for (unsigned i = 0; i < T_RAM_DS; i++)
		t->mem[i].present = bits[i];
}

/* base.img (full) <- d1.img (every page, whole) <- d2.img: of every
 * 3rd page a word changed, every 7th rewritten with 0x33, every 10th
 * zeros, every 11th carried unchanged; d2's even pages as differences. */
static void write_chain(struct t_model *t, uint8_t **bits)
{
	t_model_init(t);
	t->m.image_id = 100;
	write_ok("base.img", &t->m);
	for (unsigned i = 0; i < T_RAM_DS; i++) {
		uint64_t pages = t->mem[i].size / IMAGE_PAGE_SIZE;
		bits[i] = calloc(pages / 8 + 8, 1);
		memset(bits[i], 0xff, pages / 8);
		for (uint64_t p = pages / 8 * 8; p < pages; p++)
			bits[i][p / 8] |= 1 << (p % 8);
		for (uint64_t p = 0; p < pages; p++)
			t->mem[i].data[p * IMAGE_PAGE_SIZE + 17] ^= (uint8_t)(p + 1);
	}
	incremental(t, "base.img", 100, 101, bits);
	write_ok("d1.img", &t->m);
	for (unsigned i = 0; i < T_RAM_DS; i++) {
		uint64_t pages = t->mem[i].size / IMAGE_PAGE_SIZE;
		uint8_t *d = t->mem[i].data;
		parent_mem[i] = malloc(t->mem[i].size);
		memcpy(parent_mem[i], d, t->mem[i].size);
		memset(bits[i], 0, pages / 8 + 8);
		for (uint64_t p = 0; p < pages; p++) {
			uint8_t *pg = d + p * IMAGE_PAGE_SIZE;
			int carry = 1;
			if (p % 10 == 0)
				memset(pg, 0, IMAGE_PAGE_SIZE);
			else if (p % 7 == 0)
				memset(pg, 0x33, IMAGE_PAGE_SIZE);
			else if (p % 3 == 0)
				pg[8 * (p % 512) + 3] ^= 0x5a;
			else
				carry = p % 11 == 0;
			if (carry)
				bits[i][p / 8] |= 1 << (p % 8);
		}
	}
	incremental(t, "d1.img", 101, 102, bits);
	t->m.delta_base = base_of;
	t->m.delta_arg = t;
	asked = 0;
	write_ok("d2.img", &t->m);
	t->m.delta_base = NULL;
}

static void chain_free(struct t_model *t, uint8_t **bits)
{
	for (unsigned i = 0; i < T_RAM_DS; i++) {
		t->mem[i].present = NULL;
		free(bits[i]);
		free(parent_mem[i]);
	}
	t_model_free(t);
}

static void applied(unsigned flags)
{
	struct t_model t;
	uint8_t *bits[T_RAM_DS];
	struct image_model *im;
	char err[512] = "";
	uint64_t n;

	write_chain(&t, bits);
	read_ok("d2.img", flags, &im);
	for (unsigned i = 0; i < T_RAM_DS; i++) {
		const struct image_memory *e = NULL;
		for (uint32_t k = 0; k < im->nmemory; k++)
			if (im->memory[k].ds_id == t.mem[i].ds_id)
				e = &im->memory[k];
		assert_non_null(e);
		assert_true(e->delta_pages > 0);
		assert_true(e->delta_pages < e->pages); /* odd ones whole */
		assert_false(image_memory_whole(im, t.mem[i].ds_id));
		uint8_t *mem = malloc(t.mem[i].size);
		memcpy(mem, parent_mem[i], t.mem[i].size);
		int rc = image_memory_apply(im, t.mem[i].ds_id, mem, t.mem[i].size, &n,
					    err, sizeof(err));
		if (rc)
			fprintf(stderr, "%s\n", err);
		assert_int_equal(rc, 0);
		assert_memory_equal(mem, t.mem[i].data, t.mem[i].size);
		if (flags & IMAGE_READ_STREAM) { /* no parent: no fill */
			assert_int_equal(image_memory_fill(im, t.mem[i].ds_id, mem,
							   t.mem[i].size, &n, err,
							   sizeof(err)),
					 -EINVAL);
			assert_non_null(strstr(err, "page differences"));
		}
		free(mem);
	}
	image_model_free(im);
	chain_free(&t, bits);
}

static void streamed_applied(void **state)
{
	applied(IMAGE_READ_STREAM);
}

static void read_whole_applied(void **state)
{
	applied(0);
}

static void chain_merged(void **state)
{
	struct t_model t;
	uint8_t *bits[T_RAM_DS];
	struct image_model *chain;
	char p[128], err[512] = "";

	write_chain(&t, bits);
	at(p, "d2.img");
	int rc = image_read_chain(p, &chain, err, sizeof(err));
	if (rc)
		fprintf(stderr, "%s\n", err);
	assert_int_equal(rc, 0);
	for (unsigned i = 0; i < T_RAM_DS; i++) {
		unsigned k = 0;
		while (chain->memory[k].ds_id != t.mem[i].ds_id)
			k++;
		assert_null(chain->memory[k].xor);
		assert_memory_equal(chain->memory[k].data, t.mem[i].data, t.mem[i].size);
	}
	image_model_free(chain);
	chain_free(&t, bits);
}

/* The file's first memory section with IMAGE_MEM_XOR and bytes: its
 * offset, or 0. */
static size_t xor_section(const uint8_t *f, size_t size)
{
	size_t off = sizeof(struct image_header);
	while (off + sizeof(struct image_section) <= size) {
		struct image_section h;
		struct image_mem_chunk c;
		memcpy(&h, f + off, sizeof h);
		if (h.type == IMAGE_SEC_memory) {
			memcpy(&c, f + off + sizeof h, sizeof c);
			if ((c.flags & IMAGE_MEM_XOR) && c.nonzero)
				return off;
		}
		off += sizeof h + h.length;
	}
	return 0;
}

/* d2.img with one change in its first difference chunk, the section's
 * checksum made right again: refused with err holding want. */
static void refused_with(int what, const char *want)
{
	struct t_model t;
	uint8_t *bits[T_RAM_DS];
	struct image_model *im = NULL;
	char p[128], err[512] = "";
	struct stat sb;

	write_chain(&t, bits);
	at(p, "d2.img");
	assert_int_equal(stat(p, &sb), 0);
	uint8_t *f = malloc(sb.st_size);
	FILE *fp = fopen(p, "r+");
	assert_int_equal(fread(f, 1, sb.st_size, fp), (size_t)sb.st_size);
	size_t off = xor_section(f, sb.st_size);
	assert_true(off > 0);
	struct image_section h;
	struct image_mem_chunk c;
	memcpy(&h, f + off, sizeof h);
	uint8_t *pay = f + off + sizeof h;
	memcpy(&c, pay, sizeof c);
	if (what == 0) { /* the first run starts past the page */
		uint16_t first = 600;
		memcpy(pay + sizeof c + 2, &first, 2);
	} else if (what == 1) { /* more runs than bytes */
		uint16_t runs = 200;
		memcpy(pay + sizeof c, &runs, 2);
	} else { /* stored raw as well */
		c.flags |= IMAGE_MEM_RAW;
		memcpy(pay, &c, sizeof c);
	}
	h.checksum = image_section_checksum(&h, pay);
	memcpy(f + off, &h, sizeof h);
	rewind(fp);
	assert_int_equal(fwrite(f, 1, sb.st_size, fp), (size_t)sb.st_size);
	fclose(fp);
	free(f);
	assert_int_equal(image_read_flags(p, IMAGE_READ_STREAM, &im, err, sizeof(err)),
			 -EINVAL);
	assert_null(im);
	assert_non_null(strstr(err, want));
	chain_free(&t, bits);
}

static void runs_out_of_page_refused(void **state)
{
	refused_with(0, "page differences not as runs of words");
}

static void runs_beyond_data_refused(void **state)
{
	refused_with(1, "page differences not as runs of words");
}

static void raw_differences_refused(void **state)
{
	refused_with(2, "unknown memory flags");
}

/* The writer asks for each page's base once, for the image's count of
 * sections and its write together (image/memory_plan.c); the image so
 * written reads back as written (streamed_applied, chain_merged). */
static void base_asked_once(void **state)
{
	struct t_model t;
	uint8_t *bits[T_RAM_DS];
	unsigned present = 0;

	write_chain(&t, bits);
	for (unsigned i = 0; i < T_RAM_DS; i++)
		for (uint64_t b = 0; b < t.mem[i].size / IMAGE_PAGE_SIZE / 8 + 8; b++)
			present += (unsigned)__builtin_popcount(bits[i][b]);
	assert_true(present > 0);
	assert_int_equal(asked, present);
	chain_free(&t, bits);
}

/* A full image has no parent to differ from: not written. */
static void full_image_refused(void **state)
{
	struct t_model t;
	char p[128], err[256] = "";

	t_model_init(&t);
	t.m.image_id = 100;
	t.m.delta_base = base_of;
	t.m.delta_arg = &t;
	at(p, "full.img");
	assert_int_equal(image_write(p, &t.m, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "page differences in a full image"));
	t_model_free(&t);
}

/* One page's runs put and applied back give the page, whatever words
 * differ: each single word, each pair of words (runs that touch, run
 * apart by one word, across the 16-word blocks image_xor_put skips when
 * they are the same), the whole page; an unchanged page has no bytes. */
static void put_apply(const uint64_t *page, const uint64_t *base)
{
	static uint8_t out[IMAGE_PAGE_SIZE + 8];
	uint64_t back[IMAGE_PAGE_SIZE / 8];
	size_t n = image_xor_put(out, (const uint8_t *)page, (const uint8_t *)base);

	memcpy(back, base, sizeof back);
	if (!memcmp(page, base, sizeof back)) {
		assert_int_equal(n, 0);
		return;
	}
	assert_true(n > 0 && n <= image_xor_bound(1));
	assert_int_equal(image_xor_apply(out, n, 1, 1, (uint8_t *)back), 0);
	assert_memory_equal(back, page, sizeof back);
}

static void every_word_round_trip(void **state)
{
	enum { W = IMAGE_PAGE_SIZE / 8 };
	static uint64_t base[W], page[W];

	(void)state;
	for (unsigned i = 0; i < W; i++)
		base[i] = 0x9e3779b97f4a7c15ull * (i + 1);
	memcpy(page, base, sizeof page);
	put_apply(page, base);
	for (unsigned i = 0; i < W; i++) {
		page[i] ^= 1ull << (i % 64);
		put_apply(page, base);
		for (unsigned j = i + 1; j < W && j < i + 40; j++) {
			page[j] ^= 0x8000000000000001ull;
			put_apply(page, base);
			page[j] = base[j];
		}
		page[i] = base[i];
	}
	for (unsigned i = 0; i < W; i++)
		page[i] = ~base[i];
	put_apply(page, base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(streamed_applied, setup, teardown),
	    cmocka_unit_test_setup_teardown(read_whole_applied, setup, teardown),
	    cmocka_unit_test_setup_teardown(chain_merged, setup, teardown),
	    cmocka_unit_test_setup_teardown(runs_out_of_page_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(runs_beyond_data_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(raw_differences_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(full_image_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(base_asked_once, setup, teardown),
	    cmocka_unit_test(every_word_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
