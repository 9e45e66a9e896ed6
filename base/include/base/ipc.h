/*
 * IPC marshalling (docs/design.md, "IPC marshalling").
 *
 * On the wire, mr[0] is the destination's badge on a call and the
 * exception code on a reply; mr[1] the number of capabilities (at most
 * MSG_MAX_ITEMS); then one word per capability (its badge, or
 * CAP_ID_INVALID); then the payload words.  Each valid capability also
 * travels as a map item.  On receipt every (badge, window slot) pair goes
 * through cap_map_insert_map(): a known badge for the same kernel object
 * reuses its entry, a known badge for a different object is forged and
 * yields an invalid cap, a new badge gets a fresh slot.
 */
#ifndef BASE_IPC_H
#define BASE_IPC_H

#include <stdint.h>
#include <base/capability.h>

#define MSG_MAX_WORDS (UTCB_MRS - 2 - 2 * MSG_MAX_ITEMS) /* 64 */

struct msg {
	uint64_t code; /* opcode on a call, exception code on a reply */
	unsigned nwords;
	uint64_t w[MSG_MAX_WORDS];
	unsigned ncaps;
	cap_t caps[MSG_MAX_ITEMS];
};

/* the platform's trap: guest `syscall` or kernel_native_invoke() */
uint64_t sys_invoke(uint64_t kcap, uint64_t tag, uint64_t timeout, uint64_t *label);
struct utcb *sys_utcb(void);

static inline void msg_reset(struct msg *m, uint64_t code)
{
	m->code = code;
	m->nwords = 0;
	m->ncaps = 0;
}
/* append; -E2BIG when the message is full */
int msg_put(struct msg *m, uint64_t word);
int msg_put_cap(struct msg *m, cap_t c);
/* strings and byte buffers packed into words, length-prefixed */
int msg_put_str(struct msg *m, const char *s);
int msg_put_bytes(struct msg *m, const void *p, uint64_t len);
/* read back from word *pos, advancing it; -EINVAL if out of range or not
 * terminated within the buffer */
int msg_get_str(const struct msg *m, unsigned *pos, char *buf, unsigned size);
int msg_get_bytes(const struct msg *m, unsigned *pos, void *buf, uint64_t size,
		  uint64_t *len);

/* Write m into the UTCB (words + items); returns the tag's word/item counts
 * as TAG(op, 0, words, items) without op.  dst_badge goes to mr[0] if
 * m is a call. */
uint64_t msg_to_utcb(struct utcb *u, const struct msg *m, uint64_t first_word);
/* Read a received message out of the UTCB, running insert_map for its
 * caps.  -EINVAL on a malformed message (counts out of range). */
int msg_from_utcb(struct utcb *u, uint64_t tag, struct msg *m, uint64_t *first_word);

/* Receive-side dedupe: see above.  window_kcap holds the received cap. */
cap_t cap_map_insert_map(struct cap_map *m, uint64_t id, uint64_t window_kcap);

/*
 * Synchronous RPC: send m (opcode m->code) to dst and receive the reply
 * into m (m->code = exception code).  Returns 0, or a negative errno:
 * -EINVAL for an invalid cap, -ECONNREFUSED when the kernel reports the
 * kcap empty or revoked, -EPIPE when the server vanished.
 */
int rpc_call(cap_t dst, struct msg *m);
/* The same with the kernel's call timeout: -ETIMEDOUT if the call has not
 * been answered within timeout_us, the send and the reply together (a
 * call that timed out may have been taken and carried out).  Timeout 0 is
 * the one exception: the request goes only to a server that waits for it
 * already, and once taken its reply is awaited without limit. */
int rpc_call_timeout(cap_t dst, struct msg *m, uint64_t timeout_us);
/* rpc_call, but -ETIMEDOUT if the server has not taken the request within
 * about send_us (tried again every 200 us with timeout 0); once taken, the
 * reply is awaited without limit.  For callers that must not block on a
 * busy server but must know whether it carried the request out: a group's
 * monitor calling a member's root (a session opened there whose client
 * was told to ask again was opened twice).  Not for init: it must never
 * wait without bound for a child, which may be stuck itself (zdtm's
 * rpc_server: a monitor whose target was exiting took the close of the
 * target's last session and never answered while init waited). */
int rpc_call_taken_within(cap_t dst, struct msg *m, uint64_t send_us);
/* rpc_call, then the reply's exception as 0 / -errno: RPC_OK 0,
 * RPC_ERROR its w[0] if that is an -errno (else -EIO), RPC_INVALID_OBJECT
 * -EBADF, RPC_INVALID_OPCODE -ENOSYS, any other code -EPROTO.  On failure
 * no reply cap is kept (they are released, m->ncaps = 0); on success the
 * caller owns them. */
int rpc_invoke(cap_t dst, struct msg *m);
/* translate enum kerr to -errno */
int kerr_to_errno(unsigned kerr);

#endif
