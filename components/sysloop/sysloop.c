/*
 * sysloop: a guest that never blocks but enters the kernel all the time:
 * SYSLOOP_CALLS invalid system calls in a row (each answered at once with
 * an error), then it logs and exits.  Such a loop must be preempted like
 * any other, so that timeouts expire beside it: a ticker started after it
 * finishes its ticks on time while the loop still runs.
 */
#include <base/env.h>

#define SYSLOOP_CALLS 12000000UL
#define OP_INVALID    9 /* no such system call operation */

void component_construct(struct env *env)
{
	uint64_t label, refused = 0;

	env_log(env, "sysloop: %lu invalid system calls", SYSLOOP_CALLS);
	for (unsigned long i = 0; i < SYSLOOP_CALLS; i++)
		refused += TAG_ERROR(sys_invoke(KCAP_NIL, TAG(OP_INVALID, 0, 0, 0), 0,
						&label)) != 0;
	env_log(env, "sysloop: done, %llu refused", (unsigned long long)refused);
	env_exit(env, 0);
}
