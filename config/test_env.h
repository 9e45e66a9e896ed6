/*
 * Test switches read from the environment (test_env.c): the timing and
 * fault hooks the shell harnesses use to land a kill inside a phase,
 * stall a restore, keep the images in flight, and so on.
 *
 * They act only in the test build (capsule-test, compiled with
 * CAPSULE_TEST_HOOKS).  The node binary (capsule) ignores them, and says
 * so once per switch on stderr, so that a switch left in an operator's
 * environment can neither change a migration nor go unnoticed.
 */
#ifndef CONFIG_TEST_ENV_H
#define CONFIG_TEST_ENV_H

/* The value of switch name (e.g. "CAPSULE_TEST_MIGRATE_HOLD") in the test
 * build, or NULL (always NULL in the node binary). */
const char *test_env(const char *name);

#endif
