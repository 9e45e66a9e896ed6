/*
 * A migration's host threads (the source's sender, the destination's
 * listener) hand its stop over to each other and to the nodes' threads
 * several times: "commit" read, the start answered, "started" read.
 * Each such wake-up found both CPUs of a two-core host busy, one node's
 * thread running its guests and the other's ending the source's copy,
 * and waited for the running thread's slice or the next tick: 1-8 ms of
 * a stop otherwise 1-3 ms long (bench_migrate: "commit until started"
 * was 0.2 ms or 5-10 ms).  A thread with a short slice of the fair
 * scheduler (Linux 6.12 on: sched_attr.sched_runtime of SCHED_OTHER)
 * preempts a busier thread with a longer one when it wakes, so these
 * threads take the CPU at once; their share of the CPU stays the same.
 * Best effort: an older kernel refuses or ignores it, and nothing else
 * changes.  A thread that goes on to long work of its own (the
 * destination removing a spool of some 256 MiB right after it answered
 * the start) takes the default slice back first, so that the thread
 * waiting for that answer preempts it.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "transport/transport.h"

/* the kernel's lower bound of a custom slice (100 us) */
#define TRANSPORT_SLICE_NS 100000ULL

/* struct sched_attr of sched_setattr(2): glibc declares it only from
 * 2.41 on */
struct transport_sched_attr {
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime, deadline, period;
};

void transport_prompt_tid(int tid, int on)
{
	struct transport_sched_attr a;

#ifdef SYS_sched_setattr
	memset(&a, 0, sizeof a);
	if (syscall(SYS_sched_getattr, tid, &a, sizeof a, 0) || a.policy != SCHED_OTHER)
		return; /* a real-time node (--realtime) keeps its policy */
	a.size = sizeof a;
	a.runtime = on ? TRANSPORT_SLICE_NS : 0; /* 0: the default slice */
	(void)syscall(SYS_sched_setattr, tid, &a, 0);
#else
	(void)a;
	(void)tid;
#endif
}

void transport_prompt_thread(int on)
{
	transport_prompt_tid(0, on);
}

int transport_thread_id(void)
{
	return (int)syscall(SYS_gettid);
}
