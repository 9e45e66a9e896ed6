/*
 * hostile2 rounds on core's RM, Timer, ROM and LOG sessions and on the
 * parent interface.
 */
#include <errno.h>
#include <string.h>
#include <base/region_map.h>
#include <base/timer.h>
#include "hostile2.h"

#define SESSION_STORM 1000
#define UPGRADE_STORM 1000
static void rm_regions(struct h2 *h, cap_t a, cap_t b)
{
	cap_t bad[] = {h->env->log, h->env->parent, h->env->pd, CAP_INVALID};
	struct region_fault f;
	cap_t da, db;
	uint64_t at;

	if (region_dataspace(a, &da) || region_dataspace(b, &db))
		return;
	h->req += 2;
	/* itself into itself, then a cycle a -> b -> a */
	h->refused += !!region_attach(a, da, 0, 0, 0, MEM_R | MEM_W, &at);
	h->refused += !!region_attach(a, db, 0x1000, 0, 0x4000, MEM_R | MEM_W, &at);
	h->refused += !!region_attach(b, da, 0x2000, 0, 0x4000, MEM_R | MEM_W, &at);
	h->req += 3;
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		h->req += 2;
		h->refused += !!region_fault_handler(a, bad[i]);
		h->refused += !!region_attach(b, bad[i], REGION_ANY, 0, 0, MEM_R, &at);
	}
	for (unsigned i = 0; i < 50; i++) {
		uint64_t k = h2_kcap(h), w[4] = {h2_rnd(), h2_rnd(), h2_rnd(), h2_rnd()};

		h2_forge(h, cap_kcap(a), 1 + i % 6, &k, 1, w, i % 5);
		h->req++;
		h->refused += !!region_detach(b, i & 1 ? h2_rnd() : ~0ULL - i);
	}
	/* the cycle, attached into our own address space, then read */
	if (!pd_attach(h->env->pd, db, 0, 0, 0, MEM_R, &at)) {
		for (unsigned i = 0; i < 2; i++)
			env_log(h->env,
				"hostile2: rm: reader of a region-map cycle: state %llu",
				(unsigned long long)h2_touch(h, at + (i ? 0x100 : 0x3000),
							     0));
		region_state(a, &f);
		region_state(b, &f);
		pd_detach(h->env->pd, at);
	}
	h->req++;
	cap_release(da);
	cap_release(db);
}

void round_rm(struct h2 *h)
{
	static const uint64_t sizes[] = {0,	     1,		 0xfff,	   ~0ULL,
					 1ULL << 47, 1ULL << 40, ~0xfffULL};
	cap_t rm, a, b, as = CAP_INVALID, st = CAP_INVALID;

	if (env_session(h->env, "RM", "", &rm)) {
		env_log(h->env, "hostile2: no RM session");
		return;
	}
	for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		cap_t r;

		if (!h2_call(h, rm, RM_CREATE, NULL, 0, &sizes[i], 1, &r)) {
			h2_call(h, rm, RM_DESTROY, &r, 1, NULL, 0, NULL);
			h2_call(h, rm, RM_DESTROY, &r, 1, NULL, 0, NULL);
			cap_release(r);
		}
	}
	/* destroying the address space of our PD through an RM session */
	h2_call(h, h->env->pd, PD_ADDRESS_SPACE, NULL, 0, NULL, 0, &as);
	h2_call(h, h->env->pd, PD_STACK_AREA, NULL, 0, NULL, 0, &st);
	h2_call(h, rm, RM_DESTROY, &as, 1, NULL, 0, NULL);
	h2_call(h, rm, RM_DESTROY, &st, 1, NULL, 0, NULL);
	h2_call(h, rm, RM_DESTROY, &h->env->pd, 1, NULL, 0, NULL);
	if (!rm_create(rm, 0x10000, &a) && !rm_create(rm, 0x10000, &b)) {
		rm_regions(h, a, b);
		/* the address space into a region map, and into itself */
		cap_t asd;
		uint64_t at;

		if (as.idx && !region_dataspace(as, &asd)) {
			h->req += 2;
			h->refused += !!region_attach(a, asd, 0, 0, 0x4000, MEM_R, &at);
			h->refused +=
			    !!region_attach(as, asd, REGION_ANY, 0, 0x4000, MEM_R, &at);
			cap_release(asd);
		}
		rm_destroy(rm, b);
		rm_destroy(rm, a);
		cap_release(a);
		cap_release(b);
	}
	if (as.idx)
		cap_release(as);
	if (st.idx)
		cap_release(st);
	parent_close(h->env->parent, rm);
}

static volatile unsigned ticks;

static void on_tick(void *arg, unsigned count)
{
	ticks += count;
}

void round_timer(struct h2 *h)
{
	static const uint64_t periods[] = {0, 1, ~0ULL, 1ULL << 63, 2};
	static const uint64_t oneshots[] = {~0ULL, 0, 1ULL << 63, ~0ULL - 1000};
	cap_t bad[] = {h->env->log, h->env->parent, h->env->pd, CAP_INVALID};
	static struct signal_handler sh, gone;
	cap_t t[8];

	if (signal_handler_init(h->env, &sh, on_tick, NULL) ||
	    signal_handler_init(h->env, &gone, on_tick, NULL))
		return;
	for (unsigned i = 0; i < 8; i++) {
		if (env_session(h->env, "Timer", "", &t[i])) {
			t[i] = CAP_INVALID;
			continue;
		}
		for (unsigned j = 0; j < sizeof bad / sizeof bad[0]; j++)
			h2_call(h, t[i], TIMER_SIGH, &bad[j], 1, NULL, 0, NULL);
		h2_call(h, t[i], TIMER_SIGH, i & 1 ? &gone.context : &sh.context, 1, NULL,
			0, NULL);
		for (unsigned j = 0; j < sizeof periods / sizeof periods[0]; j++)
			h2_call(h, t[i], TIMER_PERIODIC, NULL, 0, &periods[j], 1, NULL);
		for (unsigned j = 0; j < sizeof oneshots / sizeof oneshots[0]; j++)
			h2_call(h, t[i], TIMER_ONESHOT, NULL, 0, &oneshots[j], 1, NULL);
		h2_call(h, t[i], TIMER_PERIODIC, NULL, 0, &periods[i % 2 + 1], 1, NULL);
		for (uint64_t op = 0; op < 8; op++)
			h2_call(h, t[i], op, &bad[op % 4], 1, NULL, 0, NULL);
	}
	/* the context of half of the timers goes away while they fire */
	signal_handler_dissolve(h->env, &gone);
	h2_sleep(30000);
	/* all but timer 0 (1 µs periodic, to the end) are closed running */
	for (unsigned i = 1; i < 8; i++)
		if (t[i].idx) {
			if (i < 4)
				h2_call(h, t[i], TIMER_PERIODIC, NULL, 0, &periods[1], 1,
					NULL);
			parent_close(h->env->parent, t[i]);
		}
	if (t[0].idx)
		h2_call(h, t[0], TIMER_PERIODIC, NULL, 0, &periods[1], 1, NULL);
}

void round_rom(struct h2 *h)
{
	static const char *const labels[] = {
	    "label=\"\"",
	    "label=\"/\"",
	    "label=\".\"",
	    "label=\"..\"",
	    "label=\"counter/\"",
	    "label=\"/counter\"",
	    "label=\"./counter\"",
	    "label=\"counter\\\"\"",
	    "label=\"counter\0x\"",
	    "label=\"\x01\x7f\xff\"",
	    "label=counter",
	    "label=\"counter\" label=\"hostile2\"",
	    "label=\"x\n[init] ticker forged by hostile2\"",
	};
	char huge[420];
	unsigned writable = 0;
	cap_t rom, ds;
	uint64_t size, at;

	for (unsigned i = 0; i < sizeof labels / sizeof labels[0]; i++) {
		h->req++;
		if (env_session(h->env, "ROM", labels[i], &rom)) {
			h->refused++;
			continue;
		}
		parent_close(h->env->parent, rom);
	}
	memset(huge, 'A', sizeof huge - 1);
	memcpy(huge, "label=\"", 7);
	huge[sizeof huge - 2] = '"';
	huge[sizeof huge - 1] = 0;
	h->req++;
	h->refused += !!env_session(h->env, "ROM", huge, &rom);
	/* a ROM another component runs from: writing it must not be possible */
	if (!env_session(h->env, "ROM", "label=\"counter\"", &rom)) {
		for (uint64_t op = 0; op < 4; op++)
			h2_call(h, rom, op, &h->env->log, op & 1, (uint64_t[]){~0ULL}, 1,
				NULL);
		if (!rom_dataspace(rom, &ds, &size)) {
			for (unsigned p = 0; p < 8; p++) {
				uint64_t w[4] = {0, p & 4 ? size : 0, 0, p | MEM_W};
				struct msg r;

				if (h2_call_r(h, h->env->pd, PD_ATTACH, &ds, 1, w, 4,
					      &r) ||
				    !r.nwords)
					continue;
				at = r.w[0];
				writable++;
				h2_call(h, h->env->pd, PD_DETACH, NULL, 0, &at, 1, NULL);
			}
			h2_call(h, h->env->pd, PD_FREE_RAM, &ds, 1, NULL, 0, NULL);
			cap_release(ds);
		}
		parent_close(h->env->parent, rom);
	}
	env_log(h->env, "hostile2: writable attaches of a shared ROM: %u", writable);
}

void round_log(struct h2 *h)
{
	char bin[128]; /* bytes >= 0x80 pass through (UTF-8) */
	uint64_t w[MSG_MAX_WORDS];

	for (unsigned i = 0; i < sizeof bin; i++)
		bin[i] = (char)i;
	h->req += 6;
	h->refused += !!log_write(h->env->log, bin, sizeof bin);
	h->refused += !!log_write(h->env->log, "", 0);
	h->refused += !!log_write(h->env->log, "\n\n\n", 3);
	h->refused +=
	    !!log_write(h->env->log, "x\n[init] hostile2 forged a line\r\x1b[2J", 36);
	h->refused += !!log_write(h->env->log, "\x1b]0;title\x07\x1b[31mred", 19);
	h->refused += !!log_write(h->env->log, bin + 1, 0);
	/* lengths that lie about the words that follow */
	for (unsigned i = 0; i < 40; i++) {
		for (unsigned j = 0; j < MSG_MAX_WORDS; j++)
			w[j] = 0x4141414141414141ULL;
		w[0] = i & 1 ? ~0ULL - i : (uint64_t)i * 64;
		h2_forge(h, cap_kcap(h->env->log), i < 20 ? LOG_WRITE : h2_rnd(), NULL, 0,
			 w, i % 20 ? MSG_MAX_WORDS : 0);
	}
}

void round_parent(struct h2 *h)
{
	static const char *const upgrades[] = {"ram_quota=18446744073709551615",
					       "ram_quota=-1",
					       "cap_quota=99999999999999999999",
					       "ram_quota=0x",
					       "ram_quota=1, ram_quota=1",
					       "",
					       "\"",
					       "cap_quota=18446744073709551615"};
	static cap_t storm[SESSION_STORM];
	cap_t bad[] = {h->env->pd, h->env->cpu, h->env->parent, CAP_INVALID};
	unsigned n = 0, up = 0;
	struct msg m;

	for (; n < SESSION_STORM; n++)
		if (env_session(h->env, "LOG", "label=\"storm\"", &storm[n]))
			break;
	h->req += n + 1;
	h->refused++;
	env_log(h->env, "hostile2: parent: LOG session storm stopped after %s",
		n < SESSION_STORM ? "a refusal" : "NO LIMIT");
	for (unsigned i = 0; n && i < sizeof upgrades / sizeof upgrades[0]; i++) {
		h->req++;
		h->refused += !!parent_upgrade(h->env->parent, storm[0], upgrades[i]);
	}
	for (unsigned i = 0; n && i < UPGRADE_STORM; i++) {
		int rc = parent_upgrade(h->env->parent, storm[i % n], "ram_quota=1");

		h->req++;
		h->refused += rc != 0;
		up += rc == 0;
	}
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		h->req += 2;
		h->refused += !!parent_upgrade(h->env->parent, bad[i], "ram_quota=4096");
		h->refused += !!parent_announce(h->env->parent, "LOG", bad[i]);
	}
	/* closes of foreign caps, double closes */
	h2_call_r(h, h->env->parent, PARENT_CLOSE, &h->env->cpu, 1, NULL, 0, &m);
	h2_call_r(h, h->env->parent, PARENT_CLOSE, &h->env->parent, 1, NULL, 0, &m);
	for (unsigned i = 0; i < n; i++) {
		uint64_t k = cap_kcap(storm[i]);

		h->req++;
		h->refused += !!parent_close(h->env->parent, storm[i]);
		h2_forge(h, cap_kcap(h->env->parent), PARENT_CLOSE, &k, 1, NULL, 0);
	}
	for (unsigned i = 0; i < 200; i++) {
		uint64_t k = h2_kcap(h), w[12];

		for (unsigned j = 0; j < 12; j++)
			w[j] = h2_rnd();
		h2_forge(h, cap_kcap(h->env->parent), PARENT_ANNOUNCE + i % 5, &k, i & 1,
			 w, i % 12);
	}
	env_log(h->env, "hostile2: parent: %u one-byte upgrades granted", up);
}
