/*
 * Session argument strings, Genode style: `key=value` pairs separated by
 * spaces or commas, a value either plain (`ram_quota=4096`) or quoted
 * (`label="init -> hello"`, no escapes).
 */
#ifndef CORE_SESSION_ARGS_H
#define CORE_SESSION_ARGS_H

#include <stdint.h>

/* Copy the value of key into buf (NUL-terminated, quotes stripped).
 * 0, -ENOENT if key is absent, -EINVAL if malformed or it does not fit. */
int session_arg_str(const char *args, const char *key, char *buf, unsigned size);
/* Plain decimal value of key; *val = dflt if absent.  0 or -EINVAL. */
int session_arg_u64(const char *args, const char *key, uint64_t dflt, uint64_t *val);

#endif
