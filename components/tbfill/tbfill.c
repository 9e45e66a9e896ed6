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
 * ROMs "tbfill.kib" and "tbfill.passes" (a decimal number each) change
 * the size of the chain (default 1024 KiB, at most 64 MiB) and the number
 * of passes (default 3); tests/kernel/tbfill.sh runs larger ones.
 */
#include <base/env.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CODE_AT 0x200000000000ULL
#define KIB_MAX (64u << 10)
#define STRIDE	16 /* bytes per block */

static struct env *tb_env;

static void fail(const char *what, int rc)
{
	env_log(tb_env, "tbfill: %s failed (%d)", what, rc);
	env_exit(tb_env, 1);
}

/* Block i of nblocks: add $k, %eax; jmp to block i + 1 (the last: ret).
 * Block 0 first clears %eax. */
static void chain_write(uint8_t *code, uint64_t nblocks, uint32_t k)
{
	for (uint64_t i = 0; i < nblocks; i++) {
		uint8_t *b = code + i * STRIDE;
		unsigned n = 0;

		if (i == 0) {
			b[n++] = 0x31; /* xor %eax, %eax */
			b[n++] = 0xc0;
		}
		b[n++] = 0x05; /* add $imm32, %eax */
		for (int j = 0; j < 4; j++)
			b[n++] = (uint8_t)(k >> (8 * j));
		if (i + 1 == nblocks) {
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
	uint64_t kib = env_rom_number(env, "tbfill.kib", 1024);
	uint64_t passes = env_rom_number(env, "tbfill.passes", 3);
	uint64_t size = kib << 10, nblocks = size / STRIDE, got;
	cap_t ds;
	int rc;

	tb_env = env;
	if (!kib || kib > KIB_MAX || (kib & 3) || !passes || passes > 1000) {
		env_log(env,
			"tbfill: tbfill.kib must be 4..%u and a multiple of 4, "
			"tbfill.passes 1..1000 (got %llu, %llu)",
			KIB_MAX, (unsigned long long)kib, (unsigned long long)passes);
		env_exit(env, 1);
	}
	if ((rc = pd_alloc_ram(env->pd, size, &ds)))
		fail("alloc", rc);
	if ((rc =
		 pd_attach(env->pd, ds, CODE_AT, 0, size, MEM_R | MEM_W | MEM_X, &got)) ||
	    got != CODE_AT)
		fail("attach", rc ? rc : -1);
	uint8_t *code = (uint8_t *)(uintptr_t)CODE_AT;
	for (uint32_t pass = 1; pass <= passes; pass++) {
		chain_write(code, nblocks, pass);
		uint32_t sum = ((uint32_t(*)(void))(uintptr_t)CODE_AT)();
		if (sum != (uint32_t)(pass * nblocks))
			fail("sum", (int)sum);
	}
	env_log(env, "tbfill: %llu passes over %llu blocks", (unsigned long long)passes,
		(unsigned long long)nblocks);
	env_exit(env, 0);
}
