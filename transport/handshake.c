/*
 * The handshake: mutual proof of the pre-shared key K over fresh
 * nonces and ephemeral X25519 keys from both sides.
 *
 *   client -> server   hello_c = "CPSLMIG2" | Nc (32) | Ec (32)
 *   server -> client   hello_s = "CPSLMIG2" | Ns (32) | Es (32)
 *                      mac_s = HMAC-SHA512/256(K, "server" | hello_c | hello_s)
 *   client -> server   mac_c = HMAC-SHA512/256(K, "client" | hello_c | hello_s)
 *
 * Each side checks the other's MAC before it sends anything else, so a
 * peer without K learns nothing and gets nothing; a recorded client
 * half replayed later fails at mac_c, because the server's nonce and
 * ephemeral key are new.  The stream keys are BLAKE2b(K, direction |
 * X25519 session key (crypto_kx) | transcript): fresh per connection,
 * bound to K and to this handshake.  Then each side starts its sending
 * stream (the server first, which tells the client it was accepted).
 * The greeting's digit is the transport's version: 2 has AES-256-GCM
 * records (stream.c), 1 had libsodium secretstreams; a node of the
 * other version is refused at its greeting, in one line.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "transport/transport.h"

#define HS_MAGIC     "CPSLMIG2"
#define HS_MAGIC_LEN 8
#define HS_FAMILY    7 /* "CPSLMIG": a capsule node of some version */
#define HS_NONCE     32
#define HS_HELLO     (HS_MAGIC_LEN + HS_NONCE + crypto_kx_PUBLICKEYBYTES)
#define HS_MAC	     crypto_auth_hmacsha512256_BYTES
#define HS_KEY	     32 /* AES-256 */

struct hs {
	unsigned char pk[crypto_kx_PUBLICKEYBYTES], sk[crypto_kx_SECRETKEYBYTES];
	unsigned char transcript[2 * HS_HELLO]; /* hello_c | hello_s */
	unsigned char tx[HS_KEY], rx[HS_KEY];
};

static void hs_hello(struct hs *h, unsigned char *hello)
{
	crypto_kx_keypair(h->pk, h->sk);
	memcpy(hello, HS_MAGIC, HS_MAGIC_LEN);
	randombytes_buf(hello + HS_MAGIC_LEN, HS_NONCE);
	memcpy(hello + HS_MAGIC_LEN + HS_NONCE, h->pk, sizeof h->pk);
}

/* 0 if hello greets in this version; else -1 with err naming the
 * peer's version if it is a capsule node of another one, or other. */
static int hs_greeting(const unsigned char *hello, const char *other, char *err,
		       size_t size)
{
	if (!memcmp(hello, HS_MAGIC, HS_MAGIC_LEN))
		return 0;
	if (!memcmp(hello, HS_MAGIC, HS_FAMILY) && hello[HS_FAMILY] >= '0' &&
	    hello[HS_FAMILY] <= '9')
		snprintf(err, size,
			 "handshake: the peer is a capsule node of transport version %c, "
			 "this one is %c (update the older node)",
			 hello[HS_FAMILY], HS_MAGIC[HS_FAMILY]);
	else
		snprintf(err, size, "handshake: %s", other);
	return -1;
}

/* HMAC(K, role | transcript). */
static void hs_mac(const struct hs *h, const struct transport_key *key, const char *role,
		   unsigned char *mac)
{
	crypto_auth_hmacsha512256_state st;

	crypto_auth_hmacsha512256_init(&st, key->k, sizeof key->k);
	crypto_auth_hmacsha512256_update(&st, (const unsigned char *)role, strlen(role));
	crypto_auth_hmacsha512256_update(&st, h->transcript, sizeof h->transcript);
	crypto_auth_hmacsha512256_final(&st, mac);
}

static int hs_mac_ok(const struct hs *h, const struct transport_key *key,
		     const char *role, const unsigned char *mac)
{
	unsigned char want[HS_MAC];

	hs_mac(h, key, role, want);
	return !sodium_memcmp(want, mac, HS_MAC);
}

/* One stream key: BLAKE2b-256 keyed with K over dir | kx | transcript. */
static void hs_derive(const struct hs *h, const struct transport_key *key,
		      const char *dir, const unsigned char *kx, unsigned char *out)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, key->k, sizeof key->k, HS_KEY);
	crypto_generichash_update(&st, (const unsigned char *)dir, strlen(dir));
	crypto_generichash_update(&st, kx, crypto_kx_SESSIONKEYBYTES);
	crypto_generichash_update(&st, h->transcript, sizeof h->transcript);
	crypto_generichash_final(&st, out, HS_KEY);
}

/* The stream keys; client: tx = c2s.  0, or -1 for a bad peer key. */
static int hs_keys(struct hs *h, const struct transport_key *key, int client,
		   const unsigned char *peer_pk)
{
	unsigned char rx[crypto_kx_SESSIONKEYBYTES], tx[crypto_kx_SESSIONKEYBYTES];
	int rc = client ? crypto_kx_client_session_keys(rx, tx, h->pk, h->sk, peer_pk)
			: crypto_kx_server_session_keys(rx, tx, h->pk, h->sk, peer_pk);

	if (!rc) {
		hs_derive(h, key, client ? "c2s" : "s2c", tx, h->tx);
		hs_derive(h, key, client ? "s2c" : "c2s", rx, h->rx);
	}
	sodium_memzero(rx, sizeof rx);
	sodium_memzero(tx, sizeof tx);
	sodium_memzero(h->sk, sizeof h->sk);
	return rc ? -1 : 0;
}

static void hs_wipe(struct hs *h)
{
	sodium_memzero(h, sizeof *h);
}

static void hs_streams_end(struct transport_conn *c)
{
	stream_end(&c->tx);
	stream_end(&c->rx);
}

/* Both sides: the connection's fd, start time and peer; libsodium up. */
static int conn_begin(struct transport_conn *c, int fd, char *err, size_t size)
{
	memset(c, 0, sizeof *c);
	c->fd = fd;
	c->start_ms = transport_now_ms();
	address_peer(fd, c->peer, sizeof c->peer);
	if (sodium_init() < 0) {
		snprintf(err, size, "libsodium cannot start");
		return -1;
	}
	return 0;
}

int handshake_client(int fd, const struct transport_key *key, struct transport_conn *c,
		     char *err, size_t size)
{
	unsigned char *hc, *hsv, mac[HS_MAC];
	char why[TRANSPORT_ERR_MAX / 2];
	struct hs h;
	int rc = -1;

	if (conn_begin(c, fd, err, size))
		return -1;
	hc = h.transcript;
	hsv = h.transcript + HS_HELLO;
	hs_hello(&h, hc);
	if (io_write(fd, hc, HS_HELLO, "handshake", err, size) ||
	    io_read(fd, hsv, HS_HELLO, "handshake", err, size) ||
	    io_read(fd, mac, HS_MAC, "handshake", err, size))
		goto out;
	if (hs_greeting(hsv, "the peer is not a capsule node", err, size))
		goto out;
	if (!hs_mac_ok(&h, key, "server", mac)) {
		snprintf(err, size, "handshake: the peer does not hold our key");
		goto out;
	}
	hs_mac(&h, key, "client", mac);
	if (hs_keys(&h, key, 1, hsv + HS_MAGIC_LEN + HS_NONCE)) {
		snprintf(err, size, "handshake: the peer sent a bad key exchange");
		goto out;
	}
	if (io_write(fd, mac, HS_MAC, "handshake", err, size))
		goto out;
	if (stream_pull_init(&c->rx, fd, h.rx, why, sizeof why)) {
		snprintf(err, size, "handshake: the peer refused our key (%s)", why);
		goto out;
	}
	rc = stream_push_init(&c->tx, fd, h.tx, err, size);
out:
	hs_wipe(&h);
	if (rc) /* the caller closes only the socket */
		hs_streams_end(c);
	return rc;
}

int handshake_server(int fd, const struct transport_key *key, struct transport_conn *c,
		     char *err, size_t size)
{
	unsigned char *hc, *hsv, mac[HS_MAC];
	struct hs h;
	int rc = -1;

	if (conn_begin(c, fd, err, size))
		return -1;
	hc = h.transcript;
	hsv = h.transcript + HS_HELLO;
	if (io_read(fd, hc, HS_HELLO, "handshake", err, size))
		goto out;
	if (hs_greeting(hc, "not a capsule migration (bad greeting)", err, size))
		goto out;
	hs_hello(&h, hsv);
	hs_mac(&h, key, "server", mac);
	if (hs_keys(&h, key, 0, hc + HS_MAGIC_LEN + HS_NONCE)) {
		snprintf(err, size, "handshake: the peer sent a bad key exchange");
		goto out;
	}
	if (io_write(fd, hsv, HS_HELLO, "handshake", err, size) ||
	    io_write(fd, mac, HS_MAC, "handshake", err, size) ||
	    io_read(fd, mac, HS_MAC, "handshake", err, size))
		goto out;
	if (!hs_mac_ok(&h, key, "client", mac)) {
		snprintf(err, size,
			 "handshake: the peer does not hold the key (or replays a "
			 "recorded handshake)");
		goto out;
	}
	if (stream_push_init(&c->tx, fd, h.tx, err, size))
		goto out;
	rc = stream_pull_init(&c->rx, fd, h.rx, err, size);
out:
	hs_wipe(&h);
	if (rc) /* the caller closes only the socket */
		hs_streams_end(c);
	return rc;
}

uint64_t transport_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void transport_close(struct transport_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	hs_streams_end(c);
	sodium_memzero(&c->tx, sizeof c->tx);
	sodium_memzero(&c->rx, sizeof c->rx);
	c->fd = -1;
}
