/*
 * The engine's translation buffer: never full inside a run.
 *
 * When the buffer is full, Unicorn 2.1.1 flushes it from inside the
 * translator, which crashes the whole process (tb_set_jmp_target, unicorn
 * issue #1923): a guest that writes and runs 4 MiB of fresh blocks a few
 * times over brought a node down with a 64 MiB buffer.  So the kernel
 * keeps account of what each engine translated and flushes the buffer
 * itself, between runs, where Unicorn's own uc_emu_start flushes it too:
 *
 *   - every new block is reported by the edge hook (Unicorn calls it
 *     right after translating a block) and counted at an estimate of
 *     its size in the buffer, TB_COST_BLOCK + TB_COST_INSN a guest
 *     instruction;
 *   - a run that translated TB_RUN_BUDGET stops at the next block, like a
 *     preemption (the thread runs on in its next slice);
 *   - before a run, a buffer that holds TB_FLUSH_AT is flushed.
 *
 * So at most TB_FLUSH_AT + TB_RUN_BUDGET + one block are in the buffer.
 *
 * The estimate, against what this engine's setup (virtual TLB, block
 * hook) was measured to use: a block's fixed part 300-400 bytes
 * (TB_COST_BLOCK: 1 KiB), a guest instruction 20-250 bytes (250: one with
 * a memory operand; 16-byte SSE loads and stores the same; TB_COST_INSN:
 * 1 KiB).  One instruction is far larger: `enter` with a nesting level
 * copies up to 31 frame pointers inline, about 6 KiB; every 0xc8 byte of
 * a block (enter's opcode, or any other use of the byte) adds
 * TB_COST_ENTER.  At most a third of the buffer is allowed in estimate,
 * so the buffer fills only if the code costs three times its estimate,
 * five times the worst measured.  One block is at most 64 KiB of host
 * code (Unicorn splits larger ones) plus its search data.
 */
#include <errno.h>
#include "kernel/guest/guest.h"

#define TB_COST_BLOCK 1024ULL
#define TB_COST_INSN  1024ULL
#define TB_COST_ENTER 8192ULL
#define ENTER	      0xc8
#define TB_FLUSH_AT   (GUEST_TCG_BUFFER / 4)
#define TB_RUN_BUDGET (GUEST_TCG_BUFFER / 16)

_Static_assert(TB_FLUSH_AT + TB_RUN_BUDGET <= GUEST_TCG_BUFFER / 3,
	       "the estimate may be a third of the buffer at most");

/* How many bytes of the block [pc, pc + size) are 0xc8 (all of them if
 * it cannot be read). */
static uint64_t tb_enter_bytes(uc_engine *uc, uint64_t pc, uint32_t size)
{
	uint8_t buf[256];
	uint64_t n = 0;

	while (size) {
		uint32_t chunk = size < sizeof buf ? size : (uint32_t)sizeof buf;

		if (uc_mem_read(uc, pc, buf, chunk) != UC_ERR_OK)
			return n + size;
		for (uint32_t i = 0; i < chunk; i++)
			n += buf[i] == ENTER;
		pc += chunk;
		size -= chunk;
	}
	return n;
}

/* A block was translated (Unicorn reports no block before the engine's
 * first: that one is not counted). */
static void hook_tb_new(uc_engine *uc, uc_tb *cur, uc_tb *prev, void *user)
{
	struct guest_tb *tb = &((struct vspace *)user)->tb;
	uint64_t cost = TB_COST_BLOCK + TB_COST_INSN * cur->icount +
			TB_COST_ENTER * tb_enter_bytes(uc, cur->pc, cur->size);

	tb->used += cost;
	tb->run += cost;
	tb->blocks++;
	if (tb->run >= TB_RUN_BUDGET && !tb->stopped) {
		tb->stopped = true;
		uc_emu_stop(uc);
	}
}

int guest_tb_init(struct vspace *vs)
{
	uc_hook h;

	return uc_hook_add(vs->uc, &h, UC_HOOK_EDGE_GENERATED, hook_tb_new, vs, 1, 0)
		   ? -EIO
		   : 0;
}

void guest_tb_run_begin(struct vspace *vs)
{
	struct guest_tb *tb = &vs->tb;

	if (tb->used >= TB_FLUSH_AT) {
		uc_ctl_flush_tb(vs->uc);
		tb->used = 0;
		tb->flushes++;
	}
	tb->run = 0;
	tb->stopped = false;
}

bool guest_tb_stopped(struct vspace *vs)
{
	return vs->tb.stopped;
}
