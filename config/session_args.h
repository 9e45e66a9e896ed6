/*
 * Session argument strings as a parent rewrites them (session_args.c):
 * init for its children's requests, the monitor for its group's members.
 */
#ifndef CONFIG_SESSION_ARGS_H
#define CONFIG_SESSION_ARGS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Rewrite args into out: any label removed (the label is init's to give),
 * `native` removed (a child must not make core create a native PD, i.e.
 * host code, on its behalf), with ARGS_DROP_QUOTA also ram_quota and
 * cap_quota (core would take them from init's own quota), and
 * label="label" appended.  0, or -EINVAL for malformed args / -E2BIG if
 * out is too small.
 */
#define ARGS_DROP_QUOTA 1u
int session_args_relabel(const char *args, const char *label, unsigned flags, char *out,
			 size_t size);
/* Value of key label in args into buf; 0, -ENOENT, -EINVAL. */
int session_args_label(const char *args, char *buf, size_t size);
/* ram_quota and cap_quota of args (plain decimal, as core reads them; 0
 * when absent).  0 or -EINVAL. */
int session_args_quota(const char *args, uint64_t *ram, uint64_t *caps);
/* The virtual priority (abi.h, CPU_PRIORITY_LIMIT) at the top of band
 * prio of levels bands: what a child with <start priority="-prio"> gets. */
uint64_t session_args_band(unsigned levels, unsigned prio);
/*
 * Rewrite the args of a child's CPU session request as Genode's init
 * does: the child's "priority" (its own virtual priority, 0 if absent)
 * is shifted into the low bits of its band prio of levels (a power of
 * two), so a child never gets above its parent's band.  Quotas and label
 * are copied as they are.  0, -EINVAL (malformed), -E2BIG.
 */
int session_args_priority(const char *args, unsigned levels, unsigned prio, char *out,
			  size_t size);

#endif
