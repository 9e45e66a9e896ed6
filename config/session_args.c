/*
 * Session argument strings as a parent (init, the monitor of a group)
 * rewrites them: Genode style
 * `key=value` pairs separated by spaces or commas, values plain or
 * "quoted" (no escapes).  Args come from children: every malformed input
 * is an error, never a crash.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <capsule/abi.h>

#include "config/config.h"
#include "config/session_args.h"

static int is_sep(char c)
{
	return c == ' ' || c == ',' || c == '\t';
}

/* One `key=value` token starting at *p (separators skipped).  Returns 1
 * with key/value spans set, 0 at the end, -EINVAL if malformed. */
static int next_arg(const char **p, const char **key, size_t *klen, const char **val,
		    size_t *vlen)
{
	const char *s = *p;

	while (is_sep(*s))
		s++;
	if (!*s)
		return 0;
	*key = s;
	while (*s && *s != '=' && !is_sep(*s) && *s != '"')
		s++;
	if (*s != '=' || s == *key)
		return -EINVAL;
	*klen = (size_t)(s - *key);
	*val = ++s;
	if (*s == '"') {
		s = strchr(s + 1, '"');
		if (!s)
			return -EINVAL;
		s++;
	} else {
		while (*s && !is_sep(*s) && *s != '"')
			s++;
		if (*s == '"')
			return -EINVAL;
	}
	*vlen = (size_t)(s - *val);
	*p = s;
	return 1;
}

/* 1 if key (klen bytes) is one that relabeling with flags removes. */
static int dropped(const char *key, size_t klen, unsigned flags)
{
	static const char *const always[] = {"label", "native"};
	static const char *const quota[] = {"ram_quota", "cap_quota"};

	for (unsigned i = 0; i < 2; i++) {
		if (klen == strlen(always[i]) && !strncmp(key, always[i], klen))
			return 1;
		if ((flags & ARGS_DROP_QUOTA) && klen == strlen(quota[i]) &&
		    !strncmp(key, quota[i], klen))
			return 1;
	}
	return 0;
}

int session_args_relabel(const char *args, const char *label, unsigned flags, char *out,
			 size_t size)
{
	const char *p = args, *key, *val;
	size_t klen, vlen, used = 0;
	int rc, n;

	if (strchr(label, '"'))
		return -EINVAL;
	while ((rc = next_arg(&p, &key, &klen, &val, &vlen)) == 1) {
		if (dropped(key, klen, flags))
			continue;
		n = snprintf(out + used, size - used, "%.*s=%.*s, ", (int)klen, key,
			     (int)vlen, val);
		if (n < 0 || (size_t)n >= size - used)
			return -E2BIG;
		used += (size_t)n;
	}
	if (rc < 0)
		return rc;
	n = snprintf(out + used, size - used, "label=\"%s\"", label);
	if (n < 0 || (size_t)n >= size - used)
		return -E2BIG;
	return 0;
}

int session_args_label(const char *args, char *buf, size_t size)
{
	const char *p = args, *key, *val;
	size_t klen, vlen;
	int rc;

	while ((rc = next_arg(&p, &key, &klen, &val, &vlen)) == 1) {
		if (klen != 5 || strncmp(key, "label", 5))
			continue;
		if (vlen >= 2 && val[0] == '"') {
			val++;
			vlen -= 2;
		}
		if (vlen >= size)
			return -EINVAL;
		memcpy(buf, val, vlen);
		buf[vlen] = 0;
		return 0;
	}
	return rc < 0 ? rc : -ENOENT;
}

/* Value of key as a size (0 if absent); 0 or -EINVAL. */
static int args_size(const char *args, const char *key, uint64_t *out)
{
	const char *p = args, *k, *val;
	size_t klen, vlen;
	char buf[32];
	int rc;

	*out = 0;
	while ((rc = next_arg(&p, &k, &klen, &val, &vlen)) == 1) {
		if (klen != strlen(key) || strncmp(k, key, klen))
			continue;
		if (vlen >= 2 && val[0] == '"') {
			val++;
			vlen -= 2;
		}
		if (vlen >= sizeof buf)
			return -EINVAL;
		memcpy(buf, val, vlen);
		buf[vlen] = 0;
		/* plain decimal, as core reads it */
		if (strspn(buf, "0123456789") != vlen)
			return -EINVAL;
		return config_parse_size(buf, out);
	}
	return rc;
}

int session_args_quota(const char *args, uint64_t *ram, uint64_t *caps)
{
	int rc = args_size(args, "ram_quota", ram);

	return rc ? rc : args_size(args, "cap_quota", caps);
}

/* floor(log2(x)) for a power of two x */
static unsigned log2_pow2(unsigned x)
{
	unsigned l = 0;

	while (x > 1) {
		x >>= 1;
		l++;
	}
	return l;
}

uint64_t session_args_band(unsigned levels, unsigned prio)
{
	if (!levels) /* a config not read by config_load */
		levels = 1;
	if (prio >= levels) /* config_load refuses it; the lowest band */
		prio = levels - 1;
	return (uint64_t)prio * (CPU_PRIORITY_LIMIT / levels);
}

int session_args_priority(const char *args, unsigned levels, unsigned prio, char *out,
			  size_t size)
{
	const char *p = args, *key, *val;
	size_t klen, vlen, used = 0;
	uint64_t want;
	int rc, n;

	if ((rc = args_size(args, "priority", &want)))
		return rc;
	if (want >= CPU_PRIORITY_LIMIT)
		want = CPU_PRIORITY_LIMIT - 1;
	if (!levels)
		levels = 1;
	/* the child's own priority space goes into the low bits of its band */
	want = (want >> log2_pow2(levels)) | session_args_band(levels, prio);
	while ((rc = next_arg(&p, &key, &klen, &val, &vlen)) == 1) {
		if (klen == 8 && !strncmp(key, "priority", 8))
			continue;
		n = snprintf(out + used, size - used, "%.*s=%.*s, ", (int)klen, key,
			     (int)vlen, val);
		if (n < 0 || (size_t)n >= size - used)
			return -E2BIG;
		used += (size_t)n;
	}
	if (rc < 0)
		return rc;
	n = snprintf(out + used, size - used, "priority=%llu", (unsigned long long)want);
	return n < 0 || (size_t)n >= size - used ? -E2BIG : 0;
}
