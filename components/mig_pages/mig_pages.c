/*
 * A migration target whose every page says what it should hold
 * (tests/migrate/live_round.sh): 8 MiB of RAM, each page's 512 words
 * all (page << 32 | pass), rewritten page by page in passes, for ever;
 * after each pass every page is checked.  A page a migration carried
 * torn (read while it was being written) or from an older round (one
 * written after it was copied and not carried again) fails the check:
 * "mig_pages: page P holds ... at pass N" and exit 1.  Logs
 * "mig_pages: pass N" every 16 passes.
 */
#include <base/env.h>

#define PAGES_MB    8
#define PAGE_WORDS  512
#define PAGES_COUNT ((PAGES_MB << 20) / (PAGE_WORDS * 8))

static int check(struct env *env, const uint64_t *mem, uint64_t pass)
{
	for (uint64_t p = 0; p < PAGES_COUNT; p++) {
		const uint64_t want = p << 32 | (pass & 0xffffffffu);
		for (unsigned w = 0; w < PAGE_WORDS; w++)
			if (mem[p * PAGE_WORDS + w] != want) {
				env_log(
				    env,
				    "mig_pages: page %llu holds 0x%llx at word %u, not "
				    "0x%llx, at pass %llu",
				    (unsigned long long)p,
				    (unsigned long long)mem[p * PAGE_WORDS + w], w,
				    (unsigned long long)want, (unsigned long long)pass);
				return -1;
			}
	}
	return 0;
}

void component_construct(struct env *env)
{
	uint64_t bytes = (uint64_t)PAGES_MB << 20, at;
	cap_t ds;

	if (pd_alloc_ram(env->pd, bytes, &ds) ||
	    pd_attach(env->pd, ds, 0, 0, bytes, MEM_R | MEM_W, &at)) {
		env_log(env, "mig_pages: cannot set up %u MiB", PAGES_MB);
		env_exit(env, 2);
		return;
	}
	uint64_t *mem = (uint64_t *)at;
	for (uint64_t pass = 1;; pass++) {
		for (uint64_t p = 0; p < PAGES_COUNT; p++)
			for (unsigned w = 0; w < PAGE_WORDS; w++)
				mem[p * PAGE_WORDS + w] = p << 32 | (pass & 0xffffffffu);
		if (check(env, mem, pass)) {
			env_exit(env, 1);
			return;
		}
		if (pass % 16 == 0)
			env_log(env, "mig_pages: pass %llu", (unsigned long long)pass);
	}
}
