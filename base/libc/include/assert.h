/*
 * Guest libc: assert().  A failed assertion halts the thread with an
 * illegal-instruction fault (its parent sees the fault's ip).
 */
#ifndef _CAPSULE_LIBC_ASSERT_H
#define _CAPSULE_LIBC_ASSERT_H

void __assert_fail(const char *expr, const char *file, unsigned line, const char *func)
    __attribute__((noreturn));

#endif

#undef assert
#ifdef NDEBUG
#define assert(e) ((void)0)
#else
#define assert(e) ((e) ? (void)0 : __assert_fail(#e, __FILE__, __LINE__, __func__))
#endif

#if __STDC_VERSION__ >= 201112L && !defined(__cplusplus)
#undef static_assert
#define static_assert _Static_assert
#endif
