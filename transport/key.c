/*
 * The pre-shared key file: one line "capsule-key-1 " and 64 hex digits
 * (32 bytes from randombytes_buf).  It is created 0600 and never
 * overwritten; a key file that group or others may read is refused, as
 * ssh refuses such a private key.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "transport/transport.h"

#define KEY_PREFIX "capsule-key-1 "
#define KEY_LINE   (sizeof(KEY_PREFIX) - 1 + 2 * TRANSPORT_KEY_BYTES + 1)

int key_generate(const char *path, char *err, size_t size)
{
	unsigned char k[TRANSPORT_KEY_BYTES];
	char line[KEY_LINE + 1];
	int fd, ok;

	if (sodium_init() < 0) {
		snprintf(err, size, "%s: libsodium cannot start", path);
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, size, "%s: %s", path, strerror(errno));
		return -1;
	}
	randombytes_buf(k, sizeof k);
	memcpy(line, KEY_PREFIX, sizeof(KEY_PREFIX) - 1);
	sodium_bin2hex(line + sizeof(KEY_PREFIX) - 1, 2 * TRANSPORT_KEY_BYTES + 1, k,
		       sizeof k);
	line[KEY_LINE - 1] = '\n';
	ok = write(fd, line, KEY_LINE) == (ssize_t)KEY_LINE && !fsync(fd);
	if (!ok)
		snprintf(err, size, "%s: %s", path, strerror(errno ? errno : EIO));
	sodium_memzero(k, sizeof k);
	sodium_memzero(line, sizeof line);
	if (close(fd) && ok) {
		snprintf(err, size, "%s: %s", path, strerror(errno));
		ok = 0;
	}
	if (!ok)
		unlink(path);
	return ok ? 0 : -1;
}

int key_load(const char *path, struct transport_key *key, char *err, size_t size)
{
	char line[KEY_LINE + 2];
	const char *end;
	struct stat st;
	size_t len;
	ssize_t n;
	int fd;

	if (sodium_init() < 0) {
		snprintf(err, size, "%s: libsodium cannot start", path);
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		snprintf(err, size, "key %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(err, size,
			 "key %s: group or others may read it (chmod 600 it, or "
			 "make a new one with capsule keygen)",
			 path);
		close(fd);
		return -1;
	}
	n = read(fd, line, sizeof line);
	close(fd);
	len = n > 0 ? (size_t)n : 0;
	if (len != KEY_LINE || memcmp(line, KEY_PREFIX, sizeof(KEY_PREFIX) - 1) ||
	    line[KEY_LINE - 1] != '\n' ||
	    sodium_hex2bin(key->k, sizeof key->k, line + sizeof(KEY_PREFIX) - 1,
			   2 * TRANSPORT_KEY_BYTES, NULL, &len, &end) ||
	    len != TRANSPORT_KEY_BYTES || end != line + KEY_LINE - 1) {
		snprintf(err, size,
			 "key %s: not a capsule key file (make one with "
			 "capsule keygen)",
			 path);
		sodium_memzero(line, sizeof line);
		return -1;
	}
	sodium_memzero(line, sizeof line);
	return 0;
}
