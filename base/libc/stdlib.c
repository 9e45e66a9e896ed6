/*
 * Guest libc: malloc and friends on libbase's heap, number conversions,
 * abort and assert.
 *
 * Every malloc block starts with a 16-byte header holding the size the
 * caller asked for (realloc needs it); heap_alloc returns 16-aligned
 * memory, so the user pointer stays 16-aligned.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <base/env.h>

int errno;

struct malloc_hdr {
	uint64_t size;
	uint64_t magic;
};
#define MALLOC_MAGIC 0x4d414c4cULL

void *malloc(size_t size)
{
	struct malloc_hdr *h;

	if (size > SIZE_MAX - sizeof(*h))
		return NULL;
	h = heap_alloc(size + sizeof(*h));
	if (!h)
		return NULL;
	h->size = size;
	h->magic = MALLOC_MAGIC;
	return h + 1;
}

void free(void *p)
{
	struct malloc_hdr *h = p;

	if (!p)
		return;
	h--;
	if (h->magic != MALLOC_MAGIC)
		abort(); /* not a malloc block, or freed twice */
	h->magic = 0;
	heap_free(h);
}

void *calloc(size_t n, size_t size)
{
	void *p;

	if (size && n > SIZE_MAX / size)
		return NULL;
	p = malloc(n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

void *realloc(void *p, size_t size)
{
	struct malloc_hdr *h = p;
	void *q;

	if (!p)
		return malloc(size);
	if (!size) {
		free(p);
		return NULL;
	}
	if (h[-1].size >= size)
		return p;
	q = malloc(size);
	if (!q)
		return NULL;
	memcpy(q, p, h[-1].size);
	free(p);
	return q;
}

void abort(void)
{
	for (;;)
		__asm__ volatile("ud2");
}

void __assert_fail(const char *expr, const char *file, unsigned line, const char *func)
{
	abort();
}

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	return 99;
}

/* Shared parser: optional space and sign, base prefix; the magnitude
 * saturates at ULLONG_MAX with ERANGE. */
static unsigned long long parse_ull(const char *s, char **end, int base, bool *neg)
{
	const char *p = s, *digits;
	unsigned long long v = 0;
	bool overflow = false;

	while (*p == ' ' || (*p >= '\t' && *p <= '\r'))
		p++;
	*neg = *p == '-';
	if (*p == '-' || *p == '+')
		p++;
	if ((base == 0 || base == 16) && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') &&
	    digit_value(p[2]) < 16) {
		p += 2;
		base = 16;
	} else if (base == 0) {
		base = *p == '0' ? 8 : 10;
	}
	digits = p;
	for (int d; (d = digit_value(*p)) < base; p++) {
		if (v > (ULLONG_MAX - (unsigned)d) / (unsigned)base)
			overflow = true;
		v = v * (unsigned)base + (unsigned)d;
	}
	if (end)
		*end = (char *)(p == digits ? s : p);
	if (overflow) {
		errno = ERANGE;
		return ULLONG_MAX;
	}
	return v;
}

unsigned long long strtoull(const char *restrict s, char **restrict end, int base)
{
	bool neg;
	unsigned long long v = parse_ull(s, end, base, &neg);

	return neg ? -v : v;
}

unsigned long strtoul(const char *restrict s, char **restrict end, int base)
{
	return strtoull(s, end, base);
}

long strtol(const char *restrict s, char **restrict end, int base)
{
	bool neg;
	unsigned long long v = parse_ull(s, end, base, &neg);

	if (!neg && v > LONG_MAX) {
		errno = ERANGE;
		return LONG_MAX;
	}
	if (neg && v > (unsigned long long)LONG_MAX + 1) {
		errno = ERANGE;
		return LONG_MIN;
	}
	return neg ? (long)(0 - v) : (long)v;
}

long atol(const char *s)
{
	return strtol(s, NULL, 10);
}

int atoi(const char *s)
{
	return (int)strtol(s, NULL, 10);
}

int abs(int x)
{
	return x < 0 ? -x : x;
}

long labs(long x)
{
	return x < 0 ? -x : x;
}
