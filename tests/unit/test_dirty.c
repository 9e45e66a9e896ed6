/*
 * Dirty-page tracking of host memory (core/dirty.h), below core's
 * DS_DIRTY ops: native writes and guest stores from a Unicorn engine mark
 * exactly the pages written, a fetch re-arms, a large dirty set falls back
 * to the whole range, a racing writer loses nothing.  A fault outside
 * tracked memory: test_dirty_segv.c.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <cmocka.h>
#include "guest_snippet.h"
#include "core/dirty.h"
#include "kernel/backend.h"

#define PAGE  DIRTY_PAGE
#define CODE  0x400000ULL
#define DATA  0x600000ULL
#define NDATA 16

static void *pages_map(uint64_t n)
{
	void *p = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	return p;
}

/* The whole bitmap of r (at most 64 * 64 pages here). */
static uint64_t fetch_all(struct dirty_range *r, uint64_t *bits)
{
	uint64_t words = (dirty_pages(r) + 63) / 64, dirty;
	unsigned n = (unsigned)words;

	assert_int_equal(dirty_fetch(r, 0, &n, bits, &dirty), 0);
	assert_int_equal(n, words);
	return dirty;
}

/* bits (of a range of at most 64 pages) as a mask */
static uint64_t mask_of(const int *pages, unsigned n)
{
	uint64_t m = 0;

	for (unsigned i = 0; i < n; i++)
		m |= 1ULL << pages[i];
	return m;
}

/* The process's mappings (VMAs) that overlap [lo, lo + len): only the
 * range under test, so that other mappings made meanwhile (ASan's, the
 * allocator's) do not count. */
static unsigned maps_count(const void *lo, uint64_t len)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long a, b, from = (unsigned long)lo, to = from + len;
	char line[512];
	unsigned n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "%lx-%lx", &a, &b) == 2 && a < to && b > from)
			n++;
	fclose(f);
	return n;
}

/* Native writes: exactly the pages written; reads mark nothing; after a
 * fetch only later writes count; stop makes everything writable. */
static void native_writes(void **state)
{
	uint8_t *m = pages_map(70);
	struct dirty_range *r;
	uint64_t bits[2], dirty;
	unsigned n = 2;
	volatile uint8_t sink;

	m[5 * PAGE] = 9; /* content from before the start stays */
	assert_int_equal(dirty_start(m, 70, m, &r), 0);
	assert_ptr_equal(dirty_find(m), r);
	assert_int_equal(dirty_pages(r), 70);
	sink = m[5 * PAGE] + m[6 * PAGE];
	(void)sink;
	m[0] = 1;
	m[3 * PAGE + 17] = 2;
	m[3 * PAGE + 18] = 3;
	m[69 * PAGE + PAGE - 1] = 4;		 /* the last page: in the second word */
	memset(m + 10 * PAGE + PAGE - 8, 5, 16); /* pages 10 and 11 */
	assert_int_equal(fetch_all(r, bits), 5);
	assert_int_equal(bits[0],
			 (1ULL << 0) | (1ULL << 3) | (1ULL << 10) | (1ULL << 11));
	assert_int_equal(bits[1], 1ULL << (69 - 64));
	assert_int_equal(m[5 * PAGE], 9);
	assert_int_equal(m[3 * PAGE + 17], 2);

	/* second round: page 3 again, page 64; nothing else */
	m[3 * PAGE] = 6;
	m[64 * PAGE] = 7;
	assert_int_equal(fetch_all(r, bits), 2);
	assert_int_equal(bits[0], 1ULL << 3);
	assert_int_equal(bits[1], 1ULL);
	assert_int_equal(fetch_all(r, bits), 0);
	assert_int_equal(bits[0] | bits[1], 0);

	/* a fetch of the second word only re-arms the second word */
	m[1 * PAGE] = 1;
	m[65 * PAGE] = 1;
	n = 1;
	assert_int_equal(dirty_fetch(r, 1, &n, bits, &dirty), 0);
	assert_true(n == 1 && dirty == 1 && bits[0] == 2);
	assert_int_equal(fetch_all(r, bits), 1);
	assert_true(bits[0] == 2 && bits[1] == 0);

	assert_int_equal(dirty_stop(r), 0);
	assert_null(dirty_find(m));
	m[2 * PAGE] = 8; /* writable, no handler involved */
	assert_int_equal(dirty_islands(), 0);
	munmap(m, 70 * PAGE);
}

/* A peek reports what a fetch would and re-arms nothing: the pages stay
 * writable (no fault, no island) and the next fetch reports them again
 * with what was written since. */
static void peek_keeps(void **state)
{
	uint8_t *m = pages_map(70);
	struct dirty_range *r;
	uint64_t bits[2], dirty, islands;
	unsigned n = 2;

	assert_int_equal(dirty_start(m, 70, m, &r), 0);
	m[3 * PAGE] = 1;
	m[66 * PAGE] = 2;
	islands = dirty_islands();
	assert_int_equal(dirty_peek(r, 0, &n, bits, &dirty), 0);
	assert_true(n == 2 && dirty == 2);
	assert_true(bits[0] == 1ULL << 3 && bits[1] == 1ULL << 2);
	m[3 * PAGE + 1] = 3; /* still writable: no fault */
	assert_int_equal(dirty_islands(), islands);
	m[5 * PAGE] = 4;
	assert_int_equal(fetch_all(r, bits), 3);
	assert_true(bits[0] == ((1ULL << 3) | (1ULL << 5)) && bits[1] == 1ULL << 2);
	assert_int_equal(fetch_all(r, bits), 0);
	n = 1;
	assert_int_equal(dirty_peek(r, 2, &n, bits, &dirty), -EINVAL);
	n = 0;
	assert_int_equal(dirty_peek(r, 0, &n, bits, &dirty), -EINVAL);
	assert_int_equal(dirty_stop(r), 0);
	munmap(m, 70 * PAGE);
}

/* Many isolated dirty pages (more runs than one mprotect each is worth):
 * the fetch re-arms them with one call over their span; the clean pages
 * in between stay clean, every re-armed page faults again and is
 * reported again. */
static void span_rearm(void **state)
{
	uint8_t *m = pages_map(128);
	struct dirty_range *r;
	uint64_t bits[2];

	assert_int_equal(dirty_start(m, 128, m, &r), 0);
	for (unsigned p = 3; p < 128; p += 4) /* 32 runs of one page */
		m[p * PAGE] = (uint8_t)p;
	assert_int_equal(fetch_all(r, bits), 32);
	assert_int_equal(bits[0], 0x8888888888888888ULL);
	assert_int_equal(bits[1], 0x8888888888888888ULL);
	assert_int_equal(dirty_islands(), 0);
	assert_int_equal(fetch_all(r, bits), 0); /* nothing written since */
	m[7 * PAGE + 1] = 1;			 /* a re-armed page */
	m[8 * PAGE] = 1;			 /* a page clean all along */
	assert_int_equal(fetch_all(r, bits), 2);
	assert_true(bits[0] == ((1ULL << 7) | (1ULL << 8)) && bits[1] == 0);
	assert_int_equal(m[7 * PAGE], 7);
	assert_int_equal(dirty_stop(r), 0);
	munmap(m, 128 * PAGE);
}

/* Guest code run by a Unicorn engine over the tracked memory: three
 * rounds of stores, each ending with a syscall. */
SNIPPET(g_rounds, "movq $1, 0x600000\n movq $2, 0x603000\n movb $3, 0x603fff\n"
		  " movl $0x04040404, 0x605ffe\n mov 0x607000, %rax\n syscall\n"
		  " movq $5, 0x601000\n movq $6, 0x603008\n syscall\n"
		  " mov $0x608000, %edi\n mov $2048, %ecx\n mov $7, %eax\n rep stosq\n"
		  " syscall\n");

static void guest_run(struct vcpu *cpu)
{
	struct vcpu_trap t;

	for (int i = 0; i < 1000; i++) {
		vcpu_run(cpu, 1000, &t);
		if (t.why != VCPU_PREEMPTED)
			break;
	}
	assert_int_equal(t.why, VCPU_SYSCALL);
}

static void guest_stores(void **state)
{
	uint8_t *code = pages_map(1), *data = pages_map(NDATA);
	const int round1[] = {0, 3, 5, 6}, round3[] = {8, 9, 10, 11};
	struct dirty_range *r;
	struct vspace *vs;
	struct vcpu *cpu;
	struct cpu_regs regs;
	uint64_t bits[1];

	memcpy(code, g_rounds, (size_t)(g_rounds_end - g_rounds));
	assert_int_equal(vspace_create(&vs), 0);
	assert_int_equal(vspace_map(vs, CODE, PAGE, code, MEM_R | MEM_X), 0);
	assert_int_equal(vspace_map(vs, DATA, NDATA * PAGE, data, MEM_R | MEM_W), 0);
	assert_int_equal(vcpu_create(vs, &cpu), 0);
	vcpu_get_regs(cpu, &regs);
	regs.rip = CODE;
	vcpu_set_regs(cpu, &regs);
	assert_int_equal(dirty_start(data, NDATA, data, &r), 0);

	guest_run(cpu);
	assert_int_equal(fetch_all(r, bits), 4);
	assert_int_equal(bits[0], mask_of(round1, 4));
	assert_int_equal(data[0x3fff], 3);
	assert_int_equal(data[0x5fff] + data[0x6000], 8);

	data[15 * PAGE] = 1; /* the node's own write between rounds */
	guest_run(cpu);
	assert_int_equal(fetch_all(r, bits), 3);
	assert_int_equal(bits[0], (1ULL << 1) | (1ULL << 3) | (1ULL << 15));

	guest_run(cpu);
	assert_int_equal(fetch_all(r, bits), 4);
	assert_int_equal(bits[0], mask_of(round3, 4));
	assert_int_equal(((uint64_t *)data)[(11 * PAGE) / 8 + 511], 7);

	assert_int_equal(dirty_stop(r), 0);
	vcpu_destroy(cpu);
	vspace_destroy(vs);
	munmap(code, PAGE);
	munmap(data, NDATA * PAGE);
}

/* More isolated dirty pages than the budget: the range falls back to
 * whole-range tracking, everything reported dirty, VMAs merged again;
 * the next fetch re-arms it page by page as usual. */
static void fallback(void **state)
{
	uint64_t pages = 2 * DIRTY_ISLAND_BUDGET + 64, words = (pages + 63) / 64;
	uint8_t *m = pages_map(pages);
	uint64_t *bits = calloc(words, sizeof(*bits)), dirty;
	unsigned before = maps_count(m, pages * PAGE), n = (unsigned)words;
	struct dirty_range *r;

	assert_non_null(bits);
	assert_int_equal(dirty_start(m, pages, m, &r), 0);
	for (uint64_t p = 0; p < DIRTY_ISLAND_BUDGET; p++)
		m[2 * p * PAGE] = 1; /* every other page: each its own VMA */
	assert_int_equal(dirty_islands(), DIRTY_ISLAND_BUDGET);
	assert_true(maps_count(m, pages * PAGE) > before + DIRTY_ISLAND_BUDGET);
	assert_int_equal(dirty_fallbacks(r), 0);
	m[2 * DIRTY_ISLAND_BUDGET * PAGE + PAGE] = 1; /* one more */
	assert_int_equal(dirty_fallbacks(r), 1);
	assert_int_equal(dirty_islands(), 0);
	assert_true(maps_count(m, pages * PAGE) <= before + 2);
	assert_int_equal(dirty_fetch(r, 0, &n, bits, &dirty), 0);
	assert_int_equal(dirty, pages);
	for (uint64_t w = 0; w < words; w++)
		assert_int_equal(bits[w], ~0ULL);

	m[7 * PAGE] = 2; /* re-armed: tracked page by page again */
	assert_int_equal(dirty_fetch(r, 0, &n, bits, &dirty), 0);
	assert_true(dirty == 1 && bits[0] == 1ULL << 7);
	assert_int_equal(dirty_stop(r), 0);
	munmap(m, pages * PAGE);
	free(bits);
}

/* A writer thread stores into random pages while the main thread fetches
 * and copies the pages each fetch reports into an image, the way an
 * incremental checkpoint would, for RACE_S seconds: after the writer stops
 * and a last round, the image equals the memory. */
#define RACE_PAGES 256
#define RACE_S	   0.2
struct racer {
	volatile uint64_t *mem;
	atomic_int stop;
	atomic_ulong writes;
};

static void *race_writer(void *arg)
{
	struct racer *rc = arg;
	uint64_t x = 0x9e3779b97f4a7c15ULL, seq = 0;

	while (!atomic_load(&rc->stop)) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		seq++;
		rc->mem[(x % RACE_PAGES) * (PAGE / 8) + seq % 512] = seq;
		atomic_store_explicit(&rc->writes, seq, memory_order_relaxed);
	}
	return NULL;
}

/* one fetch (take: dirty_take, the pages copied, then dirty_rearm: the
 * re-arm on a host thread while the writer runs), reported pages copied:
 * how many */
static uint64_t race_round(struct dirty_range *r, const uint8_t *mem, uint8_t *image,
			   int take)
{
	uint64_t bits[RACE_PAGES / 64], dirty;
	unsigned n = RACE_PAGES / 64;

	assert_int_equal(take ? dirty_take(r, 0, &n, bits, &dirty)
			      : dirty_fetch(r, 0, &n, bits, &dirty),
			 0);
	for (unsigned p = 0; p < RACE_PAGES; p++)
		if (bits[p / 64] >> (p % 64) & 1)
			memcpy(image + p * PAGE, mem + p * PAGE, PAGE);
	if (take)
		assert_int_equal(dirty_rearm(r), 0);
	return dirty;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void race(int take)
{
	struct racer rc = {.mem = pages_map(RACE_PAGES)};
	uint8_t *mem = (uint8_t *)rc.mem, *image = calloc(RACE_PAGES, PAGE);
	uint64_t reported = 0;
	struct dirty_range *r;
	pthread_t th;
	double t0;

	assert_non_null(image);
	assert_int_equal(dirty_start(mem, RACE_PAGES, &rc, &r), 0);
	assert_int_equal(pthread_create(&th, NULL, race_writer, &rc), 0);
	while (!atomic_load(&rc.writes))
		sched_yield();
	t0 = now_s();
	while (now_s() - t0 < RACE_S)
		reported += race_round(r, mem, image, take);
	atomic_store(&rc.stop, 1);
	pthread_join(th, NULL);
	race_round(r, mem, image, take);
	assert_true(reported > 0);
	for (unsigned p = 0; p < RACE_PAGES; p++)
		assert_memory_equal(image + p * PAGE, mem + p * PAGE, PAGE);
	assert_int_equal(dirty_stop(r), 0);
	munmap(mem, RACE_PAGES * PAGE);
	free(image);
}

static void racing_writer(void **state)
{
	race(0);
}

/* The same with dirty_take: a write between a take and the re-arm of its
 * page (on the re-armer's thread) is not seen by the fault handler; the
 * next round reports that page again, so the image still ends equal. */
static void racing_writer_take(void **state)
{
	race(1);
}

/* dirty_take: the pages taken are reported again by the next fetch
 * (written after the take or not), and re-armed: once that fetch has
 * re-armed them, only the pages written since are reported. */
static void take_reports_again(void **state)
{
	const uint64_t n = 2048; /* 8 MiB: four re-arm steps */
	uint8_t *p = pages_map(n);
	uint64_t *bits = calloc(n / 64, sizeof *bits), dirty;
	struct dirty_range *r;
	unsigned words;

	(void)state;
	assert_int_equal(dirty_start(p, n, p, &r), 0);
	for (uint64_t i = 0; i < n; i += 100)
		p[i * PAGE] = 1;
	words = n / 64;
	assert_int_equal(dirty_take(r, 0, &words, bits, &dirty), 0);
	assert_int_equal(dirty, (n + 99) / 100);
	p[3 * PAGE] = 2; /* a clean page: faults, reported */
	p[0] = 2;	 /* taken: maybe before its re-arm, reported anyway */
	words = n / 64;
	assert_int_equal(dirty_fetch(r, 0, &words, bits, &dirty), 0);
	assert_int_equal(dirty, (n + 99) / 100 + 1);
	for (uint64_t i = 0; i < n; i++)
		assert_int_equal((bits[i / 64] >> (i % 64)) & 1, i % 100 == 0 || i == 3);
	p[200 * PAGE] = 3; /* re-armed by that fetch: faults */
	words = n / 64;
	assert_int_equal(dirty_fetch(r, 0, &words, bits, &dirty), 0);
	assert_int_equal(dirty, 1);
	assert_int_equal(bits[200 / 64], 1ULL << (200 % 64));
	/* a take is not re-armed before dirty_rearm: a taken page written
	 * then does not fault into the handler, and is reported again */
	p[200 * PAGE] = 5; /* faults: its own island */
	assert_int_equal(dirty_islands(), 1);
	words = n / 64;
	assert_int_equal(dirty_take(r, 0, &words, bits, &dirty), 0);
	assert_int_equal(dirty, 1);
	p[200 * PAGE] = 6; /* still writable */
	assert_int_equal(dirty_islands(), 1);
	words = n / 64;
	assert_int_equal(dirty_take(r, 0, &words, bits, &dirty), 0);
	assert_int_equal(dirty, 1);
	assert_int_equal(bits[200 / 64], 1ULL << (200 % 64));
	assert_int_equal(dirty_rearm(r), 0);
	assert_int_equal(dirty_rearm(r), 0); /* nothing due: nothing done */
	words = n / 64;
	assert_int_equal(dirty_peek(r, 0, &words, bits, &dirty), 0);
	assert_int_equal(dirty, 1); /* the carried page, still reported */
	words = n / 64;		    /* a fetch waits for the re-arm (a peek need not) */
	assert_int_equal(dirty_fetch(r, 0, &words, bits, &dirty), 0);
	assert_int_equal(dirty, 1);
	assert_int_equal(dirty_islands(), 0);
	/* a take, then a stop before the re-arm has ended: joined, writable */
	words = n / 64;
	assert_int_equal(dirty_take(r, 0, &words, bits, &dirty), 0);
	assert_int_equal(dirty_rearm(r), 0);
	assert_int_equal(dirty_stop(r), 0);
	p[(n - 1) * PAGE] = 4;
	assert_int_equal(dirty_islands(), 0);
	free(bits);
	munmap(p, n * PAGE);
}

/* dirty_start_background: a range larger than one protection step; the
 * first fetch waits for the protection, and from it on exactly the pages
 * written are reported, in every step of the range. */
static void background_start(void **state)
{
	const uint64_t n = 4096; /* 16 MiB: eight steps of 2 MiB */
	uint8_t *p = pages_map(n);
	uint64_t *bits = calloc(n / 64, sizeof *bits), dirty;
	struct dirty_range *r;
	unsigned words = n / 64;

	(void)state;
	assert_int_equal(dirty_start_background(p, n, p, &r), 0);
	assert_ptr_equal(dirty_find(p), r);
	p[5 * PAGE] = 1; /* before the first fetch: reported or not */
	assert_int_equal(dirty_fetch(r, 0, &words, bits, &dirty), 0);
	for (uint64_t i = 0; i < n; i += 600)
		p[i * PAGE + 7] = 2;
	words = n / 64;
	assert_int_equal(dirty_fetch(r, 0, &words, bits, &dirty), 0);
	assert_int_equal(dirty, (n + 599) / 600);
	for (uint64_t i = 0; i < n; i++)
		assert_int_equal((bits[i / 64] >> (i % 64)) & 1, i % 600 == 0);
	assert_int_equal(dirty_stop(r), 0);
	/* stopped before the protection ended: joined, writable */
	assert_int_equal(dirty_start_background(p, n, p, &r), 0);
	assert_int_equal(dirty_stop(r), 0);
	p[(n - 1) * PAGE] = 3;
	assert_null(dirty_find(p));
	free(bits);
	munmap(p, n * PAGE);
}

static void bad_arguments(void **state)
{
	uint8_t *m = pages_map(4);
	struct dirty_range *r, *r2;
	uint64_t bits[1], dirty;
	unsigned n = 1;

	assert_int_equal(dirty_start(m + 1, 1, NULL, &r), -EINVAL);
	assert_int_equal(dirty_start(m, 0, NULL, &r), -EINVAL);
	assert_int_equal(dirty_start(m, 4, m, &r), 0);
	assert_int_equal(dirty_start(m, 4, m, &r2), -EBUSY);
	assert_int_equal(dirty_fetch(r, 1, &n, bits, &dirty), -EINVAL);
	n = 0;
	assert_int_equal(dirty_fetch(r, 0, &n, bits, &dirty), -EINVAL);
	n = 5; /* more words than there are: clamped */
	m[PAGE] = 1;
	assert_int_equal(dirty_fetch(r, 0, &n, bits, &dirty), 0);
	assert_true(n == 1 && dirty == 1 && bits[0] == 2);
	assert_int_equal(dirty_stop(r), 0);
	assert_int_equal(dirty_bitmap_bytes(65536), 24576);
	munmap(m, 4 * PAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(native_writes),	  cmocka_unit_test(guest_stores),
	    cmocka_unit_test(fallback),		  cmocka_unit_test(racing_writer),
	    cmocka_unit_test(bad_arguments),	  cmocka_unit_test(background_start),
	    cmocka_unit_test(span_rearm),	  cmocka_unit_test(peek_keeps),
	    cmocka_unit_test(racing_writer_take), cmocka_unit_test(take_reports_again),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
