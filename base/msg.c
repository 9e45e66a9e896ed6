/*
 * Message marshalling (docs/design.md, "IPC marshalling").
 *
 * UTCB layout of a message with n caps, k of them valid, and w words:
 *   mr[0]              first word: destination badge (call) or exception
 *                      code (reply)
 *   mr[1]              n
 *   mr[2 .. 2+n)       badge of each cap, CAP_ID_INVALID for an invalid one
 *   mr[2+n]            m->code (opcode of a call, exception of a reply)
 *   mr[3+n .. 3+n+w)   payload
 *   then k map items   kcap | RIGHT_R | RIGHT_W of each valid cap, in cap
 *                      order: RIGHT_S (the kernel-object protocol of a gate,
 *                      e.g. rebinding it) never leaves its holder
 * so a message takes 3 + n + w words + k items <= UTCB_MRS; msg_put and
 * msg_put_cap refuse what would not fit (worst case: every cap valid).
 */
#include <errno.h>
#include <string.h>
#include "platform.h"

#define MSG_HDR_WORDS 3

static int msg_fits(unsigned ncaps, unsigned nwords)
{
	return nwords <= MSG_MAX_WORDS && ncaps <= MSG_MAX_ITEMS &&
	       MSG_HDR_WORDS + 2 * ncaps + nwords <= UTCB_MRS;
}

int msg_put(struct msg *m, uint64_t word)
{
	if (!msg_fits(m->ncaps, m->nwords + 1))
		return -E2BIG;
	m->w[m->nwords++] = word;
	return 0;
}

int msg_put_cap(struct msg *m, cap_t c)
{
	if (!msg_fits(m->ncaps + 1, m->nwords))
		return -E2BIG;
	m->caps[m->ncaps++] = c;
	return 0;
}

int msg_put_bytes(struct msg *m, const void *p, uint64_t len)
{
	uint64_t n = (len + 7) / 8;

	if (len > (uint64_t)MSG_MAX_WORDS * 8 ||
	    !msg_fits(m->ncaps, m->nwords + 1 + (unsigned)n))
		return -E2BIG;
	m->w[m->nwords] = len;
	if (n) {
		m->w[m->nwords + n] = 0; /* zero the padding of the last word */
		memcpy(&m->w[m->nwords + 1], p, len);
	}
	m->nwords += 1 + (unsigned)n;
	return 0;
}

int msg_put_str(struct msg *m, const char *s)
{
	return msg_put_bytes(m, s, strlen(s));
}

int msg_get_bytes(const struct msg *m, unsigned *pos, void *buf, uint64_t size,
		  uint64_t *len)
{
	uint64_t l, n;

	if (*pos >= m->nwords || m->nwords > MSG_MAX_WORDS)
		return -EINVAL;
	l = m->w[*pos];
	if (l > (uint64_t)(m->nwords - *pos - 1) * 8 || l > size)
		return -EINVAL;
	n = (l + 7) / 8;
	if (l)
		memcpy(buf, &m->w[*pos + 1], l);
	*pos += 1 + (unsigned)n;
	if (len)
		*len = l;
	return 0;
}

int msg_get_str(const struct msg *m, unsigned *pos, char *buf, unsigned size)
{
	unsigned p = *pos;
	uint64_t len;

	if (size == 0 || msg_get_bytes(m, &p, buf, size - 1, &len))
		return -EINVAL;
	if (memchr(buf, 0, len))
		return -EINVAL; /* an embedded NUL would silently cut the string */
	buf[len] = 0;
	*pos = p;
	return 0;
}

uint64_t msg_to_utcb(struct utcb *u, const struct msg *m, uint64_t first_word)
{
	unsigned ncaps = m->ncaps, nwords = m->nwords, words, items = 0;

	if (!msg_fits(ncaps, nwords)) {
		ncaps = 0; /* a caller bypassed msg_put: send the code only */
		nwords = 0;
	}
	words = MSG_HDR_WORDS + ncaps + nwords;
	u->mr[0] = first_word;
	u->mr[1] = ncaps;
	for (unsigned i = 0; i < ncaps; i++) {
		cap_t c = m->caps[i];
		uint64_t kcap = cap_kcap(c);

		if (kcap == KCAP_INVALID) {
			u->mr[2 + i] = CAP_ID_INVALID;
			continue;
		}
		u->mr[2 + i] = cap_badge(c);
		u->mr[words + items++] = kcap | RIGHT_R | RIGHT_W;
	}
	u->mr[2 + ncaps] = m->code;
	memcpy(&u->mr[MSG_HDR_WORDS + ncaps], m->w, nwords * sizeof(uint64_t));
	return TAG(0, 0, words, items);
}

/* Drop whatever the kernel put into the receive window (fresh mappings
 * there have no children, so this revokes nothing else). */
static void msg_drop_items(uint64_t window, unsigned items)
{
	for (unsigned j = 0; j < items && window != KCAP_INVALID; j++)
		base_unmap(window + KCAP(j), UNMAP_SELF);
}

int msg_from_utcb(struct utcb *u, uint64_t tag, struct msg *m, uint64_t *first_word)
{
	unsigned words = TAG_WORDS(tag), items = TAG_ITEMS(tag), ncaps, valid = 0, j = 0;
	uint64_t mr[UTCB_MRS], window = u->br[0];

	/* copy first: insert_map below uses the UTCB for its own calls */
	if (words + items > UTCB_MRS)
		return -EINVAL;
	memcpy(mr, u->mr, (words + items) * sizeof(uint64_t));
	ncaps = words >= MSG_HDR_WORDS ? (unsigned)(mr[1] <= MSG_MAX_ITEMS ? mr[1] : ~0u)
				       : ~0u;
	if (ncaps == ~0u || MSG_HDR_WORDS + ncaps > words ||
	    words - MSG_HDR_WORDS - ncaps > MSG_MAX_WORDS)
		goto err;
	for (unsigned i = 0; i < ncaps; i++)
		valid += mr[2 + i] != CAP_ID_INVALID && mr[2 + i] != 0;
	if (valid != items)
		goto err;
	*first_word = mr[0];
	m->code = mr[2 + ncaps];
	m->nwords = words - MSG_HDR_WORDS - ncaps;
	memcpy(m->w, &mr[MSG_HDR_WORDS + ncaps], m->nwords * sizeof(uint64_t));
	m->ncaps = ncaps;
	for (unsigned i = 0; i < ncaps; i++) {
		uint64_t badge = mr[2 + i], item;

		m->caps[i] = CAP_INVALID;
		if (badge == CAP_ID_INVALID || badge == 0)
			continue;
		item = mr[words + j++] & ~(KCAP(1) - 1);
		if (item != KCAP_INVALID)
			m->caps[i] = cap_map_insert_map(cap_map(), badge, item);
	}
	return 0;
err:
	msg_drop_items(window, items);
	return -EINVAL;
}
