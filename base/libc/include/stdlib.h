/*
 * Guest libc: memory allocation on libbase's heap, conversions, abort.
 */
#ifndef _CAPSULE_LIBC_STDLIB_H
#define _CAPSULE_LIBC_STDLIB_H

#include <stddef.h>

#define EXIT_SUCCESS 0
#define EXIT_FAILURE 1

/* malloc'd blocks are 16-byte aligned; NULL when the heap is exhausted */
void *malloc(size_t size);
void free(void *p);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t size);

/* halts the calling thread with an illegal-instruction fault */
void abort(void) __attribute__((noreturn));

int atoi(const char *s);
long atol(const char *s);
long strtol(const char *restrict s, char **restrict end, int base);
unsigned long strtoul(const char *restrict s, char **restrict end, int base);
unsigned long long strtoull(const char *restrict s, char **restrict end, int base);

int abs(int x);
long labs(long x);

#endif
