/*
 * transport/key.c: capsule keygen's key file.  A new key is 0600 and
 * loads back; an existing file is never overwritten; a key others may
 * read, a file of the wrong form or length is refused with one line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "transport/transport.h"

static char dir[] = "/tmp/capsule-key-XXXXXX";

static void path_of(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", dir, name);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static void generate_and_load(void **state)
{
	struct transport_key a, b;
	char p1[128], p2[128], err[TRANSPORT_ERR_MAX];
	struct stat st;

	path_of(p1, sizeof p1, "k1");
	path_of(p2, sizeof p2, "k2");
	assert_int_equal(key_generate(p1, err, sizeof err), 0);
	assert_int_equal(key_generate(p2, err, sizeof err), 0);
	assert_int_equal(stat(p1, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(key_load(p1, &a, err, sizeof err), 0);
	assert_int_equal(key_load(p2, &b, err, sizeof err), 0);
	assert_memory_not_equal(a.k, b.k, sizeof a.k);
	/* never overwritten */
	assert_int_equal(key_generate(p1, err, sizeof err), -1);
	assert_non_null(strstr(err, "File exists"));
	assert_int_equal(key_load(p1, &b, err, sizeof err), 0);
	assert_memory_equal(a.k, b.k, sizeof a.k);
}

static void refused(void **state)
{
	struct transport_key k;
	char p[128], err[TRANSPORT_ERR_MAX];
	const char *good =
	    "capsule-key-1 "
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";

	path_of(p, sizeof p, "k3");
	write_file(p, good, 0600);
	assert_int_equal(key_load(p, &k, err, sizeof err), 0);
	assert_int_equal(k.k[1], 0x11);
	chmod(p, 0644);
	assert_int_equal(key_load(p, &k, err, sizeof err), -1);
	assert_non_null(strstr(err, "others may read it"));
	const char *bad[] = {
	    "", "capsule-key-1 0011\n",
	    "capsule-key-1 "
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeefg\n",
	    "capsule-key-2 "
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
	    "capsule-key-1 "
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\nx"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		write_file(p, bad[i], 0600);
		assert_int_equal(key_load(p, &k, err, sizeof err), -1);
		assert_non_null(strstr(err, "not a capsule key file"));
		assert_null(strchr(err, '\n'));
	}
	path_of(p, sizeof p, "none");
	assert_int_equal(key_load(p, &k, err, sizeof err), -1);
	assert_non_null(strstr(err, "No such file"));
}

static int cleanup(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(generate_and_load),
	    cmocka_unit_test(refused),
	};
	if (!mkdtemp(dir))
		return 1;
	return cmocka_run_group_tests(tests, NULL, cleanup);
}
