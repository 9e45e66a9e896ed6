/*
 * hostile2: a guest that attacks every interface it can reach, one round
 * per interface (see hostile2.c).  Shared helpers of the rounds.
 */
#ifndef HOSTILE2_H
#define HOSTILE2_H

#include <base/env.h>
#include <base/region_map.h>

#define H2_TIMEOUT 200000 /* µs: no send may block longer than this */

/* One round's tally: requests sent, requests the other side refused. */
struct h2 {
	struct env *env;
	struct utcb *u;
	uint64_t nr; /* thread-area number of the initial thread */
	unsigned req, refused;
};

uint64_t h2_rnd(void);
/* A cap-looking word: garbage, a fixed selector, a low slot or a slot of
 * another thread's area; never one of the caller's vital selectors. */
uint64_t h2_kcap(struct h2 *h);
/* Is kcap one whose loss would legitimately stop this component? */
int h2_vital(struct h2 *h, uint64_t kcap);

/* Well-formed RPC: op with caps[0..nc) and words w[0..nw) to dst.  Counts
 * the request; returns 0 or -errno (reply exception or kernel error).
 * If out is given and the reply carries a cap, it is stored there (the
 * caller owns it), else every reply cap is released. */
int h2_call(struct h2 *h, cap_t dst, uint64_t op, const cap_t *caps, unsigned nc,
	    const uint64_t *w, unsigned nw, cap_t *out);
/* The same with a reply: r gets the reply message (caps released). */
int h2_call_r(struct h2 *h, cap_t dst, uint64_t op, const cap_t *caps, unsigned nc,
	      const uint64_t *w, unsigned nw, struct msg *r);
/* Forged RPC to kcap dst: raw words after the header, map items naming
 * raw kcaps (with a lying badge each).  Returns the result tag. */
uint64_t h2_forge(struct h2 *h, uint64_t dst, uint64_t op, const uint64_t *kcaps,
		  unsigned nk, const uint64_t *w, unsigned nw);
/* Kernel-object call: proto, mr[0..n) -> result tag; counts. */
uint64_t h2_kobj(struct h2 *h, uint64_t kcap, unsigned proto, const uint64_t *mr,
		 unsigned n);
/* Sleep (closed wait on nobody). */
void h2_sleep(uint64_t us);

/* A fresh thread reads (or writes) addr; returns its enum thread_state
 * 20 ms later (~0 if it could not be made), then kills it. */
uint64_t h2_touch(struct h2 *h, uint64_t addr, int write);

void h2_round_end(struct h2 *h, const char *name);

/* the rounds (hostile2_pd.c, hostile2_cpu.c, hostile2_misc.c, hostile2_kernel.c) */
void round_pd(struct h2 *h);
void round_signal(struct h2 *h);
void round_cpu(struct h2 *h);
void round_rm(struct h2 *h);
void round_timer(struct h2 *h);
void round_rom(struct h2 *h);
void round_log(struct h2 *h);
void round_parent(struct h2 *h);
void round_kernel(struct h2 *h);
void round_exc_irq(struct h2 *h);
void round_ipc(struct h2 *h);
void round_uaf(struct h2 *h);
void round_cross_pd(struct h2 *h);
void round_quota_evasion(struct h2 *h);
void round_self(struct h2 *h);

#endif
