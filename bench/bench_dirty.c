/*
 * Dirty-page tracking (core/dirty.h), held against references measured in
 * the same run, best of REPS each:
 *
 *   first write to a tracked page (write fault, handler, mprotect of one
 *   page) against a first write to fresh anonymous memory (the kernel's
 *   zero-fill page fault), both over NW pages, every other page so each
 *   tracked page is its own VMA (the worst case);
 *   re-arming those NW pages with one fetch, per page;
 *   arming 256 MiB (all clean, read-only) against memcpy of 256 MiB, for
 *   memory in 4 KiB pages and in transparent huge pages (what a dataspace
 *   a user madvises gets: core aligns big ones to 2 MiB).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>

#include "core/dirty.h"

#define PAGE DIRTY_PAGE
#define NW   8000 /* below DIRTY_ISLAND_BUDGET: no fallback */
#define BIG  (256ULL << 20)
#define REPS 5

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint8_t *map(uint64_t bytes, int populate)
{
	uint8_t *p =
	    mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | (populate ? MAP_POPULATE : 0), -1, 0);

	if (p == MAP_FAILED) {
		perror("bench_dirty: mmap");
		exit(1);
	}
	return p;
}

static void touch_every_other(volatile uint8_t *m)
{
	for (uint64_t i = 0; i < NW; i++)
		m[2 * i * PAGE] = (uint8_t)i;
}

/* seconds for NW first writes to fresh memory */
static double plain_first_writes(void)
{
	uint8_t *m = map(2 * NW * PAGE, 0);
	double t0 = now();

	touch_every_other(m);
	t0 = now() - t0;
	munmap(m, 2 * NW * PAGE);
	return t0;
}

/* seconds for NW first writes to tracked, populated memory; *rearm =
 * seconds of the fetch that re-arms them */
static double tracked_first_writes(double *rearm)
{
	uint64_t pages = 2 * NW, words = (pages + 63) / 64, dirty;
	uint64_t *bits = malloc(words * sizeof(*bits));
	uint8_t *m = map(pages * PAGE, 1);
	struct dirty_range *r;
	unsigned n = (unsigned)words;
	double t0, t1;

	if (!bits || dirty_start(m, pages, m, &r)) {
		fprintf(stderr, "bench_dirty: cannot track %llu pages\n",
			(unsigned long long)pages);
		exit(1);
	}
	t0 = now();
	touch_every_other(m);
	t0 = now() - t0;
	t1 = now();
	if (dirty_fetch(r, 0, &n, bits, &dirty) || dirty != NW) {
		fprintf(stderr, "bench_dirty: fetch saw %llu dirty pages, wrote %d\n",
			(unsigned long long)dirty, NW);
		exit(1);
	}
	*rearm = now() - t1;
	dirty_stop(r);
	munmap(m, pages * PAGE);
	free(bits);
	return t0;
}

static double min_d(double a, double b)
{
	return a < b ? a : b;
}

/* 256 MiB in (if the kernel gives them) huge pages, all touched */
static uint8_t *map_huge(void)
{
	const uint64_t huge = 2ULL << 20;
	uint8_t *p = map(BIG + huge, 0);
	uint8_t *a = (uint8_t *)(((uintptr_t)p + huge - 1) & ~(uintptr_t)(huge - 1));

	madvise(a, BIG, MADV_HUGEPAGE);
	memset(a, 1, BIG);
	return a;
}

/* seconds to arm m (BIG bytes) */
static double arm_big(uint8_t *m)
{
	struct dirty_range *r;
	double t = now();

	if (dirty_start(m, BIG / PAGE, m, &r)) {
		fprintf(stderr, "bench_dirty: cannot track 256 MiB\n");
		exit(1);
	}
	t = now() - t;
	dirty_stop(r);
	return t;
}

int main(void)
{
	uint8_t *big = map(BIG, 1), *src = map(BIG, 1), *dst = map(BIG, 1),
		*huge = map_huge();
	double plain = 1e9, tracked = 1e9, rearm = 1e9, arm = 1e9, arm_huge = 1e9,
	       copy = 1e9;

	memset(src, 0x5a, BIG);
	for (int rep = 0; rep < REPS; rep++) {
		double t, re;

		plain = min_d(plain, plain_first_writes());
		tracked = min_d(tracked, tracked_first_writes(&re));
		rearm = min_d(rearm, re);

		arm = min_d(arm, arm_big(big));
		arm_huge = min_d(arm_huge, arm_big(huge));

		t = now();
		memcpy(dst, src, BIG);
		copy = min_d(copy, now() - t);
	}
	printf("dirty: first write to a tracked page %.2f us, plain first write (page "
	       "fault) %.2f us: ratio %.2f\n",
	       tracked / NW * 1e6, plain / NW * 1e6, tracked / plain);
	printf("dirty: re-arm by fetch %.3f us per dirty page (%d isolated pages)\n",
	       rearm / NW * 1e6, NW);
	printf("dirty: arm 256 MiB %.3f ms, memcpy 256 MiB %.1f ms: ratio %.4f\n",
	       arm * 1e3, copy * 1e3, arm / copy);
	printf("dirty: arm 256 MiB in huge pages %.3f ms: ratio to memcpy %.4f\n",
	       arm_huge * 1e3, arm_huge / copy);
	munmap(big, BIG);
	munmap(src, BIG);
	munmap(dst, BIG);
	return 0;
}
