/*
 * The node-to-node transport: one TCP connection per migration,
 * authenticated and encrypted with a pre-shared key (the handshake with
 * libsodium, the records in AES-256-GCM with OpenSSL's libcrypto; why
 * these and not TLS-PSK: docs/migration.md).
 *
 *   key.c        the key file (`capsule keygen FILE`): 32 random bytes
 *   address.c    HOST:PORT, listen and connect with a deadline
 *   io.c         whole reads and writes with one-line errors
 *   handshake.c  both sides prove they hold the key over fresh nonces
 *                from both; ephemeral X25519 keys give the session keys
 *   stream.c     AES-256-GCM records, one counter nonce per direction:
 *                tamper, truncation, replay and reordering are
 *                detected, the record flagged FINAL ends the stream
 *   listener.c   a thread that accepts, shakes hands and hands each
 *                authenticated connection to a handler, one at a time
 *   prompt.c     a short scheduler slice for the threads that carry a
 *                migration's stop, so that their wake-ups are prompt
 *
 * Every function that can fail writes one line naming what failed into
 * err (no newline) and returns -1 (or -errno where documented).
 */
#ifndef TRANSPORT_TRANSPORT_H
#define TRANSPORT_TRANSPORT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sodium.h>

#define TRANSPORT_KEY_BYTES 32
#define TRANSPORT_ERR_MAX   320
/* The largest message on a stream (a longer frame is garbage). */
#define TRANSPORT_MSG_MAX (64 * 1024)

struct transport_key {
	unsigned char k[TRANSPORT_KEY_BYTES];
};

/* ---- key.c --------------------------------------------------------------- */

/* Write a new random key to path (created 0600; an existing file is
 * never overwritten).  0 or -1. */
int key_generate(const char *path, char *err, size_t size);
/* Read the key at path.  A file that is not exactly a key, or that
 * others than its owner may read, is refused.  0 or -1. */
int key_load(const char *path, struct transport_key *key, char *err, size_t size);

/* ---- address.c ----------------------------------------------------------- */

/* "HOST:PORT" (numeric IPv4 or IPv6 in [brackets]) into host and port.
 * 0 or -1. */
int address_parse(const char *spec, char *host, size_t hsize, uint16_t *port, char *err,
		  size_t size);
/* A listening TCP socket on spec.  The fd or -1. */
int address_listen(const char *spec, char *err, size_t size);
/* Connect to spec within timeout_ms; the fd or -1. */
int address_connect(const char *spec, int timeout_ms, char *err, size_t size);
/* Bound every read and write on fd to timeout_ms (SO_RCVTIMEO/SNDTIMEO). */
void address_set_timeout(int fd, int timeout_ms);
/* "ADDR:PORT" of fd's peer into buf. */
void address_peer(int fd, char *buf, size_t size);

/* ---- io.c ---------------------------------------------------------------- */

/* Exactly n bytes, or -1 with err naming `what` and why (the peer closed
 * the connection, before or in the middle of the n bytes; it timed out;
 * or the socket error). */
int io_read(int fd, void *buf, size_t n, const char *what, char *err, size_t size);
int io_write(int fd, const void *buf, size_t n, const char *what, char *err, size_t size);
/* io_read of na bytes into a, then nb into b. */
int io_read2(int fd, void *a, size_t na, void *b, size_t nb, const char *what, char *err,
	     size_t size);

/* ---- stream.c ------------------------------------------------------------ */

/* The stream header: the random IV base of its records' nonces. */
#define TRANSPORT_STREAM_HEADER 12

struct evp_cipher_ctx_st; /* OpenSSL's EVP_CIPHER_CTX */

/* One direction of a connection.  Frames on the wire: a 4-byte
 * big-endian word (bit 31 FINAL, the rest the length), then that many
 * bytes of AES-256-GCM ciphertext and tag (stream.c). */
struct stream {
	int fd;
	struct evp_cipher_ctx_st *ctx; /* this direction's key */
	unsigned char iv[TRANSPORT_STREAM_HEADER];
	uint64_t seq;	/* records sent / opened: the nonce's counter */
	int final;	/* sent / received the FINAL message */
	uint64_t wire;	/* bytes sent / received on fd, headers included */
	uint64_t plain; /* message bytes sent / received */
};

/* Sender: send the stream header for key.  0 or -1. */
int stream_push_init(struct stream *s, int fd, const unsigned char *key, char *err,
		     size_t size);
/* Receiver: read the stream header.  0 or -1. */
int stream_pull_init(struct stream *s, int fd, const unsigned char *key, char *err,
		     size_t size);
/* Free s's cipher and wipe its key (again: a no-op). */
void stream_end(struct stream *s);
/* Send one message of len <= TRANSPORT_MSG_MAX bytes; final ends the
 * stream.  0 or -1. */
int stream_send(struct stream *s, const void *buf, size_t len, int final, char *err,
		size_t size);
/* Receive one message into buf (room for TRANSPORT_MSG_MAX): *len, and
 * s->final set if it was the last.  A forged, altered, reordered or
 * replayed frame, or the end of the connection before FINAL, is -1. */
int stream_recv(struct stream *s, void *buf, size_t *len, char *err, size_t size);
/* The file at fd (from its offset to its end) as messages, the last
 * one FINAL.  0 or -1. */
int stream_send_file(struct stream *s, int fd, char *err, size_t size);
/* Receive messages up to FINAL into file fd, at most limit bytes.
 * 0 or -1. */
int stream_recv_file(struct stream *s, int fd, uint64_t limit, char *err, size_t size);

/* ---- handshake.c --------------------------------------------------------- */

/* An authenticated connection: tx to the peer, rx from it. */
struct transport_conn {
	int fd;
	struct stream tx, rx;
	char peer[64];
	uint64_t start_ms; /* CLOCK_MONOTONIC when the handshake began */
};

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t transport_now_ms(void);

/*
 * Client: hello (nonce, ephemeral key), check the server's proof, send
 * ours, then both stream headers are exchanged.  0, or -1 when the
 * peer does not hold key, the connection fails or the peer sends
 * something else than the protocol.
 */
int handshake_client(int fd, const struct transport_key *key, struct transport_conn *c,
		     char *err, size_t size);
/* Server side of the same; a client without the key, or one replaying
 * a recorded handshake, is refused. */
int handshake_server(int fd, const struct transport_key *key, struct transport_conn *c,
		     char *err, size_t size);
/* Close c's socket, end and wipe its streams. */
void transport_close(struct transport_conn *c);

/* ---- listener.c ---------------------------------------------------------- */

/* Called on the listener's thread with each authenticated connection;
 * it answers and returns (the listener closes c). */
typedef void (*listener_fn)(struct transport_conn *c, void *arg);

struct listener {
	int fd;
	int quit[2];
	int timeout_ms; /* per read/write of a connection */
	struct transport_key key;
	listener_fn fn;
	void *arg;
	pthread_t thread;
	int running;
};

/* Listen on spec with key; connections are served on a new thread.
 * 0 or -1. */
int listener_start(struct listener *l, const char *spec, const struct transport_key *key,
		   listener_fn fn, void *arg, char *err, size_t size);
/* Stop accepting, join the thread, close the socket. */
void listener_stop(struct listener *l);

/* ---- prompt.c ------------------------------------------------------------ */

/* on: give the calling thread a short slice of the fair scheduler
 * (where the kernel has them): its wake-ups preempt a busy thread at
 * once instead of waiting for its slice or the next tick; off: the
 * default slice again.  Best effort. */
void transport_prompt_thread(int on);
/* The same for thread tid of this process (0: the calling one); the
 * calling thread's id, for a later call from another thread. */
void transport_prompt_tid(int tid, int on);
int transport_thread_id(void);

#endif
