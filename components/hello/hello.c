/*
 * hello: the smallest real component.  Logs one line and exits 0.
 */
#include <base/env.h>

void component_construct(struct env *env)
{
	env_log(env, "Hello from a guest component");
	env_exit(env, 0);
}
