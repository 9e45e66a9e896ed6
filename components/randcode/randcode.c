/*
 * randcode: runs a blob of random bytes, laced with privileged, system
 * and odd instructions, seeded by the badge of its parent capability
 * (init gives each child its own, in config order: each child of one
 * config runs a different blob, the same one every time).  The blob gets
 * random registers, many pointing into a scratch page, and a code page it
 * may write.  Most blobs fault at once: init reports the fault.  A blob
 * that loops (or blocks) is ended by a second thread after BLOB_MS: the
 * component exits with 0.  The node must survive every blob.  The ROM
 * "randcode.seed" (a number, 0 without it) is mixed into every child's
 * seed, so that nodes of the same config run other blobs
 * (tests/kernel/randcode.sh runs many nodes of many children).
 */
#include <base/env.h>
#include <base/thread.h>

#define CODE_AT	 0x200000000000ULL /* far from image, stacks and heap */
#define DATA_AT	 0x200000100000ULL
#define PAGE	 0x1000ULL
#define BLOB_MS	 300
#define NREGS	 16
#define RSP	 4 /* register number of rsp */
#define STACK_SZ 0x4000

/* Encodings spliced into the random bytes. */
static const struct {
	unsigned char len, b[6];
} insns[] = {
    {3, {0x0f, 0x23, 0xf8}},		       /* mov %rax, %dr7 */
    {3, {0x0f, 0x22, 0xc0}},		       /* mov %rax, %cr0 */
    {3, {0x0f, 0x01, 0x10}},		       /* lgdt (%rax) */
    {3, {0x0f, 0x00, 0xd8}},		       /* ltr %ax */
    {2, {0x0f, 0x30}},			       /* wrmsr */
    {3, {0x48, 0x0f, 0x07}},		       /* sysretq */
    {2, {0x0f, 0x34}},			       /* sysenter */
    {2, {0x48, 0xcf}},			       /* iretq */
    {1, {0xcf}},			       /* iret */
    {2, {0xff, 0x18}},			       /* lcall *(%rax) */
    {2, {0x48, 0xcb}},			       /* lretq */
    {1, {0xf1}},			       /* int1 */
    {1, {0xf4}},			       /* hlt */
    {1, {0xfa}},			       /* cli */
    {2, {0xe6, 0x80}},			       /* out %al, $0x80 */
    {1, {0xed}},			       /* in (%dx), %eax */
    {3, {0x0f, 0x01, 0x38}},		       /* invlpg (%rax) */
    {2, {0x0f, 0x09}},			       /* wbinvd */
    {3, {0x0f, 0x01, 0xf8}},		       /* swapgs */
    {3, {0x0f, 0x01, 0xd1}},		       /* xsetbv */
    {2, {0x8e, 0xd0}},			       /* mov %eax, %ss */
    {2, {0x8e, 0xe0}},			       /* mov %eax, %fs */
    {3, {0x0f, 0xae, 0x08}},		       /* fxrstor (%rax) */
    {2, {0xf3, 0xaa}},			       /* rep stosb */
    {2, {0x0f, 0x0b}},			       /* ud2 */
    {6, {0x68, 0x00, 0x32, 0x02, 0x00, 0x9d}}, /* push $0x23200; popf */
};
#define NINSNS (sizeof(insns) / sizeof(insns[0]))

static struct env *rc_env;
static uint64_t rng;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static void fail(const char *what, int rc)
{
	env_log(rc_env, "randcode: %s failed (%d)", what, rc);
	env_exit(rc_env, 1);
}

/* Ends the component if the blob neither faulted nor exited in time. */
static void timeout_thread(void *arg)
{
	uint64_t label;

	sys_invoke(KCAP_NIL, TAG(SYS_OP_WAIT, 0, 0, 0), BLOB_MS * 1000ULL, &label);
	env_log(rc_env, "randcode: blob still running after %u ms", BLOB_MS);
	env_exit(rc_env, 0);
}

/* A page attached at `at` with perm. */
static uint8_t *page_at(uint64_t at, unsigned perm)
{
	uint64_t got;
	cap_t ds;
	int rc;

	if ((rc = pd_alloc_ram(rc_env->pd, PAGE, &ds)))
		fail("alloc", rc);
	if ((rc = pd_attach(rc_env->pd, ds, at, 0, PAGE, perm, &got)) || got != at)
		fail("attach", rc ? rc : -1);
	return (uint8_t *)(uintptr_t)at;
}

/* movabs $v, %reg for every register, then random bytes with an
 * instruction from insns[] every few bytes. */
static void blob_fill(uint8_t *code, uint8_t *data)
{
	unsigned i = 0;

	for (unsigned r = 0; r < NREGS; r++) {
		uint64_t v = r == RSP	 ? DATA_AT + PAGE / 2
			     : rnd() & 1 ? DATA_AT + rnd() % PAGE
					 : rnd();
		code[i++] = r < 8 ? 0x48 : 0x49;
		code[i++] = 0xb8 + (r & 7);
		for (int k = 0; k < 8; k++)
			code[i++] = (uint8_t)(v >> (8 * k));
	}
	for (unsigned j = i; j < PAGE; j++)
		code[j] = (uint8_t)rnd();
	while (i < PAGE) {
		unsigned k = rnd() % NINSNS;
		if (i + insns[k].len > PAGE)
			break;
		for (unsigned j = 0; j < insns[k].len; j++)
			code[i + j] = insns[k].b[j];
		i += insns[k].len + rnd() % 12;
	}
	for (unsigned j = 0; j < PAGE; j++)
		data[j] = (uint8_t)rnd();
}

void component_construct(struct env *env)
{
	uint64_t seed = (cap_badge(env->parent) + 1) * 0x9e3779b97f4a7c15ULL;
	uint64_t mix = env_rom_number(env, "randcode.seed", 0);
	struct thread *t;
	uint8_t *code, *data;
	int rc;

	rc_env = env;
	seed ^= mix * 0xd1b54a32d192ed03ULL; /* 0: the seeds of before */
	rng = seed | 1;
	code = page_at(CODE_AT, MEM_R | MEM_W | MEM_X);
	data = page_at(DATA_AT, MEM_R | MEM_W);
	blob_fill(code, data);
	if ((rc = thread_create(env, "timeout", timeout_thread, NULL, STACK_SZ, &t)))
		fail("thread", rc);
	env_log(env, "randcode: running blob %016llx", (unsigned long long)seed);
	((void (*)(void))(uintptr_t)CODE_AT)();
	/* a blob that returns (through a random `ret`) ends here or anywhere */
	env_log(env, "randcode: the blob returned");
	env_exit(env, 0);
}
