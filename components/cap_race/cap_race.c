/*
 * cap_race: several threads of one guest receive and drop capabilities
 * and use the heap at the same time, preempted anywhere by the time
 * slice.  A second entrypoint "giver" serves one object that hands out a
 * shared dataspace cap (OP_GET) and takes a cap from its caller
 * (OP_PUT).  Each of WORKERS threads, ITER times:
 *
 *   pd_alloc_ram      a new badge: a fresh cap map entry (insert)
 *   OP_GET            a known badge: the receive-side dedupe (ref + 1)
 *   OP_PUT (own ds)   the giver receives a known badge, drops it after
 *   pd_free_ram, cap_release   the last reference: the entry is removed
 *   ROM dataspace     core hands every thread the same badge, which no
 *                     one else in the component holds: the threads take
 *                     the entry in and out of the map between them
 *   for more than a time slice, while the ROM dataspace cap is held:
 *                     copies of it taken and dropped (cap_ref,
 *                     cap_release) around some work of its own, and
 *                     malloc / free of blocks filled with a per-thread
 *                     pattern and checked; then it is released
 *
 * A thread is preempted only after it ran a whole time slice without
 * blocking, so the long stretch is where the threads are cut off, inside
 * a refcount update or a heap operation.
 * After joining them: the cap map's own check (cap_map_check), the
 * heap's (heap_check), as many used cap map slots as before and the
 * shared cap's refcount as before.  Logs "cap_race: ... ok" and exits 0,
 * or names what is wrong and exits 1.
 */
#include <base/env.h>
#include <base/thread.h>
#include <stdlib.h>
#include <string.h>

#define WORKERS	   4
#define ITER	   300
#define LIVE	   8 /* heap blocks a worker keeps at once */
#define DS_SIZE	   4096
#define OP_GET	   1
#define OP_PUT	   2
#define BLOCK_MAX  1500
#define ROM_ITER   40
#define CHURN_MIN  200000 /* steps while the ROM dataspace is held */
#define CHURN_VAR  200000
#define HEAP_EVERY 1024

static struct env *the_env;
static struct rpc_object giver_obj;
static cap_t giver, shared, rom;
static uint64_t rom_badge;

static void giver_dispatch(struct rpc_object *obj, struct msg *m)
{
	int ok;

	switch (m->code) {
	case OP_GET:
		msg_reset(m, RPC_OK);
		msg_put_cap(m, shared);
		return;
	case OP_PUT:
		/* the cap must be there under the badge the caller names */
		ok = m->ncaps == 1 && m->nwords == 1 && cap_valid(m->caps[0]) &&
		     cap_badge(m->caps[0]) == m->w[0];
		msg_reset(m, ok ? RPC_OK : RPC_ERROR);
		return;
	default:
		msg_reset(m, RPC_INVALID_OPCODE);
	}
}

struct worker {
	unsigned nr;
	uint32_t rng;
	unsigned errors;
	unsigned received; /* caps received */
	uint64_t sum;	   /* of mix(), so that the work is not optimised away */
	const char *first_error;
	void *live[LIVE];
	unsigned live_size[LIVE];
};

static void fail(struct worker *w, const char *what)
{
	if (!w->errors++)
		w->first_error = what;
}

static uint32_t next_rand(struct worker *w)
{
	w->rng = w->rng * 1103515245u + 12345u;
	return w->rng >> 8;
}

static uint8_t pattern(const struct worker *w, unsigned slot)
{
	return (uint8_t)(0x11 * (w->nr + 1) + slot);
}

/* Check and free the block in slot s (if any), then put a new one there. */
static void heap_step(struct worker *w, unsigned s)
{
	uint8_t *p = w->live[s], want = pattern(w, s);

	for (unsigned i = 0; p && i < w->live_size[s]; i++)
		if (p[i] != want) {
			fail(w, "heap block overwritten");
			break;
		}
	free(p);
	w->live_size[s] = 16 + next_rand(w) % BLOCK_MAX;
	w->live[s] = malloc(w->live_size[s]);
	if (!w->live[s])
		return fail(w, "malloc failed");
	memset(w->live[s], want, w->live_size[s]);
}

static void cap_step(struct worker *w)
{
	struct msg m;
	cap_t ds;

	if (pd_alloc_ram(the_env->pd, DS_SIZE, &ds))
		return fail(w, "pd_alloc_ram failed");
	w->received++;
	msg_reset(&m, OP_GET);
	if (rpc_call(giver, &m) || m.code != RPC_OK || m.ncaps != 1)
		fail(w, "OP_GET failed");
	else if (m.caps[0].idx != shared.idx)
		fail(w, "OP_GET gave another entry than the shared cap's");
	for (unsigned i = 0; i < m.ncaps; i++) {
		w->received++;
		cap_release(m.caps[i]);
	}
	msg_reset(&m, OP_PUT);
	msg_put(&m, cap_badge(ds));
	msg_put_cap(&m, ds);
	if (rpc_call(giver, &m) || m.code != RPC_OK)
		fail(w, "OP_PUT refused");
	if (pd_free_ram(the_env->pd, ds))
		fail(w, "pd_free_ram failed");
	cap_release(ds);
}

/* Some work of the thread's own between two cap operations. */
static uint64_t mix(struct worker *w, unsigned i)
{
	uint64_t x = i ^ w->rng;

	for (unsigned k = 0; k < 1; k++)
		x = (x ^ (x >> 29)) * 0xbf58476d1ce4e5b9ULL;
	return x;
}

/* Take the ROM dataspace, work on the heap while holding it, drop it. */
static void rom_step(struct worker *w)
{
	unsigned churn = CHURN_MIN + next_rand(w) % CHURN_VAR;
	uint64_t size;
	struct msg m;
	cap_t ds;

	if (rom_dataspace(rom, &ds, &size))
		return fail(w, "ROM dataspace failed");
	w->received++;
	if (!cap_valid(ds) || cap_badge(ds) != rom_badge)
		fail(w, "ROM dataspace cap wrong on receipt");
	for (unsigned i = 0; i < churn; i++) {
		/* a copy of the cap kept for a while, as a component keeps
		 * one in its data, and the work it does meanwhile */
		cap_t copy = cap_ref(ds);

		w->sum += mix(w, i);
		if (i % HEAP_EVERY == 0)
			heap_step(w, (i / HEAP_EVERY) % LIVE);
		cap_release(copy);
	}
	msg_reset(&m, OP_PUT);
	msg_put(&m, rom_badge);
	msg_put_cap(&m, ds);
	if (rpc_call(giver, &m) || m.code != RPC_OK)
		fail(w, "OP_PUT of the ROM dataspace refused");
	if (!cap_valid(ds) || cap_badge(ds) != rom_badge)
		fail(w, "ROM dataspace cap lost while held");
	cap_release(ds);
}

static void work(void *arg)
{
	struct worker *w = arg;

	for (unsigned i = 0; i < ITER; i++) {
		cap_step(w);
		heap_step(w, i % LIVE);
	}
	for (unsigned i = 0; i < ROM_ITER; i++)
		rom_step(w);
	for (unsigned s = 0; s < LIVE; s++) {
		free(w->live[s]);
		w->live[s] = NULL;
	}
}

static unsigned used_slots(void)
{
	struct cap_map *cm = cap_map();
	unsigned n = 0;

	for (unsigned i = 0; i < CAP_SLOTS; i++)
		n += cm->slot[i].id != 0;
	return n;
}

static void start(struct env *env)
{
	struct entrypoint *ep;

	if (ep_create(env, "giver", &ep)) {
		env_log(env, "cap_race: cannot create the giver entrypoint");
		env_exit(env, 1);
	}
	giver = ep_manage(ep, &giver_obj, giver_dispatch);
	if (!cap_valid(giver) || pd_alloc_ram(env->pd, DS_SIZE, &shared) ||
	    env_session(env, "ROM", "label=\"cap_race\"", &rom)) {
		env_log(env, "cap_race: cannot set up the giver");
		env_exit(env, 1);
	}
}

/* The ROM dataspace's badge; its cap is not kept. */
static void rom_probe(struct env *env)
{
	uint64_t size;
	cap_t ds;

	if (rom_dataspace(rom, &ds, &size) || !cap_valid(ds)) {
		env_log(env, "cap_race: no ROM dataspace");
		env_exit(env, 1);
	}
	rom_badge = cap_badge(ds);
	cap_release(ds);
}

void component_construct(struct env *env)
{
	static struct worker w[WORKERS];
	struct thread *t[WORKERS];
	unsigned slots, ref, errors = 0, received = 0;
	int bad;

	the_env = env;
	start(env);
	rom_probe(env);
	slots = used_slots();
	ref = shared.idx->ref;
	for (unsigned i = 0; i < WORKERS; i++) {
		w[i] = (struct worker){.nr = i, .rng = 0x9e3779b9u * (i + 1)};
		if (thread_create(env, "worker", work, &w[i], 0, &t[i])) {
			env_log(env, "cap_race: thread_create %u failed", i);
			env_exit(env, 1);
		}
	}
	for (unsigned i = 0; i < WORKERS; i++) {
		thread_join(t[i]);
		errors += w[i].errors;
		received += w[i].received;
		if (w[i].errors)
			env_log(env, "cap_race: worker %u: %u errors, first: %s", i,
				w[i].errors, w[i].first_error);
	}
	bad = errors != 0;
	if (cap_map_check(cap_map())) {
		env_log(env, "cap_race: cap map inconsistent");
		bad = 1;
	}
	if (heap_check()) {
		env_log(env, "cap_race: heap inconsistent");
		bad = 1;
	}
	if (used_slots() != slots || shared.idx->ref != ref) {
		env_log(env, "cap_race: %u slots used (was %u), shared ref %u (was %u)",
			used_slots(), slots, shared.idx->ref, ref);
		bad = 1;
	}
	env_log(env, "cap_race: %u threads received %u caps: %s", WORKERS, received,
		bad ? "WRONG" : "ok");
	env_exit(env, bad);
}
