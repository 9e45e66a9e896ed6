/*
 * Guest libc: formatting into buffers (no streams: guests log through
 * their LOG session, see base/env.h).
 *
 * Conversions: %d %i %u %x %X %p %s %c %%, length modifiers l, ll, z;
 * flags '-' (left-justify) and '0' (zero-pad); a field width; a precision
 * for strings (%.Ns) and integers (minimum digits).  Return the length the
 * full output would have, like C99.
 */
#ifndef _CAPSULE_LIBC_STDIO_H
#define _CAPSULE_LIBC_STDIO_H

#include <stdarg.h>
#include <stddef.h>

int snprintf(char *restrict buf, size_t size, const char *restrict fmt, ...)
    __attribute__((format(printf, 3, 4)));
int vsnprintf(char *restrict buf, size_t size, const char *restrict fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
