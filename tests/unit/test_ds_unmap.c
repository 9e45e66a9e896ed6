/*
 * A dataspace's host memory given back (core/ds_unmap.c): a small one is
 * unmapped before ds_host_free returns, a large one (4 MiB on) by core's
 * unmapper thread soon after (one thread, started by the first), and
 * many in a row all go.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <cmocka.h>
#include "core/core_internal.h"

/* populated memory of size bytes */
static uint8_t *populated(uint64_t size)
{
	uint8_t *p =
	    mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	memset(p, 0x5a, size);
	return p;
}

/* Is the page at p mapped? (mincore fails with ENOMEM if not) */
static int mapped(const void *p)
{
	unsigned char v;

	return mincore((void *)((uintptr_t)p & ~(uintptr_t)4095), 4096, &v) == 0;
}

/* the process's threads */
static int threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Wait up to 2 s for p to be unmapped: 1 if it was. */
static int gone_soon(const void *p)
{
	for (int i = 0; i < 2000; i++) {
		struct timespec ms = {0, 1000000};

		if (!mapped(p))
			return 1;
		nanosleep(&ms, NULL);
	}
	return 0;
}

static void small_at_once(void **state)
{
	uint8_t *p = populated(1 << 20);

	(void)state;
	ds_host_free(p, 1 << 20);
	assert_false(mapped(p));
}

static void large_soon(void **state)
{
	uint64_t size = 64ULL << 20;
	uint8_t *p = populated(size);
	int before = threads();

	(void)state;
	ds_host_free(p, size);
	assert_int_equal(threads(), before + 1); /* the unmapper */
	assert_true(gone_soon(p));
	assert_true(gone_soon(p + size - 1));
}

static void many_all_go(void **state)
{
	uint8_t *p[8];

	(void)state;
	for (int i = 0; i < 8; i++)
		p[i] = populated(4ULL << 20);
	int before = threads();

	for (int i = 0; i < 8; i++)
		ds_host_free(p[i], 4ULL << 20);
	assert_int_equal(threads(), before); /* the same unmapper */
	for (int i = 0; i < 8; i++)
		assert_true(gone_soon(p[i]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(small_at_once),
	    cmocka_unit_test(large_soon),
	    cmocka_unit_test(many_all_go),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
