/*
 * threads_quota: creates threads until the CPU/PD session refuses one
 * (the component's cap quota is small on purpose), then releases and
 * joins them all, twice.  The refusal must be a clear error (-EDQUOT),
 * and nothing may leak: the second round creates as many threads as the
 * first, and the PD's cap and RAM use and the cap map's used entries are
 * the same before and after each round.  Exits 0 if so, else 1.
 */
#include <base/env.h>
#include <base/sessions.h>
#include <base/thread.h>
#include <errno.h>
#include <stdlib.h>

#define MAX_THREADS 64

static struct blockade gate[MAX_THREADS];
static struct thread *threads[MAX_THREADS];
static volatile unsigned running;

static void parked(void *arg)
{
	struct blockade *b = arg;

	__atomic_add_fetch(&running, 1, __ATOMIC_SEQ_CST);
	blockade_block(b);
}

static unsigned cap_map_used(void)
{
	struct cap_map *m = cap_map();
	unsigned n = 0;

	for (unsigned i = 0; i < CAP_SLOTS; i++)
		n += m->slot[i].id != 0;
	return n;
}

struct usage {
	uint64_t caps, ram;
	unsigned entries;
};

static int usage_get(struct env *env, struct usage *u)
{
	struct pd_quota q;
	int err = pd_quota_get(env->pd, &q);

	u->caps = q.cap_used;
	u->ram = q.ram_used;
	u->entries = cap_map_used();
	return err;
}

static void sleep_us(uint64_t us)
{
	uint64_t label;

	sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), us, &label);
}

/* Create until refused, release and join all; returns how many ran, or
 * -1 if something other than -EDQUOT refused or a join failed. */
static int round_run(struct env *env, int round)
{
	int n = 0, err = 0, bad = 0;

	running = 0;
	while (n < MAX_THREADS) {
		gate[n] = (struct blockade){0};
		err = thread_create(env, "parked", parked, &gate[n], 16 * 1024,
				    &threads[n]);
		if (err)
			break;
		n++;
	}
	env_log(env, "threads_quota: round %d: refused with %d after %d threads", round,
		err, n);
	while (running < (unsigned)n)
		sleep_us(100);
	for (int i = 0; i < n; i++)
		blockade_wakeup(&gate[i]);
	for (int i = 0; i < n; i++)
		bad |= thread_join(threads[i]) != 0;
	return err == -EDQUOT && n > 0 && !bad ? n : -1;
}

void component_construct(struct env *env)
{
	struct usage before, after1, after2;
	int n1, n2, ok;

	free(malloc(32 * 1024)); /* heap grown once, so rounds need no chunk */
	usage_get(env, &before);
	n1 = round_run(env, 1);
	usage_get(env, &after1);
	n2 = round_run(env, 2);
	usage_get(env, &after2);
	ok = n1 > 0 && n1 == n2 && before.caps == after1.caps &&
	     after1.caps == after2.caps && before.ram == after1.ram &&
	     after1.ram == after2.ram && before.entries == after1.entries &&
	     after1.entries == after2.entries;
	env_log(env, "threads_quota: rounds created %d and %d threads", n1, n2);
	env_log(env,
		"threads_quota: caps used %llu/%llu/%llu, ram %llu/%llu/%llu, entries "
		"%u/%u/%u",
		(unsigned long long)before.caps, (unsigned long long)after1.caps,
		(unsigned long long)after2.caps, (unsigned long long)before.ram,
		(unsigned long long)after1.ram, (unsigned long long)after2.ram,
		before.entries, after1.entries, after2.entries);
	env_log(env, "threads_quota: thread_join(NULL) = %d", thread_join(NULL));
	env_log(env, "threads_quota: nothing leaked: %s", ok ? "yes" : "NO");
	env_exit(env, ok ? 0 : 1);
}
