/*
 * image_to_model_zeroed (monitor/image_to_model.c), the model of a
 * migration's restore made from a post-copy skeleton: the records come
 * over, the regions without bytes of their own are marked from_src, and
 * in a zeroed model only the parts written are touched.  The model is
 * 187 KB; clearing it again (image_to_model) touched every page, and on
 * fresh pages that was 90-150 us of a post-copy migration's pause (the
 * monitor takes a model touched before the freeze from its prebuilt copy,
 * or a calloc'd one whose untouched pages stay unmapped).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>
#include "image/image.h"
#include "monitor/image_convert.h"
#include "monitor/model.h"

#define PG 4096ULL

/* A skeleton: two threads, a RAM dataspace of 4 pages attached twice,
 * no memory record (its pages come from the source). */
static struct image_model *skeleton(void)
{
	static struct image_thread th[2];
	static struct image_dataspace ds[1];
	static struct image_region rg[2];
	static struct image_cap cp[5];
	static struct image_model im;

	memset(&im, 0, sizeof im);
	im.flags = IMAGE_F_PARTIAL;
	snprintf(im.component.binary, sizeof im.component.binary, "bench_wset");
	im.component.cap_map_addr = 0x500000;
	for (unsigned i = 0; i < 2; i++) {
		th[i] = (struct image_thread){
		    .nr = i, .state = 1, .utcb_addr = 0x700000 + i * PG};
		th[i].utcb.mr[0] = 0x40 + i;
	}
	ds[0] =
	    (struct image_dataspace){.id = 0x77, .size = 4 * PG, .kind = IMAGE_DS_RAM};
	rg[0] = (struct image_region){.addr = 0x400000, .size = 2 * PG, .ds_id = 0x77};
	rg[1] = (struct image_region){
	    .addr = 0x402000, .size = 2 * PG, .ds_id = 0x77, .offset = 2 * PG};
	cp[0] = (struct image_cap){
	    .kcap = KCAP_THREAD(0, 0), .badge = 0x10, .class = IMAGE_CAP_FIXED};
	cp[1] = (struct image_cap){
	    .kcap = KCAP_THREAD(1, 0), .badge = 0x11, .class = IMAGE_CAP_FIXED, .obj = 1};
	cp[2] = (struct image_cap){
	    .kcap = 0x900, .badge = 0x77, .class = IMAGE_CAP_DATASPACE, .obj = 0x77};
	cp[3] = (struct image_cap){
	    .kcap = 0x901, .badge = 0x12, .class = IMAGE_CAP_THREAD, .obj = 1};
	cp[4] = (struct image_cap){.kcap = 0x902, .badge = 0x13, .class = IMAGE_CAP_DEAD};
	im.threads = th;
	im.nthreads = 2;
	im.dataspaces = ds;
	im.ndataspaces = 1;
	im.regions = rg;
	im.nregions = 2;
	im.caps = cp;
	im.ncaps = 5;
	return &im;
}

/* A model on fresh (unmapped) zero pages, page aligned. */
static struct mon_model *fresh(size_t *len)
{
	void *p;

	*len = (sizeof(struct mon_model) + PG - 1) / PG * PG;
	p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	return p;
}

static unsigned resident(void *p, size_t len)
{
	unsigned char vec[64];
	unsigned n = 0;

	assert_true(len / PG <= sizeof vec);
	assert_int_equal(mincore(p, len, vec), 0);
	for (size_t i = 0; i < len / PG; i++)
		n += vec[i] & 1;
	return n;
}

static void skeleton_model(void **state)
{
	size_t len;
	struct mon_model *m = fresh(&len);

	(void)state;
	assert_int_equal(image_to_model_zeroed(skeleton(), NULL, m), 0);
	assert_string_equal(m->binary, "bench_wset");
	assert_int_equal(m->cap_map_addr, 0x500000);
	assert_int_equal(m->nthreads, 2);
	assert_int_equal(m->thread[1].utcb_data.mr[0], 0x41);
	assert_int_equal(m->thread[1].badge, 0x11);
	assert_int_equal(m->ncaps, 5);
	assert_int_equal(m->cap[2].cls, MON_CLASS_DATASPACE);
	assert_int_equal(m->cap[2].aux, 4 * PG);
	assert_int_equal(m->cap[4].cls, MON_CLASS_SKIPPED);
	assert_int_equal(m->count[MON_CLASS_THREAD], 3);
	assert_int_equal(m->nregions, 2);
	for (unsigned i = 0; i < 2; i++) { /* no bytes: from the source */
		assert_int_equal(m->region[i].from_src, 1);
		assert_null(m->region[i].data);
		assert_int_equal(m->region[i].ds_badge, 0x77);
	}
	assert_int_equal(m->region[1].off, 2 * PG);
	munmap(m, len);
}

/* Of its 46 pages, the header, the threads, the regions, the caps and
 * the counts (the fill's pointers after them) are written: at most 8. */
static void only_what_is_written_is_touched(void **state)
{
	size_t len;
	struct mon_model *m = fresh(&len);
	unsigned n;

	(void)state;
	assert_int_equal(resident(m, len), 0);
	assert_int_equal(image_to_model_zeroed(skeleton(), NULL, m), 0);
	n = resident(m, len);
	print_message("%u of %zu pages of the model touched\n", n, len / (size_t)PG);
	assert_true(n > 0 && n <= 8);
	munmap(m, len);
}

/* The plain one clears a model that may hold anything. */
static void plain_clears(void **state)
{
	struct mon_model *m = malloc(sizeof *m);

	(void)state;
	assert_non_null(m);
	memset(m, 0xa5, sizeof *m);
	assert_int_equal(image_to_model(skeleton(), NULL, m), 0);
	assert_int_equal(m->nrmaps, 0);
	assert_int_equal(m->cap[4095].kcap, 0);
	assert_int_equal(m->npending, 0);
	assert_int_equal(m->ncaps, 5);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(skeleton_model),
	    cmocka_unit_test(only_what_is_written_is_touched),
	    cmocka_unit_test(plain_clears),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
