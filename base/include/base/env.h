/*
 * The component environment and the component entry point.
 *
 * A component is C code with one entry:
 *
 *     void component_construct(struct env *env);
 *
 * libbase calls it on the component's entrypoint thread after it has set
 * up the cap map (and reported its address to core), the parent cap at
 * FIXED_PARENT, the env sessions (PD, CPU, LOG, ROM of the binary) and the
 * heap.  When it returns, the entrypoint serves RPCs until env_exit().
 */
#ifndef BASE_ENV_H
#define BASE_ENV_H

#include <stddef.h>
#include <base/entrypoint.h>
#include <base/sessions.h>

struct env {
	struct entrypoint *ep;
	cap_t parent;	   /* at FIXED_PARENT */
	cap_t pd;	   /* PD session */
	cap_t cpu;	   /* CPU session */
	cap_t log;	   /* LOG session */
	const char *label; /* this component's label (from the parent) */
};

void component_construct(struct env *env);

/* formatted line to the LOG session ("[label] " is added by core) */
void env_log(struct env *env, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* parent.session(): route a session request; 0 or -errno */
int env_session(struct env *env, const char *service, const char *args, cap_t *out);
int env_announce(struct env *env, const char *service, cap_t root);
/* The decimal number in ROM label (a component's tunable: a size, a
 * count, a wait), or dflt if there is no such ROM.  Nothing of the ROM
 * stays open or attached, so a checkpoint finds no trace of it. */
uint64_t env_rom_number(struct env *env, const char *label, uint64_t dflt);
/* parent.exit(code); never returns */
void env_exit(struct env *env, int code) __attribute__((noreturn));

/* Guest entry of libbase, called by crt0 with the startup_info the parent
 * wrote on the initial stack (checked by its magic): sets everything up,
 * calls component_construct, serves the entrypoint, and reports exit 0
 * to the parent when the entrypoint's exit cap is invoked. */
void base_start(const struct startup_info *si);

/* heap: backed by PD RAM dataspaces attached to the address space */
void *heap_alloc(uint64_t size);
void heap_free(void *p);
/* Consistency of the heap's free list (sorted, coalesced, aligned, within
 * the heap's chunks); 0 if consistent. */
int heap_check(void);

#endif
