/* Chains of incremental images (image/chain.c): a chain of three reads as
 * the full model with each page from the newest image that carries it;
 * the parent is found at its recorded path or next to the child; a
 * missing parent, a parent of another hash or id, a loop and a page no
 * image carries are refused naming the file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/stat.h>

#include "test_image_model.h"

#define IMAGE_DIR_TEMPLATE "/tmp/test_image_chain_XXXXXX"
#define IMAGE_DIR_OWN_WRITE
#include "image_dir.h"

static void write_ok(const char *name, const struct image_model *m)
{
	char p[128], err[256] = "";
	at(p, name);
	uint8_t hash[IMAGE_HASH_SIZE], file[IMAGE_HASH_SIZE];
	struct image_model c = *m;
	c.hash_out = hash; /* the hash as written: the file's */
	int rc = image_write(p, &c, NULL, err, sizeof(err));
	if (rc)
		fprintf(stderr, "%s\n", err);
	assert_int_equal(rc, 0);
	assert_int_equal(image_file_hash(p, file, err, sizeof(err)), 0);
	assert_memory_equal(hash, file, IMAGE_HASH_SIZE);
}

/* Make t an incremental child of the image file `parent` (id pid) that
 * carries the pages of `bits` (per RAM dataspace). */
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

/* bits with every k-th page (from `first`) of each RAM dataspace set */
static void every(uint8_t **bits, const struct t_model *t, unsigned k, unsigned first)
{
	for (unsigned i = 0; i < T_RAM_DS; i++) {
		uint64_t pages = t->mem[i].size / IMAGE_PAGE_SIZE;
		bits[i] = calloc(pages / 8 + 8, 1);
		for (uint64_t p = first; p < pages; p += k)
			bits[i][p / 8] |= 1 << (p % 8);
	}
}

static void scribble(struct t_model *t, uint8_t **bits, uint8_t v)
{
	for (unsigned i = 0; i < T_RAM_DS; i++)
		for (uint64_t p = 0; p < t->mem[i].size / IMAGE_PAGE_SIZE; p++)
			if ((bits[i][p / 8] >> (p % 8)) & 1)
				memset(t->mem[i].data + p * IMAGE_PAGE_SIZE, v,
				       IMAGE_PAGE_SIZE);
}

/* base (full) <- d1 (every 3rd page rewritten) <- d2 (every 5th, and
 * one thread's registers changed): the chain reads as d2's records with
 * the memory as it was at d2. */
struct chain {
	struct t_model t;
	uint8_t *b1[T_RAM_DS], *b2[T_RAM_DS];
	uint8_t *want[T_RAM_DS];
};

static void make_chain(struct chain *c)
{
	t_model_init(&c->t);
	c->t.m.image_id = 100;
	write_ok("base.img", &c->t.m);
	every(c->b1, &c->t, 3, 0);
	scribble(&c->t, c->b1, 0x11);
	child_of(&c->t, "base.img", 100, 101, 1, c->b1);
	write_ok("d1.img", &c->t.m);
	every(c->b2, &c->t, 5, 1);
	scribble(&c->t, c->b2, 0x22);
	c->t.t[0].regs.rip ^= 0x1234;
	child_of(&c->t, "d1.img", 101, 102, 2, c->b2);
	write_ok("d2.img", &c->t.m);
	for (unsigned i = 0; i < T_RAM_DS; i++) {
		c->want[i] = malloc(c->t.mem[i].size);
		memcpy(c->want[i], c->t.mem[i].data, c->t.mem[i].size);
	}
}

static void free_chain(struct chain *c)
{
	for (unsigned i = 0; i < T_RAM_DS; i++) {
		c->t.mem[i].present = NULL;
		free(c->b1[i]);
		free(c->b2[i]);
		free(c->want[i]);
	}
	t_model_free(&c->t);
}

static int read_chain(const char *name, struct image_model **o, char *err, size_t n)
{
	char p[128];
	at(p, name);
	err[0] = 0;
	return image_read_chain(p, o, err, n);
}

static void chain_reads_as_full_model(void **state)
{
	struct chain c;
	struct image_model *o;
	char err[512];
	make_chain(&c);
	int rc = read_chain("d2.img", &o, err, sizeof(err));
	if (rc)
		fprintf(stderr, "%s\n", err);
	assert_int_equal(rc, 0);
	assert_int_equal(o->flags, 0);
	assert_int_equal(o->image_id, 102);
	assert_int_equal(o->threads[0].regs.rip, c.t.t[0].regs.rip);
	assert_int_equal(o->nmemory, T_RAM_DS);
	for (unsigned k = 0; k < o->nmemory; k++) {
		unsigned i = 0;
		while (c.t.mem[i].ds_id != o->memory[k].ds_id)
			i++;
		assert_null(o->memory[k].present);
		assert_memory_equal(o->memory[k].data, c.want[i], c.t.mem[i].size);
	}
	image_model_free(o);
	/* a full image reads as itself */
	assert_int_equal(read_chain("base.img", &o, err, sizeof(err)), 0);
	assert_int_equal(o->image_id, 100);
	image_model_free(o);
	free_chain(&c);
}

/* The recorded path is gone, but the parent lies next to the child. */
static void parent_found_next_to_child(void **state)
{
	struct chain c;
	struct image_model *o;
	char err[512], p[128], q[128];
	make_chain(&c);
	/* d3 records an absolute path elsewhere; its parent is in dir */
	at(p, "d2.img");
	c.t.m.flags = IMAGE_F_INCREMENTAL;
	c.t.m.image_id = 103;
	c.t.m.parent_id = 102;
	c.t.m.parent.id = 102;
	c.t.m.parent.depth = 3;
	assert_int_equal(image_file_hash(p, c.t.m.parent.hash, err, sizeof(err)), 0);
	strcpy(c.t.m.parent.path, "/nonexistent/elsewhere/d2.img");
	write_ok("d3.img", &c.t.m);
	int rc = read_chain("d3.img", &o, err, sizeof(err));
	if (rc)
		fprintf(stderr, "%s\n", err);
	assert_int_equal(rc, 0);
	image_model_free(o);
	at(q, "d2.img");
	assert_int_equal(image_parent_find(q, &c.t.m.parent, p, sizeof(p)), 0);
	assert_string_equal(p, q);
	free_chain(&c);
}

static void missing_parent_refused(void **state)
{
	struct chain c;
	struct image_model *o = (void *)1;
	char err[512], p[128];
	make_chain(&c);
	at(p, "d1.img");
	unlink(p);
	assert_int_equal(read_chain("d2.img", &o, err, sizeof(err)), -ENOENT);
	assert_null(o);
	assert_non_null(strstr(err, "d2.img: its parent"));
	assert_non_null(strstr(err, "d1.img is missing"));
	free_chain(&c);
}

/* d1 taken again after d2 was made: same name, another file. */
static void wrong_parent_refused(void **state)
{
	struct chain c;
	struct image_model *o;
	char err[512];
	make_chain(&c);
	for (unsigned i = 0; i < T_RAM_DS; i++)
		free(c.b1[i]);
	every(c.b1, &c.t, 7, 2);
	child_of(&c.t, "base.img", 100, 101, 1, c.b1);
	c.t.t[1].regs.rax++;
	write_ok("d1.img", &c.t.m);
	assert_int_equal(read_chain("d2.img", &o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "d2.img: parent"));
	assert_non_null(strstr(err, "not the image it was taken against"));
	free_chain(&c);
}

/* A parent of the right hash but another id (forged child). */
static void parent_of_other_id_refused(void **state)
{
	struct chain c;
	struct image_model *o;
	char err[512];
	make_chain(&c);
	child_of(&c.t, "base.img", 99, 104, 1, c.b2);
	write_ok("d4.img", &c.t.m);
	assert_int_equal(read_chain("d4.img", &o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is image 100, not 99"));
	free_chain(&c);
}

/* d1 is rewritten to name d2 (right hash) while d2 names d1 (by id:
 * its hash of d1 no longer holds, but the loop is found first). */
static void loop_refused(void **state)
{
	struct chain c;
	struct image_model *o;
	char err[512];
	make_chain(&c);
	child_of(&c.t, "d2.img", 102, 101, 3, c.b1); /* 101 again, parent d2 */
	write_ok("d1.img", &c.t.m);
	assert_int_equal(read_chain("d1.img", &o, err, sizeof(err)), -ELOOP);
	assert_non_null(strstr(err, "d2.img: the chain of parents loops (image id 101"));
	free_chain(&c);
}

/* A dataspace that the base lacks and the child carries only in part. */
static void page_in_no_image_refused(void **state)
{
	struct t_model t;
	struct image_model *o;
	char err[512];
	uint8_t *bits[T_RAM_DS];
	t_model_init(&t);
	t.m.image_id = 200;
	uint64_t id2 = t.mem[2].ds_id;
	t.mem[2].ds_id = t.mem[0].ds_id; /* base: no memory of ds 2 */
	t.m.nmemory = T_RAM_DS - 1;
	write_ok("base.img", &t.m);
	t.mem[2].ds_id = id2;
	t.m.nmemory = T_RAM_DS;
	every(bits, &t, 2, 0);
	child_of(&t, "base.img", 200, 201, 1, bits);
	write_ok("d1.img", &t.m);
	assert_int_equal(read_chain("d1.img", &o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "d1.img: dataspace"));
	assert_non_null(strstr(err, "page 1 is in no image of its chain"));
	for (unsigned i = 0; i < T_RAM_DS; i++) {
		t.mem[i].present = NULL;
		free(bits[i]);
	}
	t_model_free(&t);
}

/* The reader: an incremental image needs its parent record, a full
 * one may not have one. */
static void parent_record_rules(void **state)
{
	struct t_model t;
	char p[128], err[256];
	struct image_model *o;
	t_model_init(&t);
	t.m.flags = IMAGE_F_INCREMENTAL;
	t.m.parent_id = 5;
	at(p, "x.img");
	assert_int_equal(image_write(p, &t.m, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "without its parent record"));
	t.m.parent = (struct image_parent){.id = 6, .hash = {1}, .depth = 1};
	strcpy(t.m.parent.path, "p.img");
	assert_int_equal(image_write(p, &t.m, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "parent id 6, the header's is 5"));
	t.m.parent.id = 5;
	t.m.parent.depth = IMAGE_CHAIN_MAX;
	assert_int_equal(image_write(p, &t.m, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "chain depth"));
	t.m.parent.depth = 1;
	assert_int_equal(image_write(p, &t.m, NULL, err, sizeof(err)), 0);
	assert_int_equal(image_read(p, &o, err, sizeof(err)), 0);
	assert_string_equal(o->parent.path, "p.img");
	image_model_free(o);
	t.m.flags = 0;
	t.m.parent_id = 0;
	assert_int_equal(image_write(p, &t.m, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "a full image names a parent"));
	t_model_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(chain_reads_as_full_model, setup, teardown),
	    cmocka_unit_test_setup_teardown(parent_found_next_to_child, setup, teardown),
	    cmocka_unit_test_setup_teardown(missing_parent_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(wrong_parent_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(parent_of_other_id_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(loop_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(page_in_no_image_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(parent_record_rules, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
