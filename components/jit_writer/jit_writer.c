/*
 * jit_writer: announces "Jit".  It allocates a dataspace, attaches it
 * writable (not executable) and writes into it a chain of blocks: each
 * adds the same constant k to %eax and jumps to the next one, the last
 * returns.  A session hands out the dataspace (JIT_DS) and writes the
 * chain again for a new k (JIT_WRITE).  jit_runner attaches the same
 * dataspace executable and runs it after each write: it must sum what
 * was written last, not the blocks its engine translated before.
 */
#include <base/env.h>
#include <stdlib.h>
#include <string.h>

#include "jit.h"

#define WRITER_AT 0x200000000000ULL

static struct env *jit_env;
static struct rpc_object root_obj, session_obj;
static cap_t code_ds;

/* Block i: add $k, %eax; jmp to block i + 1 (the last: ret); block 0
 * first clears %eax. */
static void chain_write(uint8_t *code, uint32_t k)
{
	for (unsigned i = 0; i < JIT_BLOCKS; i++) {
		uint8_t *b = code + i * JIT_STRIDE;
		unsigned n = 0;
		uint32_t rel;

		if (i == 0) {
			b[n++] = 0x31; /* xor %eax, %eax */
			b[n++] = 0xc0;
		}
		b[n++] = 0x05; /* add $imm32, %eax */
		memcpy(b + n, &k, 4);
		n += 4;
		if (i + 1 == JIT_BLOCKS) {
			b[n] = 0xc3; /* ret */
			break;
		}
		b[n++] = 0xe9; /* jmp rel32 */
		rel = JIT_STRIDE - (n + 4);
		memcpy(b + n, &rel, 4);
	}
}

static void done(void *arg)
{
	env_exit(jit_env, 0);
}

static void session_dispatch(struct rpc_object *obj, struct msg *m)
{
	switch (m->code) {
	case JIT_DS:
		msg_reset(m, RPC_OK);
		msg_put(m, JIT_SIZE);
		msg_put_cap(m, code_ds);
		return;
	case JIT_WRITE:
		if (m->nwords < 1) {
			msg_reset(m, RPC_ERROR);
			msg_put(m, (uint64_t)-22);
			return;
		}
		chain_write((uint8_t *)(uintptr_t)WRITER_AT, (uint32_t)m->w[0]);
		msg_reset(m, RPC_OK);
		return;
	case JIT_DONE:
		msg_reset(m, RPC_OK);
		ep_defer(jit_env->ep, done, NULL);
		return;
	default:
		msg_reset(m, RPC_INVALID_OPCODE);
	}
}

/* One session object for every client. */
static void root_dispatch(struct rpc_object *obj, struct msg *m)
{
	if (m->code != ROOT_SESSION) {
		msg_reset(m, m->code == ROOT_CLOSE ? RPC_OK : RPC_INVALID_OPCODE);
		return;
	}
	msg_reset(m, RPC_OK);
	msg_put_cap(m, session_obj.cap);
}

void component_construct(struct env *env)
{
	uint64_t got;
	int rc;

	jit_env = env;
	if ((rc = pd_alloc_ram(env->pd, JIT_SIZE, &code_ds)) ||
	    (rc = pd_attach(env->pd, code_ds, WRITER_AT, 0, JIT_SIZE, MEM_R | MEM_W,
			    &got)) ||
	    got != WRITER_AT) {
		env_log(env, "jit_writer: dataspace failed (%d)", rc);
		env_exit(env, 1);
	}
	chain_write((uint8_t *)(uintptr_t)WRITER_AT, 0);
	if (!cap_valid(ep_manage(env->ep, &session_obj, session_dispatch)) ||
	    !cap_valid(ep_manage(env->ep, &root_obj, root_dispatch)) ||
	    env_announce(env, "Jit", root_obj.cap)) {
		env_log(env, "jit_writer: cannot announce Jit");
		env_exit(env, 1);
	}
	env_log(env, "jit_writer: Jit announced");
}
