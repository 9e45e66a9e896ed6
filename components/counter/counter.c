/*
 * counter: a well-behaved guest.  Keeps its counter in a heap object,
 * logs "count N" for N = 1..5 and exits 0; exits 1 if the heap object
 * does not hold what was written to it.
 */
#include <base/env.h>
#include <stdlib.h>
#include <string.h>

#define COUNTER_LIMIT 5

/* The counter and a check pattern, both on the heap. */
struct counter {
	int value;
	unsigned char pattern[256];
};

static int pattern_intact(const struct counter *c)
{
	for (unsigned i = 0; i < sizeof c->pattern; i++)
		if (c->pattern[i] != (unsigned char)(i * 7 + 1))
			return 0;
	return 1;
}

void component_construct(struct env *env)
{
	struct counter *c = malloc(sizeof *c);

	if (!c) {
		env_log(env, "counter: out of memory");
		env_exit(env, 1);
	}
	for (unsigned i = 0; i < sizeof c->pattern; i++)
		c->pattern[i] = (unsigned char)(i * 7 + 1);
	for (c->value = 1; c->value <= COUNTER_LIMIT; c->value++)
		env_log(env, "count %d", c->value);
	if (!pattern_intact(c)) {
		env_log(env, "counter: heap object corrupted");
		env_exit(env, 1);
	}
	free(c);
	env_exit(env, 0);
}
