/*
 * tbfill: translates as much distinct code as it can.  It writes a chain
 * of small blocks into a code region (each adds its own constant to %eax
 * and jumps straight to the next, so the emulator chains them), runs the
 * chain, then rewrites every constant and runs it again, PASSES times.
 * Each pass makes the emulator throw away the old translations and make
 * new ones: about 200,000 translations, some 80 MiB of host code, more
 * than an engine's translation buffer holds (64 MiB), so it must be
 * flushed on the way.  The node must serve on; the sum checks that every
 * block ran as last written (a stale translation adds an old constant).
 */
#include <base/env.h>

#define CODE_AT	  0x200000000000ULL
#define CODE_SIZE (1ULL << 20)
#define STRIDE	  16 /* bytes per block */
#define NBLOCKS	  (CODE_SIZE / STRIDE)
#define PASSES	  3

static struct env *tb_env;

static void fail(const char *what, int rc)
{
	env_log(tb_env, "tbfill: %s failed (%d)", what, rc);
	env_exit(tb_env, 1);
}

/* Block i: add $k, %eax; jmp to block i + 1 (the last: ret).  Block 0
 * first clears %eax. */
static void chain_write(uint8_t *code, uint32_t k)
{
	for (uint64_t i = 0; i < NBLOCKS; i++) {
		uint8_t *b = code + i * STRIDE;
		unsigned n = 0;

		if (i == 0) {
			b[n++] = 0x31; /* xor %eax, %eax */
			b[n++] = 0xc0;
		}
		b[n++] = 0x05; /* add $imm32, %eax */
		for (int j = 0; j < 4; j++)
			b[n++] = (uint8_t)(k >> (8 * j));
		if (i + 1 == NBLOCKS) {
			b[n] = 0xc3; /* ret */
			break;
		}
		b[n++] = 0xe9; /* jmp rel32 to the next block */
		uint32_t rel = (uint32_t)(STRIDE - (n + 4));
		for (int j = 0; j < 4; j++)
			b[n++] = (uint8_t)(rel >> (8 * j));
	}
}

void component_construct(struct env *env)
{
	uint64_t got;
	cap_t ds;
	int rc;

	tb_env = env;
	if ((rc = pd_alloc_ram(env->pd, CODE_SIZE, &ds)))
		fail("alloc", rc);
	if ((rc = pd_attach(env->pd, ds, CODE_AT, 0, CODE_SIZE, MEM_R | MEM_W | MEM_X,
			    &got)) ||
	    got != CODE_AT)
		fail("attach", rc ? rc : -1);
	uint8_t *code = (uint8_t *)(uintptr_t)CODE_AT;
	for (uint32_t pass = 1; pass <= PASSES; pass++) {
		chain_write(code, pass);
		uint32_t sum = ((uint32_t(*)(void))(uintptr_t)CODE_AT)();
		if (sum != (uint32_t)(pass * NBLOCKS))
			fail("sum", (int)sum);
	}
	env_log(env, "tbfill: %u passes over %llu blocks", PASSES,
		(unsigned long long)NBLOCKS);
	env_exit(env, 0);
}
