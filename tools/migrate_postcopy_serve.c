/*
 * The page server of a post-copy source (migrate_postcopy_src.h): the
 * target's pages, frozen here and read in place (frozen_memory.h), to
 * the destination where it runs.  A want
 * (a target thread waits for that page) is answered before anything
 * else with the run of up to POSTCOPY_RUN unsent pages from it; between
 * wants the pages not sent yet are pushed in address order.  Each page
 * is sent once; a zero page is named, not carried.  Serving ends when the
 * destination says every page arrived ("complete"), or with the
 * connection.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config/test_env.h"
#include "tools/migrate_postcopy_src.h"

static int zero_page(const uint8_t *p)
{
	static const uint8_t zero[POSTCOPY_PAGE];

	return !memcmp(p, zero, POSTCOPY_PAGE);
}

int postcopy_send_run(struct psrc *s, struct src_ds *d, uint64_t page, unsigned max,
		      int how)
{
	struct postcopy_pages h = {
	    .tag = 'P', .how = (uint8_t)how, .ds_id = d->id, .first = page};
	uint8_t *out = s->msg + sizeof h;
	const uint8_t *data;

	if (frozen_mem_hold(s->fm)) {
		snprintf(s->err, sizeof s->err,
			 "the frozen copy's memory is gone (it was resumed or ended)");
		return -1;
	}
	data = postcopy_data(s, d);
	if (max > POSTCOPY_RUN)
		max = POSTCOPY_RUN;
	/* no sent bytes (d->sent NULL): the pages ahead of the skeleton */
	while (h.count < max && page + h.count < d->pages &&
	       !(d->sent && d->sent[page + h.count])) {
		const uint8_t *src = data + (page + h.count) * POSTCOPY_PAGE;
		int zero = zero_page(src);
		if (zero) {
			h.zero |= 1ULL << h.count;
		} else {
			memcpy(out, src, POSTCOPY_PAGE);
			out += POSTCOPY_PAGE;
		}
		/* a page sent ahead of the skeleton stays unsent: should the
		 * destination's channel not be the one it went into, it is
		 * sent again when wanted or pushed (and else ignored there) */
		if (how != POSTCOPY_EAGER) {
			s->zero += (uint64_t)zero;
			d->sent[page + h.count] = 1;
		}
		h.count++;
	}
	frozen_mem_release(s->fm);
	if (!h.count)
		return 0;
	if (how == POSTCOPY_DEMAND)
		s->demand += h.count;
	else if (how == POSTCOPY_PUSHED)
		s->pushed += h.count;
	else
		s->eager += h.count;
	if (how != POSTCOPY_EAGER)
		s->left -= h.count;
	memcpy(s->msg, &h, sizeof h);
	return stream_send(&s->c.tx, s->msg, (size_t)(out - s->msg), 0, s->err,
			   sizeof s->err);
}

/* A message of the destination: a want (answered), or "complete" (1). */
static int take(struct psrc *s)
{
	struct postcopy_want w;
	char why[TRANSPORT_ERR_MAX / 2];
	size_t len;

	if (stream_recv(&s->c.rx, s->msg, &len, why, sizeof why)) {
		snprintf(s->err, sizeof s->err, "%s", why);
		return -1;
	}
	s->msg[len] = 0;
	if (len >= 9 && !memcmp(s->msg, "complete ", 9) && s->c.rx.final)
		return 1;
	if (len != sizeof w || s->msg[0] != 'W' || s->c.rx.final) {
		snprintf(s->err, sizeof s->err, "not a want: '%.40s'", (char *)s->msg);
		return -1;
	}
	memcpy(&w, s->msg, sizeof w);
	for (unsigned k = 0; k < s->nds; k++)
		if (s->ds[k].id == w.ds_id && w.page < s->ds[k].pages)
			return postcopy_send_run(s, &s->ds[k], w.page, POSTCOPY_RUN,
						 POSTCOPY_DEMAND);
	snprintf(s->err, sizeof s->err, "a want of no page (dataspace %llu page %llu)",
		 (unsigned long long)w.ds_id, (unsigned long long)w.page);
	return -1;
}

int postcopy_answer(struct psrc *s, int ms)
{
	uint64_t end = transport_now_ms() + (uint64_t)(ms > 0 ? ms : 1);
	struct postcopy_want w;
	char why[TRANSPORT_ERR_MAX / 2];
	size_t len;

	for (;;) {
		uint64_t now = transport_now_ms();
		if (now >= end) {
			snprintf(s->err, sizeof s->err, "no answer in time");
			return -1;
		}
		address_set_timeout(s->c.fd, (int)(end - now));
		if (stream_recv(&s->c.rx, s->msg, &len, why, sizeof why)) {
			snprintf(s->err, sizeof s->err, "no answer (%s)", why);
			return -1;
		}
		s->msg[len] = 0;
		if (len != sizeof w || s->msg[0] != 'W' || s->c.rx.final)
			return 0;
		memcpy(&w, s->msg, sizeof w);
		if (postcopy_read_final(s)) /* the dataspaces to serve */
			return -1;
		for (unsigned k = 0; k < s->nds; k++)
			if (s->ds[k].id == w.ds_id && w.page < s->ds[k].pages &&
			    postcopy_send_run(s, &s->ds[k], w.page, POSTCOPY_RUN,
					      POSTCOPY_DEMAND))
				return -1;
	}
}

void postcopy_progress(struct psrc *s, const char *phase)
{
	char line[160];
	uint64_t now = transport_now_ms();

	if (!s->fn)
		return;
	if (phase) {
		snprintf(line, sizeof line, "progress: %.140s", phase);
	} else {
		if (!s->total || (now - s->shown_ms < 250 && s->left))
			return;
		snprintf(line, sizeof line, "progress: bytes %llu %llu",
			 (unsigned long long)((s->total - s->left) * POSTCOPY_PAGE),
			 (unsigned long long)(s->total * POSTCOPY_PAGE));
	}
	s->shown_ms = now;
	s->fn(line, s->fn_arg);
}

int postcopy_serve(struct psrc *s)
{
	/* test hook (tests/migrate/postcopy.sh): pause this long between
	 * pushes, so that the target surely runs into pages not there yet */
	const char *v = test_env("CAPSULE_TEST_POSTCOPY_PUSH_US");
	long push_us = v ? strtol(v, NULL, 10) : 0;
	unsigned k = 0;
	uint64_t p = 0;
	int rc;

	/* a blocked send or a silent peer: lost after this long */
	address_set_timeout(s->c.fd, POSTCOPY_SILENCE_MS);
	for (;;) {
		struct pollfd pfd = {.fd = s->c.fd, .events = POLLIN};
		int n = poll(&pfd, 1, s->left ? 0 : POSTCOPY_SILENCE_MS);
		if (n < 0)
			continue;
		if (n > 0) {
			if ((rc = take(s)))
				return rc > 0 ? 0 : -1;
			postcopy_progress(s, NULL);
			continue;
		}
		if (!s->left) {
			snprintf(
			    s->err, sizeof s->err,
			    "no word from the destination for %d ms after the last page",
			    POSTCOPY_SILENCE_MS);
			return -1;
		}
		while (k < s->nds && (p >= s->ds[k].pages || s->ds[k].sent[p])) {
			if (++p >= s->ds[k].pages) {
				k++;
				p = 0;
			}
		}
		if (k < s->nds &&
		    postcopy_send_run(s, &s->ds[k], p, POSTCOPY_RUN, POSTCOPY_PUSHED))
			return -1;
		postcopy_progress(s, NULL);
		if (push_us > 0 && push_us < 1000000)
			usleep((useconds_t)push_us);
	}
}
