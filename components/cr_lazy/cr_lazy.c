/*
 * cr_lazy: a lazy-restore test target (tests/cr/lazy_restore.sh).  It
 * fills LZ_MB MiB in LZ_NDS dataspaces with a pattern (every 8th page
 * left zero), then counts: each count rewrites word 0 of one page and
 * checks every word of the whole buffer against what it must hold, and
 * prints the count with a checksum of the buffer.  Restored lazily, its
 * pages arrive while it runs: a page that came late, twice, from the
 * wrong place, or zero where it must not be, fails the check ("memory
 * damaged", exit 1), and the checksums after the restore equal those of
 * an uninterrupted run.
 */
#include <base/env.h>
#include <base/thread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LZ_MB	 8
#define LZ_NDS	 4
#define LZ_PAGE	 4096ULL
#define LZ_BYTES ((uint64_t)LZ_MB << 20)
#define LZ_DS	 (LZ_BYTES / LZ_NDS)
#define LZ_PAGES (LZ_BYTES / LZ_PAGE)
#define LZ_WORDS (LZ_PAGE / 8)
#define LZ_LIMIT 16
#define LZ_MS	 40

struct lz_state {
	struct env *env;
	uint64_t at[LZ_NDS];
	uint32_t last[LZ_PAGES]; /* the count that last rewrote a page's word 0 */
};

static uint64_t *page_of(const struct lz_state *s, uint64_t p)
{
	uint64_t per = LZ_DS / LZ_PAGE;

	return (uint64_t *)(s->at[p / per] + (p % per) * LZ_PAGE);
}

/* The pattern: zero on every 8th page, else a mix of page and word. */
static uint64_t base(uint64_t p, uint64_t i)
{
	uint64_t x = (p << 20 | i) * 0x9e3779b97f4a7c15ULL;

	return p % 8 == 7 ? 0 : (x ^ x >> 29) | 1;
}

static uint64_t want(const struct lz_state *s, uint64_t p, uint64_t i)
{
	return i || !s->last[p] ? base(p, i) : base(p, 0) ^ ((uint64_t)s->last[p] << 32);
}

/* Every word checked; the checksum of the buffer, or 0 if one differs. */
static uint64_t check(const struct lz_state *s, uint64_t *bad)
{
	uint64_t sum = 0;

	for (uint64_t p = 0; p < LZ_PAGES; p++) {
		const uint64_t *w = page_of(s, p);
		for (uint64_t i = 0; i < LZ_WORDS; i++) {
			if (w[i] != want(s, p, i)) {
				*bad = p * LZ_PAGE + i * 8;
				return 0;
			}
			sum = (sum ^ w[i]) * 0x100000001b3ULL;
		}
	}
	return sum;
}

static void counter(void *arg)
{
	struct lz_state *s = arg;
	uint64_t label, bad = 0, sum;
	char line[96];

	for (uint32_t n = 1; n <= LZ_LIMIT; n++) {
		uint64_t p = (uint64_t)n * 389 % LZ_PAGES;
		s->last[p] = n;
		page_of(s, p)[0] = want(s, p, 0);
		if (!(sum = check(s, &bad))) {
			env_log(s->env, "cr_lazy: memory damaged at byte %llu (count %u)",
				(unsigned long long)bad, n);
			env_exit(s->env, 1);
		}
		snprintf(line, sizeof line, "count %u sum %016llx", n,
			 (unsigned long long)sum);
		log_write(s->env->log, line, strlen(line));
		sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), LZ_MS * 1000, &label);
	}
	env_log(s->env, "cr_lazy: done, %d MiB intact", LZ_MB);
	env_exit(s->env, 0);
}

void component_construct(struct env *env)
{
	struct lz_state *s = calloc(1, sizeof *s);
	struct thread *t;

	if (!s)
		goto err;
	s->env = env;
	for (unsigned d = 0; d < LZ_NDS; d++) {
		cap_t ds;
		if (pd_alloc_ram(env->pd, LZ_DS, &ds) ||
		    pd_attach(env->pd, ds, 0, 0, LZ_DS, MEM_R | MEM_W, &s->at[d]))
			goto err;
	}
	for (uint64_t p = 0; p < LZ_PAGES; p++)
		for (uint64_t i = 0; i < LZ_WORDS; i++)
			page_of(s, p)[i] = base(p, i);
	if (thread_create(env, "counter", counter, s, 0, &t))
		goto err;
	return;
err:
	env_log(env, "cr_lazy: cannot set up %d MiB", LZ_MB);
	env_exit(env, 2);
}
