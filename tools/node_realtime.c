/*
 * `--realtime`: the node's timing-critical host threads under the host's
 * real-time scheduling (docs/design.md "Priorities under host load").
 *
 * A node's kernel is one host thread: it runs the scheduler and every
 * engine, and its run timer (kernel/guest/run_timer.c) is a signal to
 * that same thread.  Under ordinary scheduling a host busy with other
 * processes gives it the CPU late: a 10 ms ticker above busy threads,
 * never 1 ms late on an idle host, was up to 20 ms late on a loaded one,
 * as late as a plain host thread sleeping on its own 10 ms grid in the
 * same process (bench_prio).  So with --realtime the thread that boots
 * the node runs SCHED_RR at NODE_RT_PRIO while the node runs, and the
 * watchdog thread it starts runs SCHED_FIFO one above it (watchdog.c),
 * so that it can stop a run on the same CPU.  Other threads (the control
 * socket's, a restore's host worker) keep ordinary scheduling.
 *
 * Safety: busy guests keep the node's thread busy, now at real-time
 * priority.  The host keeps 5% of each CPU for ordinary tasks
 * (/proc/sys/kernel/sched_rt_runtime_us of sched_rt_period_us, 950000 of
 * 1000000 by default; since Linux 6.12 the fair server enforces it) and
 * took it from a node that never slept in one piece, ~45 ms once a
 * second.  So the node's scheduler, seeing its thread under a real-time
 * policy, rests about 1 part in 11 of its busy time in pieces of
 * 0.3-1 ms between its own deadlines (kernel/sched_rest.c): the host's
 * share is given before it is taken, and no host setting is changed.
 * SCHED_RR rather than FIFO: another real-time thread at the same
 * priority (another node) shares the CPU in turns.
 *
 * No mlockall: every engine reserves a 64 MiB translation buffer
 * (kernel/guest/vspace.c), and MCL_FUTURE counts every such mapping
 * against RLIMIT_MEMLOCK (even with MCL_ONFAULT), so a node of a few
 * components would fail to map memory; the node's memory is touched once
 * and stays resident on a host without swap, which such a deployment is.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/resource.h>

#include "tools/node.h"

/* May this process use real-time priority prio?  With CAP_SYS_NICE, or
 * an RLIMIT_RTPRIO that allows it. */
static bool rt_allowed(int prio)
{
	cap_flag_value_t nice = CAP_CLEAR;
	struct rlimit rl;
	cap_t caps = cap_get_proc();

	if (caps) {
		cap_get_flag(caps, CAP_SYS_NICE, CAP_EFFECTIVE, &nice);
		cap_free(caps);
	}
	if (nice == CAP_SET)
		return true;
	return !getrlimit(RLIMIT_RTPRIO, &rl) &&
	       (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= (rlim_t)prio);
}

int node_realtime_check(char *err, size_t errlen)
{
	if (rt_allowed(NODE_RT_PRIO + 1))
		return 0;
	snprintf(err, errlen,
		 "--realtime needs CAP_SYS_NICE (or an RLIMIT_RTPRIO of at least %d); "
		 "this process has neither",
		 NODE_RT_PRIO + 1);
	return -EPERM;
}

int node_realtime_enter(char *err, size_t errlen)
{
	struct sched_param sp = {.sched_priority = NODE_RT_PRIO};
	int rc;

	if ((rc = node_realtime_check(err, errlen)))
		return rc;
	rc = pthread_setschedparam(pthread_self(), SCHED_RR, &sp);
	if (rc)
		snprintf(err, errlen, "--realtime: SCHED_RR priority %d refused: %s",
			 NODE_RT_PRIO, strerror(rc));
	return -rc;
}

void node_realtime_leave(void)
{
	struct sched_param sp = {.sched_priority = 0};

	pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp);
}
