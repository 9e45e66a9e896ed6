/*
 * cr_x87: a long double computation across checkpoint and restore.  A
 * worker thread sets the x87 control word to round toward zero, then runs
 * CR_ROUNDS identical rounds of x = x * f + f, sum += x in long double
 * (gcc keeps x, f and sum in x87 registers inside the loop) and logs each
 * round's sum as its 80 bits.  Every round must give the bits of the
 * first.  A checkpoint that lands inside a round is restored bit-exactly
 * only if the control word, the status word (TOP), the tags and the data
 * registers travel with the thread; a lost control word rounds to nearest
 * and a lost register stack computes with zeros.
 */
#include <base/env.h>
#include <base/thread.h>
#include <stdint.h>
#include <string.h>

#define CR_ROUNDS 4
#define CR_STEPS  10000000u
#define FPCW_RZ	  0x0f7f /* exceptions masked, 64-bit precision, toward zero */

/* the factor is read through a volatile so that nothing is folded */
static volatile long double factor = 1.0000001L;

/* An 80-bit long double as it lies in memory. */
struct x87_bits {
	uint64_t mant;
	uint16_t sexp; /* sign and exponent */
};

static struct x87_bits round_sum(unsigned steps)
{
	long double f = factor, x = 1.0L, sum = 0.0L;
	struct x87_bits b = {0, 0};

	for (unsigned i = 0; i < steps; i++) {
		x = x * f + f;
		sum += x;
	}
	memcpy(&b.mant, &sum, 8);
	memcpy(&b.sexp, (const char *)&sum + 8, 2);
	return b;
}

static void worker(void *arg)
{
	struct env *env = arg;
	uint16_t cw = FPCW_RZ;
	struct x87_bits first = {0, 0}, b;

	__asm__ volatile("fldcw %0" : : "m"(cw));
	for (int r = 1; r <= CR_ROUNDS; r++) {
		b = round_sum(CR_STEPS);
		env_log(env, "round %d: sum %04x %016llx", r, b.sexp,
			(unsigned long long)b.mant);
		if (r == 1)
			first = b;
		else if (b.mant != first.mant || b.sexp != first.sexp) {
			env_log(env, "cr_x87: round %d differs from round 1", r);
			env_exit(env, 1);
		}
	}
	env_log(env, "cr_x87: %d rounds bit-identical", CR_ROUNDS);
	env_exit(env, 0);
}

void component_construct(struct env *env)
{
	struct thread *t;

	if (thread_create(env, "x87", worker, env, 0, &t)) {
		env_log(env, "cr_x87: cannot start the worker thread");
		env_exit(env, 1);
	}
}
