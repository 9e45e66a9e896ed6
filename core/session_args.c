/*
 * Session argument parsing.  Args come from components (through init),
 * so every malformed input is an error code, never a crash.
 */
#include <errno.h>
#include <string.h>
#include "core/session_args.h"

static int is_sep(char c)
{
	return c == ' ' || c == ',' || c == '\t';
}

/* Find the value of key; *len gets its length (quotes included).  NULL if
 * absent or malformed (*err set). */
static const char *arg_find(const char *args, const char *key, unsigned *len, int *err)
{
	size_t klen = strlen(key);
	const char *p = args;

	*err = -ENOENT;
	while (p && *p) {
		const char *name, *val;

		while (is_sep(*p))
			p++;
		if (!*p)
			break;
		name = p;
		while (*p && *p != '=' && !is_sep(*p))
			p++;
		if (*p != '=') {
			*err = -EINVAL;
			return NULL;
		}
		val = ++p;
		if (*p == '"') {
			p = strchr(p + 1, '"');
			if (!p) {
				*err = -EINVAL;
				return NULL;
			}
			p++;
		} else {
			while (*p && !is_sep(*p))
				p++;
		}
		if ((size_t)(val - 1 - name) == klen && !strncmp(name, key, klen)) {
			*len = (unsigned)(p - val);
			*err = 0;
			return val;
		}
	}
	return NULL;
}

int session_arg_str(const char *args, const char *key, char *buf, unsigned size)
{
	unsigned len;
	int err;
	const char *v = arg_find(args, key, &len, &err);

	if (!v)
		return err;
	if (len >= 2 && v[0] == '"') {
		v++;
		len -= 2;
	}
	if (len + 1 > size)
		return -EINVAL;
	memcpy(buf, v, len);
	buf[len] = 0;
	return 0;
}

int session_arg_u64(const char *args, const char *key, uint64_t dflt, uint64_t *val)
{
	unsigned len;
	int err;
	uint64_t x = 0;
	const char *v = arg_find(args, key, &len, &err);

	if (!v) {
		*val = dflt;
		return err == -ENOENT ? 0 : err;
	}
	if (len == 0 || len > 19)
		return -EINVAL;
	for (unsigned i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -EINVAL;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	*val = x;
	return 0;
}
