/*
 * The frozen memory of a post-copy source (monitor/frozen_memory.c): what
 * the freeze's model had is published with its attachments, so that the
 * migration finds the pages its destination's restore reads without
 * final.img: a target address maps to its dataspace and the offset in it
 * through the regions of the address space (not those of a managed
 * dataspace's map, nor past the attached bytes), and the cap map's and
 * the report's addresses are the model's.  One record per name; a
 * monitor takes one at a time.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "monitor/frozen_memory.h"
#include "monitor/model.h"
#include "monitor/monitor.h"

#define PG 4096ULL

static uint8_t mem_a[4 * PG], mem_b[2 * PG];

/* Dataspace 0xa (4 pages) attached at 0x10000 from its page 1 (3 pages)
 * and, in a managed dataspace's map, at 0x0; dataspace 0xb (2 pages) at
 * 0x40000 by a region of 4 pages (2 past its end). */
static struct mon_model *model(void)
{
	struct mon_model *m = calloc(1, sizeof *m);

	m->region[0] = (struct mon_model_region){
	    .at = 0x10000, .off = PG, .size = 3 * PG, .ds_badge = 0xa, .ds_size = 4 * PG};
	m->region[1] = (struct mon_model_region){
	    .rm = 7, .at = 0, .size = PG, .ds_badge = 0xa, .ds_size = 4 * PG};
	m->region[2] = (struct mon_model_region){
	    .at = 0x40000, .size = 4 * PG, .ds_badge = 0xb, .ds_size = 2 * PG};
	m->nregions = 3;
	m->region[0].stream = m->region[1].stream = mem_a;
	m->region[2].stream = mem_b;
	m->stream_at[0] = (uintptr_t)mem_a;
	m->stream_badge[0] = 0xa;
	m->stream_at[1] = (uintptr_t)mem_b;
	m->stream_badge[1] = 0xb;
	m->nstream = 2;
	m->cap_map_addr = 0x10000 + 0x800;
	m->report_addr = 0x40000 + 0x10;
	return m;
}

static void addresses_map_to_their_dataspaces(void **state)
{
	struct monitor *mon = calloc(1, sizeof *mon);
	struct mon_model *m = model();
	const struct frozen_region *r;
	struct frozen_mem *fm;
	uint64_t off = 0, size = 0, cap_map, report;

	assert_int_equal(frozen_mem_take(mon, m), 0);
	assert_int_equal(m->nstream, 0); /* the record's now */
	assert_null(m->region[0].stream);
	assert_int_equal(frozen_mem_publish(mon, "t1"), 0);
	assert_non_null(fm = frozen_mem_claim("t1"));
	assert_null(frozen_mem_claim("t2"));

	assert_non_null(r = frozen_mem_find(fm, 0x10000 + PG + 5, &off));
	assert_int_equal(r->ds_id, 0xa);
	assert_int_equal(off, 2 * PG + 5); /* the region starts at page 1 */
	assert_ptr_equal(frozen_mem_at(fm, r->ds_id, &size), mem_a);
	assert_int_equal(size, 4 * PG);
	assert_non_null(r = frozen_mem_find(fm, 0x40000 + PG, &off));
	assert_int_equal(r->ds_id, 0xb);
	assert_int_equal(off, PG);
	/* past dataspace 0xb's bytes, though in its region */
	assert_null(frozen_mem_find(fm, 0x40000 + 2 * PG, &off));
	/* before, between and after the regions */
	assert_null(frozen_mem_find(fm, 0xffff, &off));
	assert_null(frozen_mem_find(fm, 0x10000 + 3 * PG, &off));
	assert_null(frozen_mem_find(fm, 0x50000, &off));
	/* address 0 is a managed dataspace's map's, not the target's */
	assert_null(frozen_mem_find(fm, 0x100, &off));

	frozen_mem_addrs(fm, &cap_map, &report);
	assert_int_equal(cap_map, 0x10800);
	assert_int_equal(report, 0x40010);
	assert_int_equal(frozen_mem_hold(fm), 0);
	frozen_mem_release(fm);
	frozen_mem_put(fm);
	free(m);
	free(mon); /* its record stays published (ended by the monitor's end) */
}

static void one_record_per_name_and_monitor(void **state)
{
	struct monitor *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
	struct mon_model *m = model(), *n = model();

	assert_int_equal(frozen_mem_take(a, m), 0);
	assert_int_equal(frozen_mem_take(a, n), -EBUSY);
	assert_int_equal(n->nstream, 2); /* unchanged */
	assert_int_equal(frozen_mem_publish(a, "same"), 0);
	assert_int_equal(frozen_mem_take(b, n), 0);
	assert_int_equal(frozen_mem_publish(b, "same"), -EBUSY);
	assert_int_equal(frozen_mem_publish(b, "other"), 0);
	free(m);
	free(n);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(addresses_map_to_their_dataspaces),
	    cmocka_unit_test(one_record_per_name_and_monitor),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
