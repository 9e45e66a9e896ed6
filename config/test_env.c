/*
 * Test switches (test_env.h).  `make` compiles this file twice: into the
 * node binary without CAPSULE_TEST_HOOKS, where a switch set in the
 * environment is reported once and ignored, and into capsule-test with
 * it, where test_env() is getenv().
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/test_env.h"

#ifdef CAPSULE_TEST_HOOKS
const char *test_env(const char *name)
{
	return getenv(name);
}
#else
/* The switches already reported: a handful of names, each once. */
enum { REPORTED_MAX = 32 };
static const char *reported[REPORTED_MAX];
static unsigned nreported;
static pthread_mutex_t reported_lock = PTHREAD_MUTEX_INITIALIZER;

static int report_once(const char *name)
{
	int first = 1;

	pthread_mutex_lock(&reported_lock);
	for (unsigned i = 0; i < nreported; i++)
		if (!strcmp(reported[i], name))
			first = 0;
	if (first && nreported < REPORTED_MAX)
		reported[nreported++] = name;
	pthread_mutex_unlock(&reported_lock);
	return first;
}

const char *test_env(const char *name)
{
	if (getenv(name) && report_once(name))
		fprintf(stderr,
			"capsule: %s is a switch of the test build (capsule-test); "
			"ignored\n",
			name);
	return NULL;
}
#endif
