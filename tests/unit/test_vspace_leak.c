/*
 * An address space made and destroyed leaves nothing in the heap (issue
 * 13: what a guest makes the node allocate is given back).  Each PD
 * session is a task with its own engine, so a guest that opens and
 * closes PD sessions with no quota makes engines as fast as it likes;
 * Unicorn 2.1.1's uc_close kept 48 bytes of each (kernel/guest/vspace.c,
 * the g_array_free wrapper).  ENGINES are made and destroyed after a warm
 * up; the heap's bytes in use may not grow by more than SLACK.  Under
 * AddressSanitizer mallinfo2 does not see its allocator: there its leak
 * check at exit is the test.
 */
#include <malloc.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "kernel/guest/guest.h"

#define WARM	200
#define ENGINES 2000
#define SLACK	(32 * 1024) /* 96 KB leaked before */

static void make_and_destroy(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct vspace *vs;

		assert_int_equal(vspace_create(&vs), 0);
		vspace_destroy(vs);
	}
	malloc_trim(0);
}

static void destroyed_engines_leave_nothing(void **state)
{
	size_t before, after;

	make_and_destroy(WARM);
	before = mallinfo2().uordblks;
	make_and_destroy(ENGINES);
	after = mallinfo2().uordblks;
	print_message("%u engines made and destroyed: heap in use %zu -> %zu bytes\n",
		      ENGINES, before, after);
#if !defined(__SANITIZE_ADDRESS__)
	assert_true(after <= before + SLACK);
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(destroyed_engines_leave_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
