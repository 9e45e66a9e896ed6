/*
 * sleeper: a component that stays: logs one line and returns from
 * component_construct, so its entrypoint serves (nothing) until the node
 * ends.  Gives `capsule ps` something alive to list (examples/ps-node.xml).
 */
#include <base/env.h>

void component_construct(struct env *env)
{
	env_log(env, "sleeper: up, serving until the node stops");
}
