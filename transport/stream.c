/*
 * One direction of a connection as a sequence of AES-256-GCM records
 * (OpenSSL's libcrypto; why not libsodium's secretstream:
 * docs/migration.md).  The key is this direction's, fresh per
 * connection (handshake.c); the stream header is 12 random bytes, the
 * IV base.  Record i (from 0) is sealed with the nonce IV base XOR i
 * (big-endian, in the nonce's last 8 bytes), so a record altered,
 * dropped, repeated or moved fails to open, and its 4-byte header
 * (the FINAL flag and the length) is the associated data, so neither
 * can be changed either.  Only the record flagged FINAL ends the
 * stream: a connection that ends before it is a truncated stream.
 *
 * Frame: 4-byte big-endian word (bit 31 FINAL, the rest the ciphertext
 * length, message + TAG), the ciphertext, the 16-byte tag.  A length
 * out of range is refused before anything is read into memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "transport/transport.h"

#define TAG	   16
#define F_FINAL	   0x80000000u
#define RECORD_MAX (TRANSPORT_MSG_MAX + TAG)

/* This record's nonce: the IV base with the counter XORed into its
 * last 8 bytes. */
static void record_nonce(const struct stream *s, unsigned char *nonce)
{
	memcpy(nonce, s->iv, TRANSPORT_STREAM_HEADER);
	for (int i = 0; i < 8; i++)
		nonce[TRANSPORT_STREAM_HEADER - 1 - i] ^=
		    (unsigned char)(s->seq >> (8 * i));
}

/* The cipher context of s with its key; 0 or -1. */
static int stream_cipher(struct stream *s, const unsigned char *key, int enc, char *err,
			 size_t size)
{
	s->ctx = EVP_CIPHER_CTX_new();
	if (!s->ctx ||
	    !EVP_CipherInit_ex(s->ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) ||
	    !EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_SET_IVLEN, TRANSPORT_STREAM_HEADER,
				 NULL) ||
	    !EVP_CipherInit_ex(s->ctx, NULL, NULL, key, NULL, enc)) {
		snprintf(err, size, "stream: AES-256-GCM cannot start (libcrypto)");
		stream_end(s);
		return -1;
	}
	return 0;
}

int stream_push_init(struct stream *s, int fd, const unsigned char *key, char *err,
		     size_t size)
{
	memset(s, 0, sizeof *s);
	s->fd = fd;
	randombytes_buf(s->iv, sizeof s->iv);
	if (stream_cipher(s, key, 1, err, size))
		return -1;
	if (io_write(fd, s->iv, sizeof s->iv, "stream header", err, size)) {
		stream_end(s);
		return -1;
	}
	s->wire = sizeof s->iv;
	return 0;
}

int stream_pull_init(struct stream *s, int fd, const unsigned char *key, char *err,
		     size_t size)
{
	memset(s, 0, sizeof *s);
	s->fd = fd;
	if (io_read(fd, s->iv, sizeof s->iv, "stream header", err, size))
		return -1;
	s->wire = sizeof s->iv;
	return stream_cipher(s, key, 0, err, size);
}

void stream_end(struct stream *s)
{
	EVP_CIPHER_CTX_free(s->ctx); /* cleanses the key schedule */
	s->ctx = NULL;
	OPENSSL_cleanse(s->iv, sizeof s->iv);
}

/* Seal len bytes of in (hdr: the frame's header word, already in
 * hdr[0..3]) into out and its tag after it; 0 or -1. */
static int record_seal(struct stream *s, const unsigned char *hdr, const void *in,
		       size_t len, unsigned char *out)
{
	unsigned char nonce[TRANSPORT_STREAM_HEADER];
	int n;

	record_nonce(s, nonce);
	return EVP_EncryptInit_ex(s->ctx, NULL, NULL, NULL, nonce) &&
		       EVP_EncryptUpdate(s->ctx, NULL, &n, hdr, 4) &&
		       EVP_EncryptUpdate(s->ctx, out, &n, in, (int)len) &&
		       EVP_EncryptFinal_ex(s->ctx, out + len, &n) &&
		       EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_GET_TAG, TAG, out + len)
		   ? 0
		   : -1;
}

/* Open the record of len bytes at buf in place with its tag; 0, or -1
 * if it fails authentication (buf then holds no plaintext to use). */
static int record_open(struct stream *s, const unsigned char *hdr, unsigned char *buf,
		       size_t len, unsigned char *tag)
{
	unsigned char nonce[TRANSPORT_STREAM_HEADER];
	int n;

	record_nonce(s, nonce);
	return EVP_DecryptInit_ex(s->ctx, NULL, NULL, NULL, nonce) &&
		       EVP_DecryptUpdate(s->ctx, NULL, &n, hdr, 4) &&
		       EVP_DecryptUpdate(s->ctx, buf, &n, buf, (int)len) &&
		       EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_SET_TAG, TAG, tag) &&
		       EVP_DecryptFinal_ex(s->ctx, buf + len, &n) > 0
		   ? 0
		   : -1;
}

int stream_send(struct stream *s, const void *buf, size_t len, int final, char *err,
		size_t size)
{
	unsigned char *frame;
	size_t n = 4 + len + TAG;
	uint32_t word = (uint32_t)(len + TAG) | (final ? F_FINAL : 0);
	int rc;

	if (s->final || len > TRANSPORT_MSG_MAX || !s->ctx || s->seq == UINT64_MAX) {
		snprintf(err, size, "stream: %s",
			 s->final		   ? "already ended"
			 : len > TRANSPORT_MSG_MAX ? "message too long"
						   : "not started");
		return -1;
	}
	if (!(frame = malloc(n))) {
		snprintf(err, size, "stream: out of memory");
		return -1;
	}
	frame[0] = (unsigned char)(word >> 24);
	frame[1] = (unsigned char)(word >> 16);
	frame[2] = (unsigned char)(word >> 8);
	frame[3] = (unsigned char)word;
	rc = record_seal(s, frame, buf, len, frame + 4);
	if (rc)
		snprintf(err, size, "stream: AES-256-GCM failed to seal a record");
	else
		rc = io_write(s->fd, frame, n, "stream", err, size);
	free(frame);
	if (rc)
		return -1;
	s->seq++;
	s->wire += n;
	s->plain += len;
	s->final = final;
	return 0;
}

int stream_recv(struct stream *s, void *buf, size_t *len, char *err, size_t size)
{
	unsigned char hdr[4], tag[TAG];
	uint32_t word, clen;

	if (s->final || !s->ctx || s->seq == UINT64_MAX) {
		snprintf(err, size, "stream: %s",
			 s->final ? "already ended" : "not started");
		return -1;
	}
	if (io_read(s->fd, hdr, 4, "stream", err, size))
		return -1;
	word = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 |
	       hdr[3];
	clen = word & ~F_FINAL;
	if (clen < TAG || clen > RECORD_MAX) {
		snprintf(err, size, "stream: a frame of %u bytes: not this protocol",
			 clen);
		return -1;
	}
	/* the ciphertext straight into the caller's buffer, opened there */
	if (io_read2(s->fd, buf, clen - TAG, tag, TAG, "stream", err, size))
		return -1;
	if (record_open(s, hdr, buf, clen - TAG, tag)) {
		snprintf(err, size,
			 "stream: a message failed authentication (altered, "
			 "reordered or replayed)");
		return -1;
	}
	s->seq++;
	s->wire += 4 + clen;
	s->plain += clen - TAG;
	*len = clen - TAG;
	s->final = !!(word & F_FINAL);
	return 0;
}

/* Read up to n bytes of fd (fewer only at its end); the count or -1. */
static ssize_t read_chunk(int fd, unsigned char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r == 0)
			break;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int stream_send_file(struct stream *s, int fd, char *err, size_t size)
{
	unsigned char *buf[2];
	ssize_t n[2];
	int cur = 0, rc = -1;

	buf[0] = malloc(TRANSPORT_MSG_MAX);
	buf[1] = malloc(TRANSPORT_MSG_MAX);
	if (!buf[0] || !buf[1]) {
		snprintf(err, size, "stream: out of memory");
		goto out;
	}
	/* one chunk ahead: the last one read is the one sent FINAL */
	n[cur] = read_chunk(fd, buf[cur], TRANSPORT_MSG_MAX);
	for (;;) {
		n[!cur] = 0;
		if (n[cur] == TRANSPORT_MSG_MAX)
			n[!cur] = read_chunk(fd, buf[!cur], TRANSPORT_MSG_MAX);
		if (n[cur] < 0 || n[!cur] < 0) {
			snprintf(err, size, "stream: reading the file: %s",
				 strerror(errno));
			goto out;
		}
		if (stream_send(s, buf[cur], (size_t)n[cur], n[!cur] == 0, err, size))
			goto out;
		if (n[!cur] == 0)
			break;
		cur = !cur;
	}
	rc = 0;
out:
	free(buf[0]);
	free(buf[1]);
	return rc;
}

int stream_recv_file(struct stream *s, int fd, uint64_t limit, char *err, size_t size)
{
	unsigned char *buf = malloc(TRANSPORT_MSG_MAX);
	uint64_t total = 0;
	size_t len;
	int rc = -1;

	if (!buf) {
		snprintf(err, size, "stream: out of memory");
		return -1;
	}
	while (!s->final) {
		if (stream_recv(s, buf, &len, err, size))
			goto out;
		total += len;
		if (total > limit) {
			snprintf(err, size, "stream: more than %llu bytes",
				 (unsigned long long)limit);
			goto out;
		}
		if (len && write(fd, buf, len) != (ssize_t)len) {
			snprintf(err, size, "stream: writing the file: %s",
				 strerror(errno ? errno : ENOSPC));
			goto out;
		}
	}
	rc = 0;
out:
	free(buf);
	return rc;
}
