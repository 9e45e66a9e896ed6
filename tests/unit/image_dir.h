/*
 * A temporary directory for the image files of one test (the image
 * unit tests that write and read files: test_image_chain, _delta, _xor).
 * Define IMAGE_DIR_TEMPLATE ("/tmp/test_NAME_XXXXXX") before including;
 * setup/teardown make and remove the directory around each test, at()
 * names a file in it.  write_ok() writes a model there and fails the
 * test with the writer's line if it is refused (a test that needs more,
 * e.g. the written file's hash, defines IMAGE_DIR_OWN_WRITE and its own).
 */
#ifndef TEST_IMAGE_DIR_H
#define TEST_IMAGE_DIR_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[64];

static void at(char *out, const char *name)
{
	snprintf(out, 128, "%s/%s", dir, name);
}

static int setup(void **state)
{
	strcpy(dir, IMAGE_DIR_TEMPLATE);
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) ? -1 : 0;
}

#ifndef IMAGE_DIR_OWN_WRITE
static void write_ok(const char *name, const struct image_model *m)
{
	char p[128], err[256] = "";
	at(p, name);
	int rc = image_write(p, m, NULL, err, sizeof(err));
	if (rc)
		fprintf(stderr, "%s\n", err);
	assert_int_equal(rc, 0);
}
#endif

#endif
